"""The patient portal's own pages: onboarding (sent there from the home page), profile, my hospitals."""

import pytest
from django.test import Client
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.patients import portal
from phb.patients.models import EmergencyContact, Patient, PatientRegistration
from tests.accounts.factories import UserFactory
from tests.kernel.factories import OrganizationFactory
from tests.patients.factories import make_patient
from tests.patients.test_reception_pages import web

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def signed_in(user=None):
    client = Client()
    client.force_login(user or UserFactory(email_verified_at=timezone.now()))
    return client


def onboarding_data(org=None, **overrides):
    data = {
        "given_name": "Ifeoma",
        "family_name": "Chukwu",
        "birth_date": "1991-04-12",
        "sex": "female",
        "phone": "+234 803 111 2222",
        "pref_contact_by": "sms",
        "pref_clinician_gender": "female",
        "pref_accepts_blood_transfusion": "no",
        "pref_language": "Igbo",
        "history_allergies": "Penicillin\n\nPeanuts\n",
        "history_conditions": "Asthma",
        "contact_name": "Obinna Chukwu",
        "contact_relationship": "brother",
        "contact_phone": "+234 803 333 4444",
        "contact_is_next_of_kin": "on",
        "primary_organization": str(org.id) if org else "",
    }
    return {**data, **overrides}


@pytest.fixture
def onboarded():
    """A patient who has been through onboarding, registered at hospital A (approved)."""
    user = UserFactory()
    patient = make_patient(user=user)
    Patient.objects.filter(id=patient.id).update(onboarded_at=timezone.now())
    return signed_in(user), patient


def test_a_new_patient_is_sent_to_onboarding_which_creates_their_record(org_a):
    client = signed_in()
    response = client.get("/patient/")
    assert response.status_code == 302
    assert response["Location"] == "/patient/onboarding/"
    page = client.get("/patient/onboarding/")
    assert page.status_code == 200
    html = page.content.decode()
    assert org_a.name in html
    assert 'name="given_name"' in html
    assert '<label for="id_history_allergies">' in html
    done = client.post("/patient/onboarding/", onboarding_data(org_a))
    assert done.status_code == 302
    assert done["Location"] == "/patient/"
    patient = Patient.objects.get(family_name="Chukwu")
    assert patient.onboarded_at is not None
    assert patient.phone == "+2348031112222"
    assert patient.preferences["accepts_blood_transfusion"] is False
    assert patient.preferences["contact_by"] == "sms"
    assert patient.history_overview["allergies"] == ["Penicillin", "Peanuts"]
    contact = EmergencyContact.objects.get(patient=patient)
    assert (contact.name, contact.is_next_of_kin) == ("Obinna Chukwu", True)
    registration = PatientRegistration.objects.for_system(SYSTEM).get(patient=patient)
    assert (registration.organization_id, registration.status, registration.is_primary) == (org_a.id, "pending", True)
    home = client.get("/patient/")
    assert home.status_code == 200
    assert b"Health Point Number" in home.content
    for link in ("/patient/profile/", "/patient/hospitals/", "/patient/export/"):
        assert f'href="{link}"'.encode() in home.content
    assert client.get("/patient/onboarding/").status_code == 302  # done once


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"birth_date": "2999-01-01"}, "in the future"),
        ({"phone": "12345"}, "phone number"),
        ({"contact_phone": "0803"}, "international form"),
        ({"contact_relationship": ""}, "or none of them"),
        ({"given_name": ""}, "required"),
        ({"pref_contact_by": "pigeon"}, "valid choice"),
        ({"primary_organization": "00000000-0000-0000-0000-000000000000"}, "valid choice"),
        ({"history_notes": "x" * 301}, "short texts"),
    ],
)
def test_bad_onboarding_input_is_shown_and_nothing_is_written(org_a, overrides, message):
    client = signed_in()
    response = client.post("/patient/onboarding/", onboarding_data(org_a, **overrides))
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert not Patient.objects.exists()
    assert not EmergencyContact.objects.exists()


