"""The registry API, staff and patients: each route's happy path, its bad inputs (problem details with
stable codes, never a 500) and its cross-organization denials."""

import datetime as dt

import pytest

from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.patients.models import Patient, PatientRegistration
from tests.accounts.factories import UserFactory, verified_client
from tests.patients.factories import demographics

pytestmark = pytest.mark.django_db

API = "/api/v1"


def walk_in(client, **fields):
    body = {**demographics(), **fields}
    body["birth_date"] = body["birth_date"].isoformat() if body.get("birth_date") else None
    return client.post(f"{API}/patients/", body, format="json")


@pytest.fixture
def reception_a(member_client, org_a):
    return member_client(org_a, "receptionist")


@pytest.fixture
def registered(reception_a):
    response = walk_in(
        reception_a, given_name="Ngozi", family_name="Okonkwo", birth_date=dt.date(1988, 2, 14), sex="female"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_walk_in_is_created_registered_and_found(reception_a, registered):
    assert registered["registration"]["status"] == "approved"
    assert registered["registration"]["mrn"] == "00000001"
    found = reception_a.post(f"{API}/patients/search/", {"q": "ngozi okonkwo"}, format="json").json()
    assert [f["patient"]["id"] for f in found] == [registered["patient"]["id"]]
    record = reception_a.get(f"{API}/patients/{registered['patient']['id']}/").json()
    assert record["hpn"] == registered["patient"]["hpn"]


def test_a_near_identical_walk_in_gets_the_duplicate_warning_then_is_created_when_confirmed(reception_a, registered):
    again = {
        "given_name": "Ngozie",
        "family_name": "Okonkwo",
        "birth_date": dt.date(1988, 2, 14),
        "phone": "",
        "sex": "female",
    }
    warned = walk_in(reception_a, **again)
    assert warned.status_code == 409
    body = warned.json()
    assert body["code"] == "POSSIBLE_DUPLICATE"
    assert body["candidates"][0]["id"] == registered["patient"]["id"]
    assert body["candidates"][0]["registered_here"] is True
    assert Patient.objects.count() == 1
    created = walk_in(reception_a, confirmed_distinct=True, **again)
    assert created.status_code == 201
    queue = reception_a.get(f"{API}/duplicates/")
    assert queue.status_code == 403  # the review queue is for records officers and administrators


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"phone": "0803-not-a-number"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"given_name": ""}, "given_name"),
        ({"sex": "robot"}, "sex"),
        ({"estimated_age_years": 300, "birth_date": None}, "estimated_age_years"),
    ],
)
def test_bad_demographics_are_problems_naming_the_field(reception_a, fields, field):
    body = {**demographics(), **fields}
    if isinstance(body.get("birth_date"), dt.date):
        body["birth_date"] = body["birth_date"].isoformat()
    response = reception_a.post(f"{API}/patients/", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("criteria", "field"),
    [({"hpn": "12345678901"}, "hpn"), ({"q": "x"}, "q"), ({}, "q"), ({"birth_date": "yesterday"}, "birth_date")],
)
def test_bad_search_input_is_a_problem(reception_a, criteria, field):
    response = reception_a.post(f"{API}/patients/search/", criteria, format="json")
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}


def test_staff_of_another_organization_cannot_find_open_edit_or_register_the_patient(member_client, org_b, registered):
    patient_id = registered["patient"]["id"]
    other = member_client(org_b, "receptionist")
    assert other.post(f"{API}/patients/search/", {"q": "ngozi okonkwo"}, format="json").json() == []
    assert other.post(f"{API}/patients/search/", {"hpn": registered["patient"]["hpn"]}, format="json").json() == []
    assert other.get(f"{API}/patients/{patient_id}/").status_code == 404
    assert other.patch(f"{API}/patients/{patient_id}/", {"occupation": "x"}, format="json").status_code == 404
    wrong_proof = other.post(f"{API}/patients/{patient_id}/registrations/", {"birth_date": "1988-02-15"}, format="json")
    assert wrong_proof.status_code == 400
    assert wrong_proof.json()["code"] == "PROOF_MISMATCH"
    assert other.post(f"{API}/patients/{patient_id}/registrations/", {"hpn": "123"}, format="json").status_code == 400
    proven = other.post(
        f"{API}/patients/{patient_id}/registrations/", {"hpn": registered["patient"]["hpn"]}, format="json"
    )
    assert proven.status_code == 201  # the patient stood at B's desk with their HPN
    assert other.get(f"{API}/patients/{patient_id}/").status_code == 200


