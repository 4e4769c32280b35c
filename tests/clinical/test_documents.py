"""Documents on a patient's record: stored encrypted under a random key, read back by whoever has a care
relationship (colleagues of the department included), "not found" for anyone else, every upload and
download audited, refusals storing nothing, and no file outliving a row that was never written."""

import hashlib
import io
import uuid

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from phb.clinical import documents
from phb.clinical.models import ClinicalDocument, DocumentSource, DocumentStatus
from phb.kernel import audit, crypto, tenancy
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from tests.accounts.factories import UserFactory
from tests.clinical import document_samples as samples
from tests.clinical.document_samples import store, stored_files  # noqa: F401  (a fixture)
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(org_a, store):  # noqa: F811  (the fixture)
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    encounter = walk_in(doctor, patient, department)
    return {
        "department": department,
        "doctor": doctor,
        "colleague": clinician(org_a, "nurse", department=department),
        "stranger": clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a)),
        "desk": clinician(org_a, "receptionist"),
        "patient": patient,
        "encounter": encounter,
        "store": store,
    }


def upload(ctx, patient, data=None, *, declared_type="application/pdf", filename="referral.pdf", **kwargs):
    return documents.document_store(
        ctx=ctx,
        patient_id=patient.id,
        data=samples.pdf() if data is None else data,
        declared_type=declared_type,
        filename=filename,
        category=kwargs.pop("category", "referral-letter"),
        title=kwargs.pop("title", "Referral from Dr Bello"),
        **kwargs,
    )


def download(ctx, document_id) -> bytes:
    content = documents.document_open(ctx=ctx, document_id=document_id)
    return b"".join(content)


def events(action, **filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action=action, **filters)


def test_store_and_read_back(clinic):
    data = samples.pdf()
    document = upload(
        clinic["doctor"],
        clinic["patient"],
        data,
        filename="../../Referral for Adaeze.pdf",
        description="Cardiology referral",
        encounter_id=clinic["encounter"].id,
    )
    assert document.content_type == "application/pdf"
    assert document.size == len(data)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.filename == "Referral for Adaeze.pdf"
    assert document.source == DocumentSource.STAFF
    assert document.status == DocumentStatus.CURRENT
    assert document.encounter_id == clinic["encounter"].id
    assert download(clinic["doctor"], document.id) == data
    listed = documents.document_list(ctx=clinic["doctor"], patient_id=clinic["patient"].id)
    assert [d.id for d in listed] == [document.id]
    assert documents.key_id(listed[0]) == crypto.keyring().active
    got = documents.document_get(ctx=clinic["doctor"], document_id=document.id)
    assert (got.title, got.description) == ("Referral from Dr Bello", "Cardiology referral")


def test_the_content_and_the_free_text_are_encrypted_at_rest(clinic):
    data = samples.pdf()
    document = upload(clinic["doctor"], clinic["patient"], data, filename="Adaeze Okonkwo.pdf")
    (blob,) = stored_files(clinic["store"])
    at_rest = blob.read_bytes()
    assert samples.SECRET not in at_rest
    assert b"%PDF" not in at_rest
    assert at_rest.startswith(crypto.STREAM_MAGIC)
    # SECURITY: the storage key says nothing about the patient, the title or the file name.
    assert document.storage_key == str(blob.relative_to(clinic["store"]))
    assert str(clinic["patient"].id) not in document.storage_key
    assert "Okonkwo" not in document.storage_key
    assert "referral" not in document.storage_key.lower()
    with tenancy.bound(organization_id=document.organization_id), connection.cursor() as cursor:
        pk = ClinicalDocument._meta.pk.get_db_prep_value(document.id, connection)
        cursor.execute(
            "SELECT title, filename, content_key FROM clinical_clinicaldocument WHERE id = %s",
            [pk],
        )
        row = cursor.fetchone()
    assert all(value.startswith("phb1:") for value in row)
    assert "Okonkwo" not in row[1]
    assert "Referral" not in row[0]


