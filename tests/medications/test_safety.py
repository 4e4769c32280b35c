"""Safety at signing, end to end through the API: the regression pairs fire (warfarin + aspirin,
simvastatin + clarithromycin, sildenafil + a nitrate, methotrexate + trimethoprim, an ACE inhibitor +
spironolactone, tramadol + an SSRI, amoxicillin with a penicillin allergy recorded through the
clinical allergy service); signing without a reason is refused (422 OVERRIDE_REASON_REQUIRED, the
check kept, the refusal audited) and with one succeeds (the override kept, audited, in the report);
the check is re-run at signing, never trusted from the client; conditions and pregnancy count."""

from __future__ import annotations

import pytest

from phb.clinical import diagnoses, history_services
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.medications.models import Prescription, SafetyCheck, SafetyOverride
from tests.medications.factories import AMOX, item, signed, staff_client, ward

pytestmark = pytest.mark.django_db

CURRENT_AND_NEW = [
    (
        "warfarin",
        item("warfarin", strength="5 mg", frequency="OD", duration_days=30),
        "aspirin",
        item("aspirin", form="tablet", strength="75 mg", frequency="OD"),
        "DDI-0001",
        "major",
    ),
    (
        "simvastatin",
        item("simvastatin", strength="20 mg", frequency="ON", duration_days=30),
        "clarithromycin",
        item("clarithromycin", form="tablet", strength="500 mg", frequency="BD", duration_days=7),
        "DDI-0003",
        "contraindicated",
    ),
    (
        "isosorbide-mononitrate",
        item("isosorbide-mononitrate", form="tablet", strength="20 mg", frequency="BD", duration_days=30),
        "sildenafil",
        item("sildenafil", strength="50 mg", frequency="ONCE"),
        "DDI-0004",
        "contraindicated",
    ),
    (
        "methotrexate",
        item("methotrexate", form="tablet", strength="2.5 mg", frequency="OD", duration_days=30),
        "trimethoprim",
        item("trimethoprim", strength="200 mg", frequency="BD", duration_days=3),
        "DDI-0005",
        "major",
    ),
    (
        "lisinopril",
        item("lisinopril", strength="10 mg", frequency="OD", duration_days=30),
        "spironolactone",
        item("spironolactone", strength="25 mg", frequency="OD", duration_days=30),
        "DDI-0006",
        "major",
    ),
    (
        "sertraline",
        item("sertraline", strength="50 mg", frequency="OD", duration_days=30),
        "tramadol",
        item("tramadol", form="capsule", frequency="QDS", duration_days=3),
        "DDI-0007",
        "major",
    ),
]


@pytest.fixture
def clinic(org_a):
    w = ward(org_a)
    doctor, client = staff_client(org_a, "doctor", department=w.department)
    return w, doctor, client


def _create(client, patient, *items):
    response = client.post(f"/api/v1/patients/{patient.id}/prescriptions/", {"items": list(items)}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _audit(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


@pytest.mark.parametrize(
    ("current", "current_item", "new", "new_item", "rule", "severity"),
    CURRENT_AND_NEW,
    ids=[f"{c[0]}+{c[2]}" for c in CURRENT_AND_NEW],
)
def test_the_regression_pairs_fire_and_an_override_without_a_reason_is_refused(
    clinic, current, current_item, new, new_item, rule, severity
):
    w, doctor, client = clinic
    signed(w.doctor, w.patient, current_item)  # what the patient already takes
    draft = _create(client, w.patient, new_item)
    checked = client.post(f"/api/v1/prescriptions/{draft['id']}/check/", {}, format="json")
    assert checked.status_code == 200, checked.json()
    alerts = {a["rule"]: a for a in checked.json()["alerts"]}
    assert rule in alerts, checked.json()["alerts"]
    alert = alerts[rule]
    assert (alert["kind"], alert["severity"], alert["requires_override"]) == ("interaction", severity, True)
    assert set(alert["drugs"]) == {current, new}
    assert alert["management"]
    needing = [a for a in checked.json()["alerts"] if a["requires_override"]]

    refused = client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {}, format="json")
    assert refused.status_code == 422
    body = refused.json()
    assert refused["Content-Type"] == "application/problem+json"
    assert body["code"] == "OVERRIDE_REASON_REQUIRED"
    assert {a["key"] for a in body["alerts"]} == {a["key"] for a in needing}
    blank = [{"alert": a["key"], "reason": "   "} for a in needing]
    again = client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {"overrides": blank}, format="json")
    assert again.json()["code"] == "OVERRIDE_REASON_REQUIRED"
    assert client.get(f"/api/v1/prescriptions/{draft['id']}/").json()["status"] == "draft"
    assert _audit(action="medications.prescription.sign", outcome="denied", patient_id=w.patient.id).count() == 2
    assert SafetyCheck.objects.for_tenant(doctor).filter(prescription_id=draft["id"], outcome="refused").count() == 2

    reasons = [{"alert": a["key"], "reason": "Specialist advice; monitoring arranged."} for a in needing]
    done = client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {"overrides": reasons}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "signed"
    overrides = list(SafetyOverride.objects.for_tenant(doctor).filter(prescription_id=draft["id"]))
    assert {o.rule for o in overrides} == {a["rule"] for a in needing}
    assert all(o.reason == "Specialist advice; monitoring arranged." for o in overrides)
    assert all(o.overridden_by_id == doctor.actor_id and o.knowledge_version for o in overrides)
    assert _audit(action="medications.safety_override.create", patient_id=w.patient.id).count() == len(needing)
    detail = done.json()
    assert {o["rule"] for o in detail["overrides"]} == {a["rule"] for a in needing}


