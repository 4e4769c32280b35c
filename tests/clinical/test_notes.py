"""Clinical notes: a draft until its author signs it; a signed note cannot change through the service,
the API, the Django admin, nor (on PostgreSQL) a raw UPDATE or DELETE, which a trigger refuses, while
re-encryption under a new key still passes; corrections are signed addenda linked to the note; drafts
are private to their author; templates per department."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError
from django.urls import reverse

from phb.clinical import selectors, services
from phb.clinical.models import ClinicalNote, NoteKind, NoteStatus, NoteTemplate
from phb.kernel import crypto, events, tenancy
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.organizations import services as organization_services
from tests.accounts.factories import UserFactory, verified_client
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(org_a):
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    return {
        "department": department,
        "doctor": doctor,
        "colleague": clinician(org_a, "doctor", department=department),
        "patient": patient,
        "encounter": walk_in(doctor, patient, department),
    }


def draft(visit, **sections):
    return services.note_create(
        ctx=visit["doctor"],
        patient_id=visit["patient"].id,
        encounter_id=visit["encounter"].id,
        **({"subjective": "cough for two weeks", "plan": "chest X-ray"} | sections),
    )


def signed(visit):
    note = draft(visit)
    return services.note_sign(ctx=visit["doctor"], note_id=note.id)


def stored(note):
    return ClinicalNote.objects.for_system(Ctx.system(reason="test")).get(id=note.id)


def test_a_draft_is_edited_then_signed_by_its_author(visit):
    note = draft(visit)
    assert note.status == NoteStatus.DRAFT
    services.note_update(ctx=visit["doctor"], note_id=note.id, assessment="probable bronchitis")
    done = services.note_sign(ctx=visit["doctor"], note_id=note.id)
    assert done.status == NoteStatus.SIGNED
    assert done.signed_at is not None
    note = stored(note)
    assert (note.subjective, note.assessment, note.plan) == (
        "cough for two weeks",
        "probable bronchitis",
        "chest X-ray",
    )
    assert events.dispatch_due()["parked"] == 0


def test_the_content_is_encrypted_at_rest(visit):
    note = draft(visit)
    with tenancy.bound(organization_id=note.organization_id), connection.cursor() as cursor:
        pk = ClinicalNote._meta.pk.get_db_prep_value(note.id, connection)
        cursor.execute("SELECT subjective FROM clinical_clinicalnote WHERE id = %s", [pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("phb1:")
    assert "cough" not in raw


def test_only_the_author_signs_or_edits_a_draft_which_others_do_not_see(visit):
    note = draft(visit)
    with pytest.raises(NotFound):
        services.note_sign(ctx=visit["colleague"], note_id=note.id)
    with pytest.raises(NotFound):
        services.note_update(ctx=visit["colleague"], note_id=note.id, plan="something else")
    with pytest.raises(NotFound):
        selectors.note_get(ctx=visit["colleague"], note_id=note.id)
    assert selectors.note_list(ctx=visit["colleague"], patient_id=visit["patient"].id) == []
    assert [n.id for n in selectors.note_list(ctx=visit["doctor"], patient_id=visit["patient"].id)] == [note.id]
    services.note_sign(ctx=visit["doctor"], note_id=note.id)
    assert [n.id for n in selectors.note_list(ctx=visit["colleague"], patient_id=visit["patient"].id)] == [note.id]


def test_an_empty_note_cannot_be_signed(visit):
    note = services.note_create(ctx=visit["doctor"], patient_id=visit["patient"].id)
    with pytest.raises(ValidationFailed) as caught:
        services.note_sign(ctx=visit["doctor"], note_id=note.id)
    assert caught.value.extra["errors"][0]["code"] == "note_empty"


def test_a_signed_note_cannot_change_through_the_service(visit):
    note = signed(visit)
    with pytest.raises(Conflict) as caught:
        services.note_update(ctx=visit["doctor"], note_id=note.id, plan="no X-ray after all")
    assert caught.value.code == "NOTE_SIGNED"
    with pytest.raises(Conflict):
        services.note_sign(ctx=visit["doctor"], note_id=note.id)
    assert stored(note).plan == "chest X-ray"


def test_addenda_are_signed_and_linked_to_the_note(visit):
    note = signed(visit)
    first = services.note_addendum_add(ctx=visit["colleague"], note_id=note.id, text="X-ray clear, reviewed")
    assert first.kind == NoteKind.ADDENDUM
    assert first.status == NoteStatus.SIGNED
    assert first.signed_at is not None
    assert first.amends_id == note.id
    assert first.author_id == visit["colleague"].actor_id
    second = services.note_addendum_add(ctx=visit["doctor"], note_id=first.id, text="Correction: left lower zone")
    assert second.amends_id == note.id  # an addendum of an addendum amends the note itself
    (listed,) = selectors.note_list(ctx=visit["doctor"], patient_id=visit["patient"].id)
    assert [a.text for a in listed.addenda_list] == ["X-ray clear, reviewed", "Correction: left lower zone"]
    assert stored(note).plan == "chest X-ray"  # the note itself is untouched
    with pytest.raises(Conflict) as caught:
        services.note_addendum_add(ctx=visit["doctor"], note_id=draft(visit).id, text="too early")
    assert caught.value.code == "NOTE_NOT_SIGNED"
    with pytest.raises(ValidationFailed):
        services.note_addendum_add(ctx=visit["doctor"], note_id=note.id, text="  ")


def test_notes_need_a_clinical_role_a_care_relationship_and_good_input(org_a, org_b, visit):
    from tests.scheduling.factories import desk_ctx

    with pytest.raises(Forbidden):
        services.note_create(ctx=desk_ctx(org_a), patient_id=visit["patient"].id, text="x")
    stranger = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    with pytest.raises(NotFound):
        services.note_create(ctx=stranger, patient_id=visit["patient"].id, text="x")
    with pytest.raises(NotFound):
        services.note_create(ctx=clinician(org_b, "doctor"), patient_id=visit["patient"].id, text="x")
    with pytest.raises(ValidationFailed):
        services.note_create(ctx=visit["doctor"], patient_id=visit["patient"].id, kind="addendum", text="x")
    with pytest.raises(ValidationFailed) as caught:
        services.note_create(ctx=visit["doctor"], patient_id=visit["patient"].id, text="x" * 20_001)
    assert caught.value.extra["errors"][0]["code"] == "too_long"
    note = signed(visit)
    with pytest.raises(NotFound):
        selectors.note_get(ctx=clinician(org_b, "doctor"), note_id=note.id)


# --- the Django admin ---------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(db):
    return verified_client(UserFactory(is_staff=True, is_superuser=True, is_platform_operator=True))


def test_the_admin_shows_a_signed_note_read_only_and_refuses_a_change(visit, superuser_client):
    note = signed(visit)
    url = reverse("admin:clinical_clinicalnote_change", args=[note.id])
    page = superuser_client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert b"cough" not in page.content  # no clinical text in the admin
    refused = superuser_client.post(url, {"status": "draft", "subjective": "rewritten"})
    assert refused.status_code == 403
    assert superuser_client.post(reverse("admin:clinical_clinicalnote_delete", args=[note.id])).status_code == 403
    assert superuser_client.get(reverse("admin:clinical_clinicalnote_add")).status_code == 403
    assert stored(note).subjective == "cough for two weeks"


# --- the database wall (PostgreSQL) ---------------------------------------------------------------------


def _raw(sql, note, *params):
    with tenancy.bound(organization_id=note.organization_id), connection.cursor() as cursor:
        pk = ClinicalNote._meta.pk.get_db_prep_value(note.id, connection)
        cursor.execute(sql, [*params, pk])


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("UPDATE clinical_clinicalnote SET status = 'draft', signed_at = NULL WHERE id = %s", []),
        ("UPDATE clinical_clinicalnote SET subjective = %s WHERE id = %s", ["rewritten"]),
        ("UPDATE clinical_clinicalnote SET subjective = plan WHERE id = %s", []),  # same key, other ciphertext
        ("UPDATE clinical_clinicalnote SET subjective = 'phb1:' || subjective WHERE id = %s", []),
        ("UPDATE clinical_clinicalnote SET author_id = encounter_id WHERE id = %s", []),
        ("DELETE FROM clinical_clinicalnote WHERE id = %s", []),
    ],
)
def test_on_postgresql_a_raw_update_or_delete_of_a_signed_note_is_refused(visit, sql, params):
    note = signed(visit)
    with pytest.raises((InternalError, ProgrammingError), match="signed row"), transaction.atomic():
        _raw(sql, note, *params)
    assert stored(note).status == NoteStatus.SIGNED
    assert stored(note).subjective == "cough for two weeks"


@pytest.mark.postgres
def test_on_postgresql_a_signed_note_resists_the_orm_too_but_a_draft_does_not(visit):
    note = signed(visit)
    note.subjective = "rewritten"
    with pytest.raises((InternalError, ProgrammingError), match="signed row"), transaction.atomic():
        note.save()
    other = draft(visit)
    _raw("UPDATE clinical_clinicalnote SET plan = %s WHERE id = %s", other, crypto.encrypt("changed", context="x"))


@pytest.fixture
def own_ring(tmp_path, settings):
    """A key ring of this test's own, which it may rotate (set up before any row is encrypted)."""
    settings.KEYRING_JSON = ""
    settings.KEYRING_PATH = tmp_path / "keyring.json"
    crypto.reset_keyring()
    yield
    crypto.reset_keyring()


