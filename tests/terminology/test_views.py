"""The type-ahead list for staff pages: radio buttons of matching concepts, a hint for bad input,
nothing for anyone but staff at work."""

import pytest
from django.test import Client

from tests.accounts.factories import UserFactory, staff_member, verified_client
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db
URL = "/staff/terminology/icd10-cm/search/"


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


@pytest.fixture
def nurse(org_a):
    user, _ = staff_member(org_a, "nurse")
    return verified_client(user, Client())


def test_matching_concepts_come_as_radio_buttons(nurse):
    response = nurse.get(URL, {"q": "E11.9", "name": "diagnosis_code"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<input type="radio" name="diagnosis_code" value="E11.9"' in html
    assert "Type 2 diabetes mellitus without complications" in html
    assert "<html" not in html  # a fragment


def test_the_picker_box_sends_its_own_parameter(nurse):
    html = nurse.get(URL, {"name": "dx", "dx_q": "hiv"}).content.decode()
    assert 'name="dx" value="B20"' in html


def test_a_code_that_cannot_be_recorded_is_shown_but_disabled(nurse):
    html = nurse.get(URL, {"q": "E11"}).content.decode()
    assert 'name="code" value="E11" data-system="http://hl7.org/fhir/sid/icd-10-cm"' in html
    assert "choose a more specific code" in html


@pytest.mark.parametrize(
    ("params", "text"),
    [({"q": ""}, ""), ({"q": "x" * 101}, "At most 100 characters"), ({"q": "zzzzqqq"}, "No code matches")],
)
def test_bad_or_fruitless_input_gets_a_hint(nurse, params, text):
    response = nurse.get(URL, params)
    assert response.status_code == 200
    assert text in response.content.decode()
    assert 'type="radio"' not in response.content.decode()


def test_a_bad_field_name_or_limit_falls_back(nurse):
    html = nurse.get(URL, {"q": "asthma", "name": '"><script>', "limit": "x"}).content.decode()
    assert 'name="code"' in html
    assert "<script>" not in html


def test_an_unknown_system_is_not_found(nurse):
    assert nurse.get("/staff/terminology/icd-11/search/", {"q": "asthma"}).status_code == 404


def test_only_staff_at_work_get_it(org_a):
    assert Client().get(URL, {"q": "asthma"}).status_code == 302
    patient = Client()
    patient.force_login(UserFactory())
    assert patient.get(URL, {"q": "asthma"}).status_code == 403
    unverified, _ = staff_member(org_a, "doctor")
    client = Client()
    client.force_login(unverified)
    response = client.get(URL, {"q": "asthma"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/")


def test_the_picker_fragment_renders():
    from django.template.loader import render_to_string

    html = render_to_string(
        "terminology/_concept_picker.html", {"system": "icd10-cm", "name": "diagnosis_code", "label": "Diagnosis"}
    )
    assert 'hx-get="/staff/terminology/icd10-cm/search/?name=diagnosis_code"' in html
    assert 'name="diagnosis_code_q"' in html
    assert 'hx-target="#diagnosis_code-options"' in html