def test_a_patient_with_a_record_onboards_without_retyping_their_details(org_a):
    user = UserFactory()
    patient = make_patient(user=user)
    client = signed_in(user)
    assert client.get("/patient/")["Location"] == "/patient/onboarding/"
    page = client.get("/patient/onboarding/")
    assert b'name="given_name"' not in page.content
    assert patient.hpn[:4].encode() in page.content
    data = {k: v for k, v in onboarding_data().items() if k not in ("given_name", "family_name", "birth_date")}
    assert client.post("/patient/onboarding/", data).status_code == 302
    assert Patient.objects.get(id=patient.id).onboarded_at is not None
    assert Patient.objects.count() == 1


def test_staff_are_not_sent_to_onboarding(org_a):
    assert web(org_a, "doctor").get("/patient/").status_code == 200


def test_the_profile_shows_and_edits_contact_details(onboarded):
    client, patient = onboarded
    page = client.get("/patient/profile/")
    assert page.status_code == 200
    assert patient.family_name.encode() in page.content
    data = {f: getattr(patient, f) for f in portal.PROFILE_FIELDS}
    response = client.post("/patient/profile/", {**data, "email": "me@example.org", "city": "Abuja"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.email, patient.city) == ("me@example.org", "Abuja")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"email": "me@"}, "valid email"),
        ({"phone": "+1 23"}, "phone number"),
        ({"marital_status": "x"}, "valid choice"),
    ],
)
def test_bad_profile_input_is_shown_and_not_saved(onboarded, change, message):
    client, patient = onboarded
    data = {f: getattr(patient, f) for f in portal.PROFILE_FIELDS}
    response = client.post("/patient/profile/", {**data, **change})
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    after = Patient.objects.get(id=patient.id)
    assert (after.email, after.phone, after.marital_status) == (patient.email, patient.phone, patient.marital_status)


def test_my_hospitals_lists_requests_another_and_chooses_the_main_one(onboarded, org_a, org_b):
    client, patient = onboarded
    page = client.get("/patient/hospitals/")
    assert page.status_code == 200
    assert b"not registered with any hospital" in page.content
    assert client.post("/patient/hospitals/", {"organization": str(org_a.id)}).status_code == 302
    assert client.post("/patient/hospitals/", {"organization": str(org_b.id)}).status_code == 302
    page = client.get("/patient/hospitals/")
    html = page.content.decode()
    assert org_a.name in html
    assert org_b.name in html
    assert "Waiting for the hospital" in html
    regs = {r.organization_id: r for r in PatientRegistration.objects.for_system(SYSTEM).filter(patient=patient)}
    assert regs[org_a.id].is_primary
    assert not regs[org_b.id].is_primary
    assert client.post(f"/patient/hospitals/{regs[org_b.id].id}/primary/").status_code == 302
    assert PatientRegistration.objects.for_system(SYSTEM).get(id=regs[org_b.id].id).is_primary
    assert b"every hospital and clinic" in client.get("/patient/hospitals/").content


def test_bad_hospital_requests_are_form_errors(onboarded, org_a):
    client, _ = onboarded
    inactive = OrganizationFactory(is_active=False)
    for value in ("", "nope", str(inactive.id)):
        response = client.post("/patient/hospitals/", {"organization": value})
        assert response.status_code == 400
        assert b"valid choice" in response.content or b"required" in response.content


def test_another_patient_s_registration_cannot_be_made_primary(onboarded, org_a):
    client, _ = onboarded
    other = UserFactory()
    make_patient(user=other)
    theirs = portal.registration_request(ctx=Ctx(actor_id=other.id), organization_id=org_a.id)
    assert client.post(f"/patient/hospitals/{theirs.id}/primary/").status_code == 404
    assert client.get(f"/patient/hospitals/{theirs.id}/primary/").status_code == 405


def test_the_portal_pages_need_a_signed_in_patient():
    anonymous = Client()
    for url in ("/patient/onboarding/", "/patient/profile/", "/patient/hospitals/"):
        assert anonymous.get(url).status_code == 302
        assert anonymous.get(url)["Location"].startswith("/accounts/sign-in/")
    no_record = signed_in()
    assert no_record.get("/patient/profile/")["Location"] == "/patient/onboarding/"
    assert no_record.get("/patient/hospitals/")["Location"] == "/patient/onboarding/"