def test_a_file_moved_under_another_document_does_not_decrypt(clinic):
    first = upload(clinic["doctor"], clinic["patient"], samples.pdf(text=b"first"))
    second = upload(clinic["doctor"], clinic["patient"], samples.pdf(text=b"second"))
    location = clinic["store"]
    (location / second.storage_key).write_bytes((location / first.storage_key).read_bytes())
    with pytest.raises(documents.DocumentUnavailable):
        documents.document_open(ctx=clinic["doctor"], document_id=second.id)
    assert events("clinical.document.download", outcome="error", resource_id=str(second.id)).count() == 1


def test_a_missing_file_is_unavailable_not_a_crash(clinic):
    document = upload(clinic["doctor"], clinic["patient"])
    (clinic["store"] / document.storage_key).unlink()
    with pytest.raises(documents.DocumentUnavailable) as caught:
        documents.document_open(ctx=clinic["doctor"], document_id=document.id)
    assert caught.value.code == "DOCUMENT_UNAVAILABLE"


def test_a_colleague_of_the_department_may_read_and_download(clinic):
    data = samples.png()
    document = upload(clinic["doctor"], clinic["patient"], data, declared_type="image/png", filename="wound.png")
    assert download(clinic["colleague"], document.id) == data
    assert [d.id for d in documents.document_list(ctx=clinic["colleague"], patient_id=clinic["patient"].id)] == [
        document.id
    ]


def test_anyone_else_is_answered_not_found_and_the_refusal_is_audited(clinic, org_b):
    document = upload(clinic["doctor"], clinic["patient"])
    foreign = clinician(org_b, "doctor")
    for ctx in (clinic["stranger"], foreign):
        with pytest.raises(NotFound):
            documents.document_open(ctx=ctx, document_id=document.id)
        with pytest.raises(NotFound):
            documents.document_get(ctx=ctx, document_id=document.id)
        with pytest.raises(NotFound):
            documents.document_list(ctx=ctx, patient_id=clinic["patient"].id)
        with pytest.raises(NotFound):
            upload(ctx, clinic["patient"])
        with pytest.raises(NotFound):
            documents.document_mark_entered_in_error(ctx=ctx, document_id=document.id, reason="wrong patient")
        assert events("clinical.document.download", outcome="denied", actor_id=ctx.actor_id).count() == 1
    with pytest.raises(Forbidden):
        documents.document_open(ctx=clinic["desk"], document_id=document.id)
    with pytest.raises(Forbidden):
        upload(clinic["desk"], clinic["patient"])
    assert len(stored_files(clinic["store"])) == 1  # the refused uploads stored nothing


def test_break_the_glass_reads_are_flagged(clinic, org_a):
    from phb.accounts.models import BreakGlassAccess

    document = upload(clinic["doctor"], clinic["patient"])
    stranger = clinic["stranger"]
    BreakGlassAccess.objects.create(
        organization=org_a,
        user_id=stranger.actor_id,
        patient_id=clinic["patient"].id,
        reason="Unconscious in the emergency room",
        expires_at="2999-01-01T00:00:00Z",
    )
    assert download(stranger, document.id) == samples.pdf()
    (event,) = events("clinical.document.download", actor_id=stranger.actor_id, outcome="success")
    assert event.detail["break_glass"] is True


def test_upload_and_download_are_audited_with_ids_and_codes_only(clinic):
    document = upload(clinic["doctor"], clinic["patient"], filename="Adaeze Okonkwo.pdf")
    (uploaded,) = events("clinical.document.upload")
    assert uploaded.outcome == "success"
    assert uploaded.patient_id == clinic["patient"].id
    assert uploaded.resource_id == str(document.id)
    assert uploaded.detail["content_type"] == "application/pdf"
    assert "Okonkwo" not in str(uploaded.detail)
    assert "Referral" not in str(uploaded.detail)
    download(clinic["doctor"], document.id)
    download(clinic["colleague"], document.id)
    downloads = events("clinical.document.download", outcome="success", resource_id=str(document.id))
    assert {e.actor_id for e in downloads} == {clinic["doctor"].actor_id, clinic["colleague"].actor_id}