@pytest.mark.postgres
def test_on_postgresql_reencryption_under_a_new_key_still_moves_a_signed_note(own_ring, visit):
    note = signed(visit)
    call_command("keys", "rotate")
    call_command("keys", "reencrypt")
    with tenancy.bound(organization_id=note.organization_id), connection.cursor() as cursor:
        pk = ClinicalNote._meta.pk.get_db_prep_value(note.id, connection)
        cursor.execute("SELECT subjective FROM clinical_clinicalnote WHERE id = %s", [pk])
        assert cursor.fetchone()[0].startswith("phb1:k2:")
    assert stored(note).subjective == "cough for two weeks"


# --- templates ----------------------------------------------------------------------------------------


def test_a_new_organization_gets_the_default_templates_and_a_department_finds_its_own(org_a):
    operator = Ctx.system(reason="test")
    organization = organization_services.organization_create(
        ctx=operator, name="Templates Hospital", kind="hospital", code="templates-hospital"
    )
    events.dispatch_due()
    ctx = Ctx.system(reason="test", organization_id=organization.id)
    seeded = NoteTemplate.objects.for_tenant(ctx)
    assert seeded.count() == len(services.default_templates())
    assert services.note_templates_seed(ctx=ctx) == 0  # idempotent
    paediatrics = DepartmentFactory(organization=organization, kind="paediatrics")
    doctor = clinician(organization, "doctor", department=paediatrics)
    found = selectors.note_template_list(ctx=doctor, department_id=paediatrics.id)
    assert found[0].name == "Paediatric consultation"
    assert found[-1].name == "General consultation"
    assert all(t.department_kind in ("paediatrics", "") for t in found)
    own = NoteTemplate.objects.create(
        organization=organization, name="Neonatal review", department=paediatrics, sections={"subjective": "feeds"}
    )
    assert selectors.note_template_list(ctx=doctor, department_id=paediatrics.id)[0].id == own.id
    note = services.note_create(
        ctx=doctor,
        patient_id=walk_in(doctor, patient_at(organization, years=1), paediatrics).patient_id,
        template_id=own.id,
        subjective="feeding well",
    )
    assert note.template_id == own.id


def test_a_refused_change_of_someone_elses_draft_stays_in_the_audit_trail(visit):
    """The refusal is raised inside the service's transaction; its audit row must outlive the rollback."""
    note = draft(visit)
    for change in (services.note_sign, lambda **kw: services.note_update(plan="x", **kw)):
        with pytest.raises(NotFound):
            change(ctx=visit["colleague"], note_id=note.id)
    refused = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(
        actor_id=visit["colleague"].actor_id,
        outcome="denied",
        action__in=["clinical.note.sign", "clinical.note.update"],
    )
    assert sorted(refused.values_list("action", flat=True)) == ["clinical.note.sign", "clinical.note.update"]