def test_amoxicillin_with_a_penicillin_allergy_recorded_in_the_record(clinic):
    w, _doctor, client = clinic
    history_services.allergy_create(
        ctx=w.doctor,
        patient_id=w.patient.id,
        substance={"text": "Penicillin"},
        category="medication",
        criticality="high",
        verification_status="confirmed",
    )
    draft = _create(client, w.patient, item("amoxicillin", **AMOX))
    refused = client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {}, format="json")
    assert refused.status_code == 422
    (alert,) = [a for a in refused.json()["alerts"] if a["kind"] == "allergy"]
    assert (alert["rule"], alert["severity"]) == ("ALG-penicillins", "contraindicated")
    done = client.post(
        f"/api/v1/prescriptions/{draft['id']}/sign/",
        {"overrides": [{"alert": alert["key"], "reason": "Tolerated amoxicillin last year"}]},
        format="json",
    )
    assert done.status_code == 200, done.json()


def test_signing_re_runs_the_check_whatever_the_client_saw(clinic):
    """A check before the interacting drug was signed showed nothing; signing finds it."""
    w, _doctor, client = clinic
    draft = _create(client, w.patient, item("aspirin", form="tablet", strength="75 mg", frequency="OD"))
    clear = client.post(f"/api/v1/prescriptions/{draft['id']}/check/", {}, format="json").json()
    assert clear["alerts"] == []
    assert clear["outcome"] == "clear"
    signed(w.doctor, w.patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))
    refused = client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {}, format="json")
    assert refused.status_code == 422
    assert [a["rule"] for a in refused.json()["alerts"]] == ["DDI-0001"]


def test_a_dose_above_the_maximum_a_condition_and_pregnancy_raise_alerts(clinic):
    w, doctor, client = clinic
    too_much = _create(
        client, w.patient, item("paracetamol", form="tablet", strength="500 mg", dose_quantity="3", frequency="QDS")
    )
    alerts = client.post(f"/api/v1/prescriptions/{too_much['id']}/check/", {}, format="json").json()["alerts"]
    (dose,) = [a for a in alerts if a["kind"] == "dose"]
    assert dose["severity"] == "major"
    assert "6000 mg" in dose["title"]
    pregnant = _create(client, w.patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))
    checked = client.post(f"/api/v1/prescriptions/{pregnant['id']}/check/", {"pregnant": True}, format="json").json()
    assert checked["pregnant"] is True
    assert any(a["kind"] == "pregnancy" for a in checked["alerts"]), checked["alerts"]
    stored = Prescription.objects.for_tenant(doctor).get(id=pregnant["id"])
    assert stored.pregnant


def test_an_active_diagnosis_counts_as_a_condition(clinic):
    w, _doctor, client = clinic
    diagnoses.diagnosis_add(
        ctx=w.doctor, patient_id=w.patient.id, system="icd10-cm", code="I50.9", category="problem_list_item"
    )
    draft = _create(client, w.patient, item("ibuprofen", form="tablet", strength="400 mg", frequency="TDS"))
    alerts = client.post(f"/api/v1/prescriptions/{draft['id']}/check/", {}, format="json").json()["alerts"]
    assert any(a["kind"] == "condition" for a in alerts), alerts


def test_the_override_is_in_the_report(org_a, clinic):
    w, doctor, client = clinic
    signed(w.doctor, w.patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))
    draft = _create(client, w.patient, item("aspirin", form="tablet", strength="75 mg", frequency="OD"))
    refused = client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {}, format="json").json()
    reasons = [{"alert": a["key"], "reason": "Cardiology advice"} for a in refused["alerts"]]
    assert (
        client.post(f"/api/v1/prescriptions/{draft['id']}/sign/", {"overrides": reasons}, format="json").status_code
        == 200
    )
    _, head = staff_client(org_a, "department_head")
    rows = head.get("/api/v1/medication-overrides/").json()
    assert [(r["rule"], r["severity"], r["reason"]) for r in rows] == [("DDI-0001", "major", "Cardiology advice")]
    assert rows[0]["prescription_number"]
    assert rows[0]["overridden_by"] == str(doctor.actor_id)
    assert head.get("/api/v1/medication-overrides/?severity=contraindicated").json() == []
    assert head.get(f"/api/v1/medication-overrides/?prescriber={w.doctor.actor_id}").json() == []
    assert len(head.get(f"/api/v1/medication-overrides/?prescriber={doctor.actor_id}").json()) == 1
    assert head.get("/api/v1/medication-overrides/?since=2000-01-01&until=2000-01-31").json() == []
    assert head.get("/api/v1/medication-overrides/?since=yesterday").status_code == 400
    assert head.get("/api/v1/medication-overrides/?severity=awful").status_code == 400
    assert client.get("/api/v1/medication-overrides/").status_code == 403  # a doctor is not governance
