"""The organization administrator's pages: registrations to decide, possible duplicates (compare,
merge, not the same person) and recent merges with undo."""

import datetime as dt

import pytest
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.patients import portal, services
from phb.patients.models import DuplicateCandidate, Patient, PatientMerge, PatientRegistration
from tests.accounts.factories import UserFactory
from tests.patients.factories import demographics, make_patient
from tests.patients.test_mpi import staff
from tests.patients.test_reception_pages import web

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture
def pending(org_a):
    """A patient who asked from the portal to be registered at hospital A."""
    user = UserFactory()
    make_patient(user=user)
    return portal.registration_request(ctx=Ctx(actor_id=user.id), organization_id=org_a.id)


def registration(pending):
    return PatientRegistration.objects.for_system(SYSTEM).get(id=pending.id)


def test_the_administrator_approves_a_pending_registration(org_a, pending):
    admin = web(org_a, "hospital_admin")
    page = admin.get("/staff/patients/registrations/")
    assert page.status_code == 200
    assert pending.patient.family_name.encode() in page.content
    response = admin.post(f"/staff/patients/registrations/{pending.id}/decide/", {"decision": "approve"})
    assert response.status_code == 302
    assert registration(pending).status == "approved"
    assert b"No registration waits" in admin.get("/staff/patients/registrations/").content


def test_a_rejection_needs_a_reason(org_a, pending):
    admin = web(org_a, "hospital_admin")
    url = f"/staff/patients/registrations/{pending.id}/decide/"
    refused = admin.post(url, {"decision": "reject", "reason": "  "})
    assert refused.status_code == 400
    assert b"say why the registration is rejected" in refused.content
    assert registration(pending).status == "pending"
    assert admin.post(url, {"decision": "maybe"}).status_code == 400
    assert admin.post(url, {"decision": "reject", "reason": "Not in our catchment area"}).status_code == 302
    decided = registration(pending)
    assert (decided.status, decided.rejection_reason) == ("rejected", "Not in our catchment area")
    again = admin.post(url, {"decision": "approve"}, follow=True)  # already decided: said, not a 500
    assert again.status_code == 200
    assert b"already decided" in again.content


def test_registrations_are_for_the_administrator_of_that_organization(org_a, org_b, pending):
    url = f"/staff/patients/registrations/{pending.id}/decide/"
    assert web(org_a, "receptionist").get("/staff/patients/registrations/").status_code == 403
    assert web(org_a, "receptionist").post(url, {"decision": "approve"}).status_code == 403
    assert web(org_b, "hospital_admin").post(url, {"decision": "approve"}).status_code == 404
    assert registration(pending).status == "pending"


@pytest.fixture
def pair(org_a):
    desk = staff(org_a, "receptionist")
    first = services.walk_in_register(ctx=desk, **demographics(phone="")).patient
    second = services.walk_in_register(
        ctx=desk,
        confirmed_distinct=True,
        given_name=first.given_name + "h",
        family_name=first.family_name,
        birth_date=first.birth_date,
        sex=first.sex,
    ).patient
    return first, second, DuplicateCandidate.objects.for_tenant(desk).get()


def test_the_duplicates_queue_compares_and_merges_then_the_merge_is_undone(org_a, pair):
    first, second, candidate = pair
    officer = web(org_a, "medical_records_officer")
    queue = officer.get("/staff/patients/duplicates/")
    assert queue.status_code == 200
    assert f"/staff/patients/duplicates/{candidate.id}/".encode() in queue.content
    compare = officer.get(f"/staff/patients/duplicates/{candidate.id}/")
    assert compare.status_code == 200
    html = compare.content.decode()
    assert first.hpn[:4] in html
    assert second.hpn[:4] in html
    assert first.birth_date.isoformat() in html
    merged = officer.post(f"/staff/patients/duplicates/{candidate.id}/merge/", {"survivor": str(first.id)})
    assert merged.status_code == 302
    assert merged["Location"] == "/staff/patients/merges/"
    assert Patient.objects.get(id=second.id).merged_into_id == first.id
    merges = officer.get("/staff/patients/merges/")
    merge = PatientMerge.objects.get()
    assert f"/staff/patients/merges/{merge.id}/undo/".encode() in merges.content
    assert officer.post(f"/staff/patients/merges/{merge.id}/undo/").status_code == 302
    assert Patient.objects.get(id=second.id).merged_into_id is None
    assert b"Undone" in officer.get("/staff/patients/merges/").content
    again = officer.post(f"/staff/patients/merges/{merge.id}/undo/", follow=True)
    assert b"already undone" in again.content


