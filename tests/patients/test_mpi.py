"""The master patient index: phonetic keys, duplicate scoring at create, its measured quality, the
duplicates queue, merge and undo."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from phb.accounts.roles import permissions_for
from phb.demo import population
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.patients import matching, merge, mpi, selectors, services
from phb.patients.models import (
    Consent,
    DuplicateCandidate,
    EmergencyContact,
    Patient,
    PatientMerge,
    PatientRegistration,
)
from tests.accounts.factories import UserFactory
from tests.patients.factories import demographics, make_patient, register_at_desk

pytestmark = pytest.mark.django_db


def staff(org, *roles):
    return Ctx(
        actor_id=UserFactory().id, organization_id=org.id, roles=frozenset(roles), permissions=permissions_for(roles)
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohammed", "Muhammad"),
        ("Chukwuemeka", "Chukwuemeke"),
        ("Aisha", "Ayisha"),
        ("Adébáyọ̀", "Adebayo"),
        ("Ṣeun", "Sheun"),
        ("Philip", "Filip"),
        ("Abubakar", "Abubakarr"),
    ],
)
def test_spelling_variants_share_a_phonetic_key(a, b):
    assert matching.phonetic_key(a) == matching.phonetic_key(b)


@pytest.mark.parametrize(("a", "b"), [("Adebayo", "Adeniyi"), ("Ngozi", "Nkechi"), ("Emeka", "Obinna")])
def test_different_names_have_different_keys(a, b):
    assert matching.phonetic_key(a) != matching.phonetic_key(b)


def test_the_scorer_sees_swapped_names_and_swapped_day_and_month():
    a = matching.Demographics("Adaeze", "Nwankwo", birth_date=dt.date(1990, 5, 7), sex="female")
    swapped = matching.Demographics("Nwankwo", "Adaeze", birth_date=dt.date(1990, 7, 5), sex="female")
    assert matching.score(a, swapped).band == "possible"
    twin = matching.Demographics("Chiamaka", "Nwankwo", birth_date=dt.date(1990, 5, 7), sex="female")
    assert matching.score(a, twin).band == "none"  # a twin sister: same surname and birthday


def test_the_matcher_reaches_its_precision_and_recall_on_a_generated_population():
    """Through the real path (blocking queries, then scoring): 800 people on record, 200 of them
    recorded again with typos, swaps and missing fields, and 200 new people who are not on record."""
    on_record = population.people(800, seed=5)
    ctx = Ctx.system(reason="test")
    ids = {}
    for person in on_record:
        ids[person.key] = services.patient_create(ctx=ctx, confirmed_distinct=True, **_fields(person)).id
    rng = random.Random(1)
    again = [population.recorded_again(p, seed=i) for i, p in enumerate(rng.sample(on_record, 200))]
    newcomers = population.people(1000, seed=77)[800:]

    true_positive = false_positive = false_negative = 0
    for person in again:
        found = {m.patient.id for m in mpi.find_matches(_demographics(person))}
        true_positive += ids[person.key] in found
        false_negative += ids[person.key] not in found
        false_positive += len(found - {ids[person.key]})
    for person in newcomers:
        false_positive += len(mpi.find_matches(_demographics(person)))
    precision = true_positive / (true_positive + false_positive)
    recall = true_positive / (true_positive + false_negative)
    print(f"master patient index: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98
    assert recall >= 0.90


def _fields(person):
    return {
        "given_name": person.given_name.strip(),
        "family_name": person.family_name.strip(),
        "other_names": person.other_names,
        "birth_date": person.birth_date,
        "birth_date_estimated": person.birth_date_estimated,
        "sex": person.sex,
        "phone": person.phone,
    }


def _demographics(person):
    return matching.Demographics(**_fields(person))


# --- at create ---------------------------------------------------------------------------------------


def test_a_possible_duplicate_is_shown_and_created_only_when_confirmed(org_a):
    desk = staff(org_a, "receptionist")
    first = services.walk_in_register(ctx=desk, **demographics(phone=""))
    patient = first.patient
    typo = {
        "given_name": patient.given_name[:-1] + "x",
        "family_name": patient.family_name,
        "birth_date": patient.birth_date,
        "sex": patient.sex,
    }
    with pytest.raises(services.PossibleDuplicate) as info:
        services.walk_in_register(ctx=desk, **typo)
    (candidate,) = info.value.extra["candidates"]
    assert candidate["id"] == str(patient.id)
    assert candidate["registered_here"]
    assert candidate["hpn_last4"] == patient.hpn[-4:]
    assert Patient.objects.count() == 1  # nothing written

    second = services.walk_in_register(ctx=desk, confirmed_distinct=True, **typo)
    queued = DuplicateCandidate.objects.for_tenant(desk).get()
    assert {queued.patient_id, queued.other_id} == {patient.id, second.patient_id}
    assert queued.status == "open"


def test_a_certain_match_is_not_created_twice_even_when_confirmed(org_a):
    desk = staff(org_a, "receptionist")
    fields = demographics(nin="12345678901")
    existing = services.walk_in_register(ctx=desk, **fields).patient
    again = {**fields, "nin": "1234 5678 901", "phone": "", "given_name": fields["given_name"].upper()}
    with pytest.raises(services.PatientExists) as info:
        services.walk_in_register(ctx=desk, confirmed_distinct=True, **again)
    assert info.value.extra["candidates"][0]["id"] == str(existing.id)
    assert info.value.code == "PATIENT_EXISTS"
    assert Patient.objects.count() == 1


def test_a_patient_creating_their_own_record_is_never_shown_other_records():
    existing = make_patient(phone="")
    mine = services.patient_create(
        ctx=Ctx(actor_id=UserFactory().id),
        self_service=True,
        given_name=existing.given_name,
        family_name=existing.family_name,
        birth_date=existing.birth_date,
    )
    assert mine.id != existing.id


def test_showing_a_candidate_is_audited_on_that_patient(org_a):
    desk = staff(org_a, "receptionist")
    patient = services.walk_in_register(ctx=desk, **demographics(phone="")).patient
    with pytest.raises(services.PossibleDuplicate):
        services.walk_in_register(
            ctx=desk,
            given_name=patient.given_name,
            family_name=patient.family_name,
            sex=patient.sex,
            birth_date=patient.birth_date,
        )
    shown = AuditEvent.objects.for_patient(Ctx.system(reason="t"), patient_id=patient.id).filter(
        action="patients.patient.match"
    )
    assert shown.get().actor_id == desk.actor_id


# --- registration proof ------------------------------------------------------------------------------


def test_reception_registers_an_existing_record_only_with_proof(org_a, org_b):
    patient = services.walk_in_register(ctx=staff(org_a, "receptionist"), **demographics()).patient
    desk_b = staff(org_b, "receptionist")
    with pytest.raises(ValidationFailed) as info:
        services.registration_create(ctx=desk_b, patient_id=patient.id, at_desk=True)
    assert info.value.code == "PROOF_MISMATCH"
    with pytest.raises(ValidationFailed):
        services.registration_create(
            ctx=desk_b, patient_id=patient.id, at_desk=True, proof_birth_date=patient.birth_date + dt.timedelta(1)
        )
    assert not PatientRegistration.objects.for_tenant(desk_b).exists()
    registration = services.registration_create(ctx=desk_b, patient_id=patient.id, at_desk=True, proof_hpn=patient.hpn)
    assert registration.status == "approved"


# --- merge -------------------------------------------------------------------------------------------


@pytest.fixture
def pair(org_a, org_b):
    """The same woman registered twice at hospital A; the second record also at hospital B, with an
    emergency contact and a consent."""
    desk = staff(org_a, "receptionist")
    survivor = services.walk_in_register(ctx=desk, **demographics(phone="")).patient
    duplicate = services.walk_in_register(
        ctx=desk,
        confirmed_distinct=True,
        given_name=survivor.given_name + "h",
        family_name=survivor.family_name,
        birth_date=survivor.birth_date,
        sex=survivor.sex,
    ).patient
    register_at_desk(staff(org_b, "receptionist"), duplicate)
    EmergencyContact.objects.create(patient=duplicate, name="Kin", relationship="sister", phone="+2348031234567")
    Consent.objects.create(patient=duplicate, kind="research", version="1", granted_at=timezone.now())
    return survivor, duplicate


def test_a_merge_moves_every_reference_and_leaves_a_redirect(org_a, org_b, pair):
    survivor, duplicate = pair
    officer = staff(org_a, "medical_records_officer")
    assert selectors.duplicates_open(ctx=officer).count() == 1
    done = merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=duplicate.id)

    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == survivor.id
    assert EmergencyContact.objects.get().patient_id == survivor.id
    assert Consent.objects.get().patient_id == survivor.id
    at_b = PatientRegistration.objects.for_tenant(staff(org_b, "receptionist")).get()
    assert at_b.patient_id == survivor.id  # moved: the survivor had no registration at B
    at_a = PatientRegistration.objects.for_tenant(officer).filter(patient_id=duplicate.id)
    assert at_a.exists()  # both were registered at A: the redirect keeps its own
    assert (
        PatientRegistration.objects.for_system(Ctx.system(reason="t"))
        .filter(patient_id=survivor.id, is_primary=True)
        .count()
        == 1
    )
    assert selectors.duplicates_open(ctx=officer).count() == 0
    opened, _ = selectors.patient_open(ctx=officer, patient_id=duplicate.id)
    assert opened.id == survivor.id  # the old record opens the survivor
    assert set(
        AuditEvent.objects.for_tenant(officer)
        .filter(action="patients.patient.merge")
        .values_list("patient_id", flat=True)
    ) == {survivor.id, duplicate.id}
    assert done.undo_until > timezone.now() + dt.timedelta(days=29)


def test_a_merge_is_undone_exactly(org_a, org_b, pair):
    survivor, duplicate = pair
    officer = staff(org_a, "medical_records_officer")
    before = set(
        PatientRegistration.objects.for_system(Ctx.system(reason="t")).values_list("id", "patient_id", "is_primary")
    )
    done = merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=duplicate.id)
    merge.patient_merge_undo(ctx=officer, merge_id=done.id)
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    assert EmergencyContact.objects.get().patient_id == duplicate.id
    assert Consent.objects.get().patient_id == duplicate.id
    after = set(
        PatientRegistration.objects.for_system(Ctx.system(reason="t")).values_list("id", "patient_id", "is_primary")
    )
    assert after == before
    assert selectors.duplicates_open(ctx=officer).count() == 1  # back in the queue
    with pytest.raises(Conflict) as info:
        merge.patient_merge_undo(ctx=officer, merge_id=done.id)
    assert info.value.code == "MERGE_ALREADY_UNDONE"


def test_a_merge_cannot_be_undone_after_thirty_days(org_a, pair):
    survivor, duplicate = pair
    officer = staff(org_a, "medical_records_officer")
    done = merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=duplicate.id)
    PatientMerge.objects.filter(id=done.id).update(undo_until=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Conflict) as info:
        merge.patient_merge_undo(ctx=officer, merge_id=done.id)
    assert info.value.code == "MERGE_UNDO_EXPIRED"


def test_merge_refuses_bad_requests(org_a, org_b, pair):
    survivor, duplicate = pair
    officer = staff(org_a, "medical_records_officer")
    with pytest.raises(ValidationFailed) as info:
        merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=survivor.id)
    assert info.value.code == "MERGE_SAME_RECORD"
    with pytest.raises(Forbidden):
        merge.patient_merge(ctx=staff(org_a, "receptionist"), survivor_id=survivor.id, merged_id=duplicate.id)
    with pytest.raises(NotFound):  # hospital B does not hold the survivor
        merge.patient_merge(
            ctx=staff(org_b, "medical_records_officer"), survivor_id=survivor.id, merged_id=duplicate.id
        )

    third = services.walk_in_register(ctx=staff(org_a, "receptionist"), **demographics()).patient
    merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=duplicate.id)
    with pytest.raises(Conflict) as info:  # the merged record is a redirect now
        merge.patient_merge(ctx=officer, survivor_id=third.id, merged_id=duplicate.id)
    assert info.value.code == "MERGE_PENDING"
    with pytest.raises(Conflict):
        merge.patient_merge(ctx=officer, survivor_id=duplicate.id, merged_id=third.id)


def test_undo_waits_for_a_later_merge_of_the_survivor(org_a, pair):
    survivor, duplicate = pair
    officer = staff(org_a, "medical_records_officer")
    first = merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=duplicate.id)
    third = services.walk_in_register(ctx=staff(org_a, "receptionist"), **demographics()).patient
    merge.patient_merge(ctx=officer, survivor_id=third.id, merged_id=survivor.id)
    with pytest.raises(Conflict) as info:
        merge.patient_merge_undo(ctx=officer, merge_id=first.id)
    assert info.value.code == "MERGE_PENDING"


def test_a_reviewer_dismisses_a_pair_as_two_people(org_a, pair):
    officer = staff(org_a, "medical_records_officer")
    candidate = selectors.duplicates_open(ctx=officer).get()
    merge.duplicate_dismiss(ctx=officer, candidate_id=candidate.id)
    assert selectors.duplicates_open(ctx=officer).count() == 0
    with pytest.raises(Conflict):
        merge.duplicate_dismiss(ctx=officer, candidate_id=candidate.id)


def test_later_apps_move_their_rows_through_a_merge_handler(org_a, pair, monkeypatch):
    survivor, duplicate = pair
    calls = []
    monkeypatch.setattr(merge, "MERGE_HANDLERS", dict(merge.MERGE_HANDLERS))
    merge.register_merge_handler(
        "notes",
        move=lambda s, m: calls.append(("move", s, m)) or ["n1"],
        undo=lambda s, m, r: calls.append(("undo", r)),
    )
    officer = staff(org_a, "medical_records_officer")
    done = merge.patient_merge(ctx=officer, survivor_id=survivor.id, merged_id=duplicate.id)
    merge.patient_merge_undo(ctx=officer, merge_id=done.id)
    assert calls == [("move", survivor.id, duplicate.id), ("undo", ["n1"])]
    with pytest.raises(ValueError, match="already registered"):
        merge.register_merge_handler("notes", move=lambda s, m: None, undo=lambda s, m, r: None)