def test_refusals_store_nothing(clinic):
    cases = [
        (samples.EXE, "application/pdf", "setup.pdf", "unsupported_type"),
        (samples.HTML, "application/pdf", "page.pdf", "unsupported_type"),
        (samples.pdf(), "image/png", "letter.pdf", "content_type_mismatch"),
        (samples.pdf(), "application/pdf", "letter.png", "extension_mismatch"),
        (samples.pdf_encrypted(), "application/pdf", "letter.pdf", "pdf_encrypted"),
        (samples.pdf_with_javascript(), "application/pdf", "letter.pdf", "pdf_active_content"),
        (b"", "application/pdf", "letter.pdf", "empty_file"),
        (samples.pdf(), "application/pdf", "..", "invalid_filename"),
    ]
    for data, declared_type, filename, code in cases:
        with pytest.raises(ValidationFailed) as caught:
            upload(clinic["doctor"], clinic["patient"], data, declared_type=declared_type, filename=filename)
        assert caught.value.extra["errors"][0]["code"] == code
    for kwargs, field in (
        ({"category": "x-ray"}, "category"),
        ({"title": "   "}, "title"),
        ({"description": "x" * 2001}, "description"),
        ({"encounter_id": uuid.uuid4()}, "encounter_id"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            upload(clinic["doctor"], clinic["patient"], **kwargs)
        assert caught.value.extra["errors"][0]["field"] == field
    assert stored_files(clinic["store"]) == []
    assert not ClinicalDocument.objects.for_tenant(clinic["doctor"]).exists()


def test_the_size_limit_comes_from_the_settings(clinic, settings):
    data = samples.pdf()
    settings.DOCUMENT_MAX_BYTES = len(data) - 1
    with pytest.raises(ValidationFailed) as caught:
        upload(clinic["doctor"], clinic["patient"], data)
    assert caught.value.extra["errors"][0]["code"] == "too_large"
    with pytest.raises(ValidationFailed):  # a file object is read no further than the limit
        upload(clinic["doctor"], clinic["patient"], io.BytesIO(data))
    settings.DOCUMENT_MAX_BYTES = len(data)
    assert upload(clinic["doctor"], clinic["patient"], io.BytesIO(data)).size == len(data)


def test_no_file_outlives_a_row_that_failed_to_be_written(clinic, monkeypatch):
    def failing_audit(*args, **kwargs):
        raise RuntimeError("the database refused the write")

    monkeypatch.setattr(audit, "record", failing_audit)  # fails inside the transaction, after the INSERT
    with pytest.raises(RuntimeError):
        upload(clinic["doctor"], clinic["patient"])
    monkeypatch.undo()
    assert stored_files(clinic["store"]) == []
    assert not ClinicalDocument.objects.for_tenant(clinic["doctor"]).exists()


def test_a_file_left_by_an_outer_rollback_cannot_be_read_and_is_swept(clinic):
    from django.utils import timezone

    kept = upload(clinic["doctor"], clinic["patient"])
    with pytest.raises(RuntimeError), transaction.atomic():
        upload(clinic["doctor"], clinic["patient"])  # a caller's transaction, which then fails
        raise RuntimeError("the caller's own write failed")
    assert len(stored_files(clinic["store"])) == 2
    assert documents.documents_sweep_orphans() == 0  # too young: it could belong to a transaction in flight
    later = timezone.now() + documents.ORPHAN_GRACE + documents.ORPHAN_GRACE
    assert documents.documents_sweep_orphans(now=later) == 1
    assert [str(p.relative_to(clinic["store"])) for p in stored_files(clinic["store"])] == [kept.storage_key]
    assert download(clinic["doctor"], kept.id) == samples.pdf()
    assert events("clinical.document.sweep_orphans").get().detail == {"deleted": 1}


def test_entered_in_error(clinic):
    document = upload(clinic["doctor"], clinic["patient"])
    with pytest.raises(ValidationFailed):
        documents.document_mark_entered_in_error(ctx=clinic["colleague"], document_id=document.id, reason=" ")
    marked = documents.document_mark_entered_in_error(
        ctx=clinic["colleague"], document_id=document.id, reason="Another patient's letter"
    )
    assert marked.status == DocumentStatus.ENTERED_IN_ERROR
    assert marked.entered_in_error_by_id == clinic["colleague"].actor_id
    with pytest.raises(Conflict) as caught:
        documents.document_mark_entered_in_error(ctx=clinic["doctor"], document_id=document.id, reason="again")
    assert caught.value.code == "DOCUMENT_ENTERED_IN_ERROR"
    assert documents.document_list(ctx=clinic["doctor"], patient_id=clinic["patient"].id) == []
    everything = documents.document_list(
        ctx=clinic["doctor"], patient_id=clinic["patient"].id, include_entered_in_error=True
    )
    assert [d.entered_in_error_reason for d in everything] == ["Another patient's letter"]
    assert download(clinic["doctor"], document.id) == samples.pdf()  # still there for review
    assert events("clinical.document.entered_in_error").count() == 1
    with pytest.raises(NotFound):  # asked from another patient's page
        documents.document_mark_entered_in_error(
            ctx=clinic["doctor"], document_id=document.id, reason="x", patient_id=uuid.uuid4()
        )


def test_the_patient_may_add_a_photo_of_their_own(clinic, org_a):
    user = UserFactory()
    patient = make_patient(user=user)
    register_at_desk(desk_ctx(org_a), patient)
    me = Ctx(actor_id=user.id).as_patient_at(org_a.id)
    photo = upload(
        me, patient, samples.jpeg(), declared_type="image/jpeg", filename="rash.jpg", category="photo", title="Rash"
    )
    assert photo.source == DocumentSource.PATIENT
    assert photo.uploaded_by_id == user.id
    with pytest.raises(NotFound):  # nobody else's record
        upload(me, clinic["patient"], samples.jpeg(), declared_type="image/jpeg", filename="a.jpg")
    with pytest.raises(NotFound):  # and only where they are registered
        upload(Ctx(actor_id=user.id).as_patient_at(uuid.uuid4()), patient, samples.jpeg(), filename="a.jpg")


@pytest.fixture
def own_ring(settings, tmp_path):
    """A key ring of this test's own, in place before any row is written."""
    settings.KEYRING_JSON = ""
    settings.KEYRING_PATH = tmp_path / "keyring.json"
    crypto.reset_keyring()
    yield
    crypto.reset_keyring()


def test_key_rotation_moves_the_data_key_and_leaves_the_file(own_ring, clinic):
    data = samples.pdf()
    document = upload(clinic["doctor"], clinic["patient"], data)
    (blob,) = stored_files(clinic["store"])
    before = blob.read_bytes()
    call_command("keys", "rotate")
    call_command("keys", "reencrypt")
    (listed,) = documents.document_list(ctx=clinic["doctor"], patient_id=clinic["patient"].id)
    assert documents.key_id(listed) == "k2"
    assert blob.read_bytes() == before
    assert download(clinic["doctor"], document.id) == data
    call_command("keys", "retire", "k1")
    assert download(clinic["doctor"], document.id) == data


@pytest.mark.postgres
def test_row_level_security_hides_another_organizations_documents(clinic, org_b):
    document = upload(clinic["doctor"], clinic["patient"])
    with tenancy.bound(organization_id=org_b.id), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clinical_clinicaldocument")
        assert cursor.fetchone()[0] == 0
    with tenancy.bound(organization_id=document.organization_id), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM clinical_clinicaldocument")
        assert cursor.fetchone()[0] == 1