def test_reception_corrects_demographics_and_the_audit_names_the_fields_only(reception_a, registered, org_a):
    patient_id = registered["patient"]["id"]
    response = reception_a.patch(f"{API}/patients/{patient_id}/", {"occupation": "Teacher"}, format="json")
    assert response.status_code == 200
    assert response.json()["occupation"] == "Teacher"
    event = AuditEvent.objects.for_tenant(Ctx.system(reason="t", organization_id=org_a.id)).get(
        action="patients.patient.update"
    )
    assert event.detail == {"fields": ["occupation"]}
    bad = reception_a.patch(f"{API}/patients/{patient_id}/", {"birth_date": "2999-01-01"}, format="json")
    assert bad.status_code == 400


def test_a_cashier_cannot_edit_demographics(member_client, org_a, registered):
    cashier = member_client(org_a, "cashier")
    response = cashier.patch(f"{API}/patients/{registered['patient']['id']}/", {"occupation": "x"}, format="json")
    assert response.status_code == 403


def test_merge_and_undo_through_the_api(member_client, org_a, org_b, reception_a, registered):
    again = {
        "given_name": "Ngozie",
        "family_name": "Okonkwo",
        "birth_date": dt.date(1988, 2, 14),
        "phone": "",
        "sex": "female",
    }
    duplicate = walk_in(reception_a, confirmed_distinct=True, **again).json()
    officer = member_client(org_a, "medical_records_officer")
    (pair,) = officer.get(f"{API}/duplicates/").json()
    assert {pair["patient"]["id"], pair["other"]["id"]} == {registered["patient"]["id"], duplicate["patient"]["id"]}

    itself = {"survivor_id": registered["patient"]["id"], "merged_id": registered["patient"]["id"]}
    assert officer.post(f"{API}/merges/", itself, format="json").json()["code"] == "MERGE_SAME_RECORD"
    ids = {"survivor_id": registered["patient"]["id"], "merged_id": duplicate["patient"]["id"]}
    outsider = member_client(org_b, "medical_records_officer")
    assert outsider.post(f"{API}/merges/", ids, format="json").status_code == 404
    done = officer.post(f"{API}/merges/", ids, format="json")
    assert done.status_code == 201
    assert officer.post(f"{API}/merges/", ids, format="json").json()["code"] == "MERGE_PENDING"
    assert officer.get(f"{API}/duplicates/").json() == []
    merge_id = done.json()["id"]
    assert outsider.post(f"{API}/merges/{merge_id}/undo/").status_code == 404
    assert officer.post(f"{API}/merges/{merge_id}/undo/").status_code == 200
    assert officer.post(f"{API}/merges/{merge_id}/undo/").json()["code"] == "MERGE_ALREADY_UNDONE"
    (pair,) = officer.get(f"{API}/duplicates/").json()
    assert officer.post(f"{API}/duplicates/{pair['id']}/dismiss/").status_code == 204
    assert officer.post(f"{API}/duplicates/not-an-id/dismiss/").status_code == 404


# --- the patient's side ------------------------------------------------------------------------------


@pytest.fixture
def patient_user():
    return UserFactory()