def test_an_expired_merge_has_no_undo_button(org_a, pair):
    first, second, candidate = pair
    officer = web(org_a, "hospital_admin")
    officer.post(f"/staff/patients/duplicates/{candidate.id}/merge/", {"survivor": str(second.id)})
    merge = PatientMerge.objects.get()
    assert merge.survivor_id == second.id
    PatientMerge.objects.filter(id=merge.id).update(undo_until=timezone.now() - dt.timedelta(minutes=1))
    page = officer.get("/staff/patients/merges/")
    assert b"/undo/" not in page.content
    assert b"Final" in page.content
    refused = officer.post(f"/staff/patients/merges/{merge.id}/undo/", follow=True)
    assert b"within 30 days" in refused.content
    assert Patient.objects.get(id=first.id).merged_into_id == second.id


def test_a_pair_marked_as_two_people_leaves_the_queue(org_a, pair):
    _, _, candidate = pair
    officer = web(org_a, "medical_records_officer")
    assert officer.post(f"/staff/patients/duplicates/{candidate.id}/dismiss/").status_code == 302
    assert DuplicateCandidate.objects.for_tenant(staff(org_a)).get().status == "distinct"
    assert b"No possible duplicate" in officer.get("/staff/patients/duplicates/").content
    assert officer.get(f"/staff/patients/duplicates/{candidate.id}/").status_code == 404
    again = officer.post(f"/staff/patients/duplicates/{candidate.id}/dismiss/", follow=True)
    assert b"already reviewed" in again.content


def test_a_merge_needs_a_survivor_of_the_pair(org_a, pair):
    _first, _second, candidate = pair
    officer = web(org_a, "medical_records_officer")
    url = f"/staff/patients/duplicates/{candidate.id}/merge/"
    for survivor in ("", "not-a-uuid", str(make_patient().id)):
        response = officer.post(url, {"survivor": survivor}, follow=True)
        assert response.status_code == 200
        assert b"Choose which record to keep" in response.content
    assert not PatientMerge.objects.exists()


def test_the_duplicates_pages_are_for_that_organization_s_reviewers(org_a, org_b, pair):
    first, _, candidate = pair
    receptionist = web(org_a, "receptionist")
    for url in (
        "/staff/patients/duplicates/",
        f"/staff/patients/duplicates/{candidate.id}/",
        "/staff/patients/merges/",
    ):
        assert receptionist.get(url).status_code == 403
    other = web(org_b, "hospital_admin")
    assert other.get(f"/staff/patients/duplicates/{candidate.id}/").status_code == 404
    merge = other.post(f"/staff/patients/duplicates/{candidate.id}/merge/", {"survivor": str(first.id)})
    assert merge.status_code == 404
    assert other.post(f"/staff/patients/duplicates/{candidate.id}/dismiss/").status_code == 404
    assert not PatientMerge.objects.exists()
    assert b"No possible duplicate" in other.get("/staff/patients/duplicates/").content


def test_a_merge_of_another_organization_cannot_be_undone_here(org_a, org_b, pair):
    first, _, candidate = pair
    web(org_a, "hospital_admin").post(f"/staff/patients/duplicates/{candidate.id}/merge/", {"survivor": str(first.id)})
    merge = PatientMerge.objects.get()
    other = web(org_b, "hospital_admin")
    assert other.post(f"/staff/patients/merges/{merge.id}/undo/").status_code == 404
    assert b"No merge was decided here" in other.get("/staff/patients/merges/").content
    assert PatientMerge.objects.get().undone_at is None


def test_a_pair_with_a_record_not_registered_here_shows_only_its_summary(org_a, org_b):
    elsewhere = services.walk_in_register(ctx=staff(org_b, "receptionist"), **demographics(phone="")).patient
    services.walk_in_register(
        ctx=staff(org_a, "receptionist"),
        confirmed_distinct=True,
        given_name=elsewhere.given_name + "h",
        family_name=elsewhere.family_name,
        birth_date=elsewhere.birth_date,
        sex=elsewhere.sex,
    )
    candidate = DuplicateCandidate.objects.for_tenant(staff(org_a)).get()
    page = web(org_a, "medical_records_officer").get(f"/staff/patients/duplicates/{candidate.id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert elsewhere.hpn not in html
    assert elsewhere.birth_date.isoformat() not in html
    assert "cannot be merged from here" in html
    assert "/merge/" not in html
