"""Reception pages: search, a patient's page, edit, walk-in registration with the master patient
index's warnings, registering an existing record with proof."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from phb.patients import services
from phb.patients.models import EmergencyContact, Patient, PatientRegistration
from tests.accounts.factories import UserFactory, staff_member, verified_client
from tests.patients.factories import demographics, make_patient, register_at_desk
from tests.patients.test_mpi import staff

pytestmark = pytest.mark.django_db
SEARCH = "/staff/patients/"
WALK_IN = "/staff/patients/register/"


def web(org, *roles):
    user, _ = staff_member(org, *roles)
    return verified_client(user, Client())


@pytest.fixture
def desk(org_a):
    return web(org_a, "receptionist")


@pytest.fixture
def registered(org_a):
    patient = make_patient()
    register_at_desk(staff(org_a, "receptionist"), patient)
    return patient


def walk_in_data(**overrides):
    data = {k: v for k, v in demographics(**overrides).items() if v is not None}
    data.setdefault("sex", "unknown")
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in data.items()}


# --- search -----------------------------------------------------------------------------------------


def test_search_finds_by_name_and_by_hpn_through_a_post(desk, registered):
    assert desk.get(SEARCH).status_code == 200
    page = desk.post(SEARCH, {"q": f"{registered.given_name} {registered.family_name}"})
    assert page.status_code == 200
    html = page.content.decode()
    assert registered.hpn in html
    assert f"/staff/patients/{registered.id}/" in html
    assert "Approved" in html
    by_hpn = desk.post(SEARCH, {"hpn": registered.hpn})
    assert [f.patient.id for f in by_hpn.context["results"]] == [registered.id]


def test_an_htmx_search_gets_the_results_fragment(desk, registered):
    page = desk.post(SEARCH, {"hpn": registered.hpn}, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert b"<html" not in page.content
    assert registered.hpn.encode() in page.content
    bad = desk.post(SEARCH, {"hpn": "12345"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 200
    assert b"not a valid HPN" in bad.content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hpn": "4821 0937 611"}, "not a valid HPN"),
        ({"birth_date": "2999-01-01"}, "in the future"),
        ({"birth_date": "31/31/1990"}, "Enter a valid date"),
        ({"phone": "0803 12"}, "international form"),
        ({"q": "a"}, "at least two letters"),
        ({}, "give a name, HPN, MRN"),
        ({"identifier": "123"}, "say which identifier"),
    ],
)
def test_bad_search_input_is_shown_on_the_form(desk, data, message):
    page = desk.post(SEARCH, data)
    assert page.status_code == 400
    assert message in page.content.decode()


def test_a_search_that_finds_nobody_offers_a_walk_in_registration(desk):
    page = desk.post(SEARCH, {"q": "Nobody Atall"})
    assert page.status_code == 200
    assert b"No patient registered here matches" in page.content
    assert b'href="/staff/patients/register/"' in page.content


def test_the_search_is_for_staff_with_the_permission(org_a, registered):
    anonymous = Client()
    assert anonymous.get(SEARCH).status_code == 302
    patient = Client()
    patient.force_login(UserFactory())
    assert patient.get(SEARCH).status_code == 403
    assert patient.post(SEARCH, {"q": registered.family_name}).status_code == 403
    assert web(org_a, "privacy_officer").post(SEARCH, {"q": registered.family_name}).status_code == 403
    unverified, _ = staff_member(org_a, "receptionist")
    client = Client()
    client.force_login(unverified)
    response = client.get(SEARCH)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/")


def test_staff_of_another_organization_find_nothing_and_open_nothing(org_b, registered):
    other = web(org_b, "receptionist")
    assert other.post(SEARCH, {"hpn": registered.hpn}).context["results"] == []
    assert other.get(f"/staff/patients/{registered.id}/").status_code == 404
    assert other.get(f"/staff/patients/{registered.id}/edit/").status_code == 404
    assert other.post(f"/staff/patients/{registered.id}/edit/", {"given_name": "X"}).status_code == 404


# --- the patient's page and edits --------------------------------------------------------------------


def test_the_patient_page_shows_demographics_contacts_and_registration(desk, registered, org_a):
    EmergencyContact.objects.create(
        patient=registered, name="Kin Person", relationship="sister", phone="+2348031234567"
    )
    page = desk.get(f"/staff/patients/{registered.id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert registered.family_name in html
    assert "Kin Person" in html
    mrn = PatientRegistration.objects.for_tenant(staff(org_a)).get(patient=registered).mrn
    assert mrn in html
    assert f"/staff/patients/{registered.id}/edit/" in html


def test_a_merged_record_opens_its_survivor(org_a, desk, registered):
    other = make_patient()
    register_at_desk(staff(org_a, "receptionist"), other)
    from phb.patients import merge

    merge.patient_merge(ctx=staff(org_a, "medical_records_officer"), survivor_id=registered.id, merged_id=other.id)
    response = desk.get(f"/staff/patients/{other.id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{registered.id}/"


def edit_data(patient, **changes):
    data = {
        field: getattr(patient, field) for field in services.EDITABLE if getattr(patient, field) not in (None, False)
    }
    data.update(changes)
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in data.items()}


def test_reception_edits_demographics(desk, registered):
    assert desk.get(f"/staff/patients/{registered.id}/edit/").status_code == 200
    response = desk.post(
        f"/staff/patients/{registered.id}/edit/", edit_data(registered, phone="+234 803 555 0101", city="Enugu")
    )
    assert response.status_code == 302
    registered.refresh_from_db()
    assert (registered.phone, registered.city) == ("+2348035550101", "Enugu")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phone": "12345"}, "phone number"),
        ({"email": "not-an-email"}, "valid email"),
        ({"birth_date": "2999-01-01"}, "in the future"),
        ({"given_name": ""}, "required"),
        ({"deceased_on": "2020-01-01"}, "Constraint"),
    ],
)
def test_bad_edits_are_shown_and_nothing_is_saved(desk, registered, changes, message):
    before = Patient.objects.get(id=registered.id)
    response = desk.post(f"/staff/patients/{registered.id}/edit/", edit_data(registered, **changes))
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    after = Patient.objects.get(id=registered.id)
    assert (after.phone, after.email, after.birth_date, after.given_name, after.deceased_on) == (
        before.phone,
        before.email,
        before.birth_date,
        before.given_name,
        before.deceased_on,
    )


def test_editing_needs_the_update_permission(org_a, registered):
    admin = web(org_a, "hospital_admin")  # sees demographics, may not edit them
    assert admin.get(f"/staff/patients/{registered.id}/").status_code == 200
    assert admin.get(f"/staff/patients/{registered.id}/edit/").status_code == 403


# --- walk-in registration ------------------------------------------------------------------------------


def test_a_walk_in_is_created_and_registered_here(desk, org_a):
    assert desk.get(WALK_IN).status_code == 200
    response = desk.post(WALK_IN, walk_in_data())
    assert response.status_code == 302
    registration = PatientRegistration.objects.for_tenant(staff(org_a)).get()
    assert registration.status == "approved"
    assert response["Location"] == f"/staff/patients/{registration.patient_id}/"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"birth_date": "2999-01-01"}, "in the future"),
        ({"phone": "0803"}, "phone number"),
        ({"email": "nobody@"}, "valid email"),
        ({"given_name": ""}, "required"),
        ({"sex": "robot"}, "valid choice"),
        ({"estimated_age_years": "200", "birth_date": ""}, "less than or equal to 130"),
    ],
)
def test_bad_walk_in_input_is_shown_and_nothing_is_written(desk, overrides, message):
    data = {**walk_in_data(), **overrides}
    response = desk.post(WALK_IN, data)
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert Patient.objects.count() == 0


def test_a_possible_duplicate_is_listed_and_confirming_creates_a_new_record(desk, registered):
    typo = walk_in_data(
        given_name=registered.given_name[:-1] + "x",
        family_name=registered.family_name,
        birth_date=registered.birth_date,
        sex=registered.sex,
        phone="",
    )
    page = desk.post(WALK_IN, typo)
    assert page.status_code == 409
    html = page.content.decode()
    assert "may already be registered" in html
    assert registered.given_name in html
    assert registered.hpn[-4:] in html
    assert str(registered.birth_date.year) in html
    assert "registered here" in html
    assert f'href="/staff/patients/{registered.id}/"' in html  # registered here: just open it
    assert "This is a different person" in html
    assert Patient.objects.count() == 1
    confirmed = desk.post(WALK_IN, {**typo, "confirmed_distinct": "1"})
    assert confirmed.status_code == 302
    assert Patient.objects.count() == 2


def test_a_candidate_from_elsewhere_is_registered_here_only_with_proof(org_a, org_b, registered):
    desk_b = web(org_b, "receptionist")
    typo = walk_in_data(
        given_name=registered.given_name[:-1] + "x",
        family_name=registered.family_name,
        birth_date=registered.birth_date,
        sex=registered.sex,
        phone="",
    )
    page = desk_b.post(WALK_IN, typo)
    assert page.status_code == 409
    html = page.content.decode()
    assert "not registered here" in html
    action = f"/staff/patients/{registered.id}/register/"
    assert f'action="{action}"' in html
    warning = html[html.index('role="alert"') : html.index('id="walk-in-form"')]
    assert registered.birth_date.isoformat() not in warning  # the full birth date is the proof: not shown

    assert desk_b.get(action).status_code == 200
    wrong = desk_b.post(action, {"proof_birth_date": (registered.birth_date + dt.timedelta(days=1)).isoformat()})
    assert wrong.status_code == 400
    assert b"does not match" in wrong.content
    assert desk_b.post(action, {}).status_code == 400
    assert not PatientRegistration.objects.for_tenant(staff(org_b)).exists()
    ok = desk_b.post(action, {"proof_hpn": registered.hpn})
    assert ok.status_code == 302
    assert ok["Location"] == f"/staff/patients/{registered.id}/"
    assert PatientRegistration.objects.for_tenant(staff(org_b)).get().patient_id == registered.id
    again = desk_b.post(action, {"proof_hpn": registered.hpn})  # already registered: just open it
    assert again.status_code == 302


def test_a_certain_match_offers_only_registering_that_record(org_b, org_a):
    fields = demographics(nin="12345678901")
    existing = services.walk_in_register(ctx=staff(org_a, "receptionist"), **fields).patient
    desk_b = web(org_b, "receptionist")
    page = desk_b.post(WALK_IN, walk_in_data(**{**fields, "phone": "", "nin": "1234 5678 901"}))
    assert page.status_code == 409
    html = page.content.decode()
    assert "already registered" in html
    assert f"/staff/patients/{existing.id}/register/" in html
    assert "This is a different person" not in html
    refused = desk_b.post(WALK_IN, {**walk_in_data(**{**fields, "phone": ""}), "confirmed_distinct": "1"})
    assert refused.status_code == 409
    assert Patient.objects.count() == 1


def test_walk_in_needs_the_registration_permission(org_a):
    assert web(org_a, "doctor").get(WALK_IN).status_code == 403
    assert web(org_a, "hospital_admin").post(WALK_IN, walk_in_data()).status_code == 403
    assert Patient.objects.count() == 0


def test_the_navigation_shows_reception_to_those_who_may_use_it(org_a):
    assert b'href="/staff/patients/"' in web(org_a, "receptionist").get("/").content
    assert b'href="/staff/patients/duplicates/"' not in web(org_a, "receptionist").get("/").content
    admin_home = web(org_a, "hospital_admin").get("/").content
    assert b'href="/staff/patients/registrations/"' in admin_home
    assert b'href="/staff/patients/duplicates/"' in admin_home
    patient = Client()
    patient.force_login(UserFactory(email_verified_at=timezone.now()))
    assert b"/staff/patients/" not in patient.get("/").content


JUNK = [
    {},
    {"q": "' OR 1=1 --", "hpn": "x" * 300, "birth_date": "0000-00-00"},
    {"survivor": "../../etc", "decision": 1},
]


def test_no_page_answers_junk_with_a_server_error(org_a, registered):
    ids = {"patient_id": registered.id, "registration_id": registered.id, "candidate_id": registered.id}
    ids["merge_id"] = registered.id
    from phb.patients import staff_urls
    from phb.patients import urls as portal_urls

    urls = []
    for prefix, module, kwargs in (("/staff/patients/", staff_urls, ids), ("/patient/", portal_urls, ids)):
        for pattern in module.urlpatterns:
            route = str(pattern.pattern)
            for name, value in kwargs.items():
                route = route.replace(f"<uuid:{name}>", str(value))
            for name in ("consent_id", "export_id"):
                route = route.replace(f"<uuid:{name}>", str(registered.id))
            urls.append(prefix + route.replace("<str:fmt>", "pdf"))
    callers = {"receptionist": web(org_a, "receptionist"), "admin": web(org_a, "hospital_admin"), "anonymous": Client()}
    patient = Client()
    patient.force_login(UserFactory())
    callers["patient"] = patient
    failures = []
    for url in urls:
        for name, client in callers.items():
            responses = [(None, client.get(url))] + [(body, client.post(url, body)) for body in JUNK]
            failures += [(url, name, body, r.status_code) for body, r in responses if r.status_code >= 500]
    assert failures == []
