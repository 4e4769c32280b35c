"""The prescriptions API for prescribers: the happy paths (draft, list, get, update, check, sign,
cancel, replace, adherence), the step-up window, the missing capability (403), another
organization's or an unrelated patient's ids (404, for every endpoint taking one), bad input (400),
a signed prescription refused (409); the list reads a fixed number of queries however long."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phb.kernel.errors import NotFound
from phb.medications import selectors
from tests.clinical.factories import clinician, patient_at
from tests.medications.factories import AMOX, item, signed, staff_client, ward

pytestmark = pytest.mark.django_db

AMOXICILLIN = item("amoxicillin", **AMOX)


@pytest.fixture
def clinic(org_a):
    w = ward(org_a)
    doctor, client = staff_client(org_a, "doctor", department=w.department)
    _, nurse = staff_client(org_a, "nurse", department=w.department)
    return {"w": w, "doctor": doctor, "client": client, "nurse": nurse, "patient": w.patient}


def _create(client, patient, *items, **extra):
    return client.post(f"/api/v1/patients/{patient.id}/prescriptions/", {"items": list(items), **extra}, format="json")


def test_draft_list_get_update_check_sign(clinic):
    client, patient = clinic["client"], clinic["patient"]
    created = _create(client, patient, AMOXICILLIN)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft"
    assert body["number"].startswith("RX-")
    (line,) = body["items"]
    assert (line["drug_code"], line["quantity"], line["directions"]) == (
        "amoxicillin",
        "15.000",
        "Take 1 capsule three times a day for 5 days",
    )
    listed = client.get(f"/api/v1/patients/{patient.id}/prescriptions/").json()
    assert [p["id"] for p in listed] == [body["id"]]
    patched = client.patch(
        f"/api/v1/prescriptions/{body['id']}/",
        {"items": [item("amoxicillin", **AMOX, duration_days=7, refills=2)], "pregnant": False},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["items"][0]["quantity"] == "21.000"
    check = client.post(f"/api/v1/prescriptions/{body['id']}/check/", {}, format="json")
    assert check.json()["outcome"] == "clear"
    done = client.post(f"/api/v1/prescriptions/{body['id']}/sign/", {}, format="json")
    assert done.status_code == 200
    detail = done.json()
    assert detail["status"] == "signed"
    assert [h["to_status"] for h in detail["history"]] == ["draft", "signed"]
    assert [c["outcome"] for c in detail["checks"]] == ["signed", "clear"]
    assert clinic["nurse"].get(f"/api/v1/prescriptions/{body['id']}/").json()["status"] == "signed"
    refused = client.patch(f"/api/v1/prescriptions/{body['id']}/", {"pregnant": True}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "PRESCRIPTION_NOT_DRAFT"
    assert client.get(f"/api/v1/patients/{patient.id}/prescriptions/?status=signed").json()[0]["id"] == body["id"]
    assert client.get(f"/api/v1/patients/{patient.id}/prescriptions/?status=lost").status_code == 400


def test_cancel_and_replace(clinic):
    client, patient = clinic["client"], clinic["patient"]
    first = _create(client, patient, AMOXICILLIN).json()
    client.post(f"/api/v1/prescriptions/{first['id']}/sign/", {}, format="json")
    no_reason = client.post(f"/api/v1/prescriptions/{first['id']}/cancel/", {}, format="json")
    assert no_reason.status_code == 400
    replacement = client.post(
        f"/api/v1/prescriptions/{first['id']}/replace/",
        {"items": [item("amoxicillin", **AMOX, dose_quantity="2")]},
        format="json",
    )
    assert replacement.status_code == 201, replacement.json()
    new = replacement.json()
    assert (new["status"], new["replaces_id"]) == ("draft", first["id"])
    client.post(f"/api/v1/prescriptions/{new['id']}/sign/", {}, format="json")
    old = client.get(f"/api/v1/prescriptions/{first['id']}/").json()
    assert (old["status"], old["replaced_by_id"]) == ("cancelled", new["id"])
    again = client.post(f"/api/v1/prescriptions/{first['id']}/replace/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "PRESCRIPTION_NOT_REPLACEABLE"
    cancelled = client.post(f"/api/v1/prescriptions/{new['id']}/cancel/", {"reason": "rash"}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    twice = client.post(f"/api/v1/prescriptions/{new['id']}/cancel/", {"reason": "rash"}, format="json")
    assert twice.status_code == 409
    assert twice.json()["code"] == "ILLEGAL_TRANSITION"


def test_a_nurse_reads_but_may_not_prescribe_or_sign(clinic):
    nurse, patient = clinic["nurse"], clinic["patient"]
    draft = _create(clinic["client"], patient, AMOXICILLIN).json()
    assert nurse.get(f"/api/v1/patients/{patient.id}/prescriptions/").status_code == 200
    for response in (
        _create(nurse, patient, AMOXICILLIN),
        nurse.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {}, format="json"),
        nurse.post(f"/api/v1/prescriptions/{draft['id']}/check/", {}, format="json"),
        nurse.patch(f"/api/v1/prescriptions/{draft['id']}/", {}, format="json"),
        nurse.get("/api/v1/repeat-requests/"),
    ):
        assert response.status_code == 403
        assert response["Content-Type"] == "application/problem+json"
    # Another prescriber's draft does not exist for the nurse either.
    assert nurse.get(f"/api/v1/prescriptions/{draft['id']}/").status_code == 404


def test_without_a_role_or_the_step_up_window(org_a, clinic):
    _, desk = staff_client(org_a, "receptionist")
    assert desk.get(f"/api/v1/patients/{clinic['patient'].id}/prescriptions/").status_code == 403
    from tests.accounts.factories import MembershipFactory, UserFactory, verified_client

    user = UserFactory()
    MembershipFactory(user=user, organization=org_a, roles=["doctor"], department=clinic["w"].department)
    fresh = verified_client(user)
    response = fresh.get(f"/api/v1/patients/{clinic['patient'].id}/prescriptions/")
    assert response.status_code == 403
    assert response.json()["code"] == "MED_ACCESS_REQUIRED"


def test_another_organizations_or_an_unrelated_patients_ids_are_not_found(org_a, org_b, clinic):
    client, patient = clinic["client"], clinic["patient"]
    mine = _create(client, patient, AMOXICILLIN).json()
    client.post(f"/api/v1/prescriptions/{mine['id']}/sign/", {}, format="json")
    elsewhere = ward(org_b)
    _, outsider = staff_client(org_b, "doctor", department=elsewhere.department)
    theirs = signed(elsewhere.doctor, elsewhere.patient, AMOXICILLIN)
    stranger = patient_at(org_a)
    not_found = [
        client.get(f"/api/v1/patients/{elsewhere.patient.id}/prescriptions/"),
        _create(client, elsewhere.patient, AMOXICILLIN),
        _create(client, stranger, AMOXICILLIN),
        client.get(f"/api/v1/patients/{stranger.id}/adherence/"),
        client.get(f"/api/v1/prescriptions/{theirs.id}/"),
        client.patch(f"/api/v1/prescriptions/{theirs.id}/", {}, format="json"),
        client.post(f"/api/v1/prescriptions/{theirs.id}/check/", {}, format="json"),
        client.post(f"/api/v1/prescriptions/{theirs.id}/sign/", {}, format="json"),
        client.post(f"/api/v1/prescriptions/{theirs.id}/cancel/", {"reason": "x"}, format="json"),
        client.post(f"/api/v1/prescriptions/{theirs.id}/replace/", {}, format="json"),
        outsider.get(f"/api/v1/prescriptions/{mine['id']}/"),
        outsider.post(f"/api/v1/prescriptions/{mine['id']}/cancel/", {"reason": "x"}, format="json"),
        client.get(f"/api/v1/prescriptions/{uuid.uuid4()}/"),
        client.get("/api/v1/prescriptions/not-an-id/"),
    ]
    assert [r.status_code for r in not_found] == [404] * len(not_found)
    assert all(r.json()["code"] == "NOT_FOUND" for r in not_found)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"items": []}, "items"),
        ({}, "items"),
        ({"items": [{"drug_code": "unobtainium", "dose_quantity": "1", "frequency": "OD"}]}, "items[0].drug_code"),
        ({"items": [{**AMOXICILLIN, "dose_quantity": "-1"}]}, "items[0].dose_quantity"),
        ({"items": [{**AMOXICILLIN, "frequency": "XYZ"}]}, "items[0].frequency"),
        ({"items": [AMOXICILLIN], "encounter_id": str(uuid.uuid4())}, "encounter_id"),
        ({"items": [AMOXICILLIN], "pharmacy_department_id": str(uuid.uuid4())}, "pharmacy_department_id"),
    ],
)
def test_bad_input_is_a_problem_with_the_field_named(clinic, payload, field):
    response = clinic["client"].post(f"/api/v1/patients/{clinic['patient'].id}/prescriptions/", payload, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert field in [e["field"] for e in body["errors"]], body["errors"]


def test_the_list_reads_a_fixed_number_of_queries(org_a, clinic, django_assert_num_queries):
    w = clinic["w"]
    signed(w.doctor, w.patient, AMOXICILLIN)
    few = _queries(w, django_assert_num_queries)
    for _ in range(6):
        signed(w.doctor, w.patient, AMOXICILLIN, item("paracetamol", form="tablet", strength="500 mg"))
    many = _queries(w, django_assert_num_queries)
    assert few == many


def _queries(w, django_assert_num_queries) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        rows = selectors.prescription_list(ctx=w.doctor, patient_id=w.patient.id)
        [i.drug_code for p in rows for i in p.item_list]
    count = len(captured.captured_queries)
    with django_assert_num_queries(count):
        rows = selectors.prescription_list(ctx=w.doctor, patient_id=w.patient.id)
        [i.drug_code for p in rows for i in p.item_list]
    return count


def test_the_chart_section_is_one_query(org_a, clinic):
    w = clinic["w"]
    for _ in range(3):
        signed(w.doctor, w.patient, AMOXICILLIN, item("paracetamol", form="tablet", strength="500 mg"))
    # One query; on PostgreSQL, with the statement binding the transaction to the tenant unless this
    # transaction is bound to it already.
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.current_medications(ctx=w.doctor, patient_id=w.patient.id)
    assert len([q for q in queries.captured_queries if "set_config(" not in q["sql"]]) == 1
    assert len(rows) == 6
    assert rows[0]["directions"]


def test_adherence_of_a_patient(clinic):
    client, patient = clinic["client"], clinic["patient"]
    summary = client.get(f"/api/v1/patients/{patient.id}/adherence/?days=30").json()
    assert summary["total"] == {"taken": 0, "missed": 0, "skipped": 0, "percent": None}
    assert client.get(f"/api/v1/patients/{patient.id}/adherence/?days=0").status_code == 400
    assert client.get(f"/api/v1/patients/{patient.id}/adherence/?days=x").status_code == 400


def test_a_prescriber_at_another_organization_is_not_the_patients_prescriber(org_b, clinic):
    outsider = clinician(org_b, "doctor")
    with pytest.raises(NotFound):
        selectors.prescription_list(ctx=outsider, patient_id=clinic["patient"].id)
