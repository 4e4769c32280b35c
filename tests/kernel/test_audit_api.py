"""Privacy officers ask who accessed a patient and what a user accessed; nobody else may, and only
within their own organization."""

import csv
import io
import uuid

import pytest
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.accounts.factories import staff_member, verified_client

pytestmark = pytest.mark.django_db
URL = "/api/v1/audit/events/"
SINCE, UNTIL = "2026-01-01T00:00:00Z", "2027-12-31T00:00:00Z"


@pytest.fixture
def setting(org_a, org_b):
    patient, doctor = uuid.uuid4(), uuid.uuid4()
    in_a = Ctx(actor_id=doctor, organization_id=org_a.id, roles=frozenset({"doctor"}))
    audit.record(in_a, "clinical.chart.read", patient_id=patient, read=True)
    audit.record(in_a, "clinical.note.create", patient_id=patient)
    audit.record(in_a, "clinical.chart.read", patient_id=uuid.uuid4(), read=True)
    audit.record(Ctx(actor_id=uuid.uuid4(), organization_id=org_b.id), "clinical.chart.read", patient_id=patient)
    audit.record(
        Ctx(actor_id=doctor, organization_id=org_a.id, purpose_of_use="ETREAT"),
        "clinical.chart.read",
        patient_id=patient,
        reason="collapsed in the waiting room",
    )
    officer, _ = staff_member(org_a, "privacy_officer")
    return {"patient": patient, "doctor": doctor, "officer": verified_client(officer)}


def test_who_accessed_a_patient_in_my_organization(setting):
    body = setting["officer"].get(URL, {"patient": setting["patient"], "since": SINCE, "until": UNTIL}).json()
    assert body["count"] == 3  # not the access from the other organization
    assert {e["action"] for e in body["results"]} == {"clinical.chart.read", "clinical.note.create"}


def test_what_a_user_accessed_filtered_by_action(setting):
    body = (
        setting["officer"]
        .get(URL, {"actor": setting["doctor"], "action": "clinical.chart.read", "since": SINCE, "until": UNTIL})
        .json()
    )
    assert body["count"] == 3


def test_break_glass_only(setting):
    body = (
        setting["officer"]
        .get(URL, {"patient": setting["patient"], "break_glass": "true", "since": SINCE, "until": UNTIL})
        .json()
    )
    assert [e["reason"] for e in body["results"]] == ["collapsed in the waiting room"]


def test_csv_export(setting):
    response = setting["officer"].get(
        URL, {"patient": setting["patient"], "since": SINCE, "until": UNTIL, "export": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:2] == ["occurred_at", "action"]
    assert len(rows) == 4


def test_the_search_is_itself_audited(setting, org_a):
    setting["officer"].get(URL, {"patient": setting["patient"], "since": SINCE, "until": UNTIL})
    assert (
        AuditEvent.objects.for_tenant(Ctx.system(reason="t", organization_id=org_a.id))
        .filter(action="audit.event.search", patient_id=setting["patient"])
        .exists()
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"patient": "nope", "since": SINCE, "until": UNTIL},
        {"actor": str(uuid.uuid4()), "since": UNTIL, "until": SINCE},
        {"actor": str(uuid.uuid4()), "since": "yesterday", "until": UNTIL},
        {"actor": str(uuid.uuid4()), "since": "2000-01-01T00:00:00Z", "until": "2099-01-01T00:00:00Z"},
        {"since": SINCE, "until": UNTIL},
    ],
)
def test_bad_queries_are_validation_errors(setting, params):
    response = setting["officer"].get(URL, params)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_only_privacy_officers_may_ask(setting, org_a):
    doctor, _ = staff_member(org_a, "doctor")
    response = verified_client(doctor).get(URL, {"patient": setting["patient"], "since": SINCE, "until": UNTIL})
    assert response.status_code == 403
    assert timezone.now()


def test_fhir_export_is_a_bundle_of_valid_r4_audit_events(setting):
    from fhir.resources.R4B.bundle import Bundle

    response = setting["officer"].get(
        "/api/v1/audit/events/fhir/", {"patient": setting["patient"], "since": SINCE, "until": UNTIL}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)
    assert body["total"] == 3
    actions = {e["resource"]["action"] for e in body["entry"]}
    assert actions == {"R", "C"}
    first = body["entry"][0]["resource"]
    assert first["entity"][0]["what"]["reference"] == f"Patient/{setting['patient']}"
    emergency = next(
        e["resource"]
        for e in body["entry"]
        if e["resource"]["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "ETREAT"
    )
    assert any(x.get("description") == "collapsed in the waiting room" for x in emergency["entity"])