def test_a_patient_onboards_asks_a_hospital_and_the_administrator_approves(patient_user, member_client, org_a, org_b):
    me = verified_client(patient_user)
    assert me.get(f"{API}/me/patient/").status_code == 404  # no record yet
    directory = me.get(f"{API}/directory/organizations/").json()
    assert {o["id"] for o in directory} >= {str(org_a.id), str(org_b.id)}
    onboarding = {
        "given_name": "Halima",
        "family_name": "Abdullahi",
        "birth_date": "1995-09-30",
        "sex": "female",
        "phone": "+234 806 000 1122",
        "preferences": {"contact_by": "sms", "accepts_blood_transfusion": True},
        "history": {"allergies": ["penicillin"], "conditions": ["asthma"]},
        "emergency_contact": {"name": "Musa Abdullahi", "relationship": "brother", "phone": "+2348060001123"},
        "primary_organization_id": str(org_a.id),
    }
    response = me.post(f"{API}/me/onboarding/", onboarding, format="json")
    assert response.status_code == 201, response.json()
    profile = me.get(f"{API}/me/patient/").json()
    assert profile["onboarded_at"] is not None
    assert profile["history_overview"] == {"allergies": ["penicillin"], "conditions": ["asthma"]}
    assert me.post(f"{API}/me/onboarding/", onboarding, format="json").json()["code"] == "ONBOARDING_DONE"

    (mine,) = me.get(f"{API}/me/registrations/").json()
    assert (mine["organization_id"], mine["status"], mine["is_primary"]) == (str(org_a.id), "pending", True)
    second = me.post(f"{API}/me/registrations/", {"organization_id": str(org_b.id)}, format="json")
    assert second.status_code == 201
    assert me.post(f"{API}/me/registrations/", {"organization_id": str(org_b.id)}, format="json").status_code == 409
    assert me.post(f"{API}/me/registrations/{second.json()['id']}/primary/").status_code == 204
    primary = {r["organization_id"] for r in me.get(f"{API}/me/registrations/").json() if r["is_primary"]}
    assert primary == {str(org_b.id)}

    admin_b = member_client(org_b, "hospital_admin")
    admin_a = member_client(org_a, "hospital_admin")
    (pending,) = admin_b.get(f"{API}/registrations/pending/").json()
    assert pending["patient"]["family_name"] == "Abdullahi"
    assert admin_a.post(f"{API}/registrations/{second.json()['id']}/approve/").status_code == 404  # not A's
    rejected = admin_b.post(f"{API}/registrations/{second.json()['id']}/reject/", {"reason": ""}, format="json")
    assert rejected.status_code == 400  # a rejection needs its reason
    approved = admin_b.post(f"{API}/registrations/{second.json()['id']}/approve/")
    assert approved.json()["status"] == "approved"
    assert admin_b.post(f"{API}/registrations/{second.json()['id']}/approve/").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preferences": {"favourite_colour": "blue"}}, "preferences.favourite_colour"),
        ({"preferences": {"contact_by": "pigeon"}}, "preferences.contact_by"),
        ({"emergency_contact": {"name": "A", "relationship": "sister", "phone": "123"}}, "emergency_contact.phone"),
        ({"primary_organization_id": "01939c6e-0000-7000-8000-000000000000"}, "primary_organization_id"),
        ({"given_name": ""}, "given_name"),
    ],
)
def test_bad_onboarding_is_refused_and_nothing_is_written(patient_user, body, field):
    me = verified_client(patient_user)
    full = {"given_name": "Halima", "family_name": "Abdullahi", "birth_date": "1995-09-30", **body}
    response = me.post(f"{API}/me/onboarding/", full, format="json")
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Patient.objects.exists()


def test_a_patient_corrects_contact_details_but_not_their_name(patient_user):
    me = verified_client(patient_user)
    me.post(f"{API}/me/onboarding/", {"given_name": "Halima", "family_name": "Abdullahi"}, format="json")
    assert me.patch(f"{API}/me/patient/", {"city": "Kano"}, format="json").json()["city"] == "Kano"
    assert me.patch(f"{API}/me/patient/", {"email": "nope"}, format="json").status_code == 400
    unchanged = me.patch(f"{API}/me/patient/", {"family_name": "Other"}, format="json")
    assert unchanged.json()["family_name"] == "Abdullahi"  # not a profile field: ignored by the serializer


def test_registration_to_an_inactive_organization_is_refused(patient_user, org_a):
    from phb.kernel.models import Organization

    me = verified_client(patient_user)
    me.post(f"{API}/me/onboarding/", {"given_name": "Halima", "family_name": "Abdullahi"}, format="json")
    Organization.objects.for_platform(Ctx.system(reason="t")).filter(id=org_a.id).update(is_active=False)
    response = me.post(f"{API}/me/registrations/", {"organization_id": str(org_a.id)}, format="json")
    assert response.status_code == 400
    assert not PatientRegistration.objects.for_system(Ctx.system(reason="t")).exists()


def test_reception_keeps_a_photo_and_staff_elsewhere_cannot_see_it(reception_a, member_client, org_b, registered):
    import io

    from PIL import Image

    url = f"{API}/patients/{registered['patient']['id']}/photo/"
    assert reception_a.get(url).status_code == 404  # none yet
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(png, format="PNG")
    put = reception_a.put(
        url, png.getvalue(), content_type="image/png", HTTP_CONTENT_DISPOSITION="attachment; filename=p.png"
    )
    assert put.status_code == 204
    got = reception_a.get(url)
    assert (got.status_code, got["Content-Type"]) == (200, "image/jpeg")
    assert got.content.startswith(b"\xff\xd8")
    bad = reception_a.put(
        url, b"not an image", content_type="image/png", HTTP_CONTENT_DISPOSITION="attachment; filename=p.png"
    )
    assert bad.status_code == 400
    assert member_client(org_b, "receptionist").get(url).status_code == 404


def test_a_second_phone_is_kept_in_international_form_and_a_bad_one_refused(reception_a, registered):
    url = f"{API}/patients/{registered['patient']['id']}/"
    saved = reception_a.patch(url, {"phone_secondary": "+234 803 555 0199"}, format="json")
    assert saved.json()["phone_secondary"] == "+2348035550199"
    bad = reception_a.patch(url, {"phone_secondary": "0803"}, format="json")
    assert bad.status_code == 400
    assert "phone_secondary" in {e["field"] for e in bad.json()["errors"]}
