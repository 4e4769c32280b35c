"""Repeat prescriptions: the patient asks from the portal API for an eligible prescription (their own
only; signed or dispensed; refills left or the course ended recently; one request at a time); the
prescriber who signed it sees it, approves it (a new signed prescription after the same safety check,
refills one fewer, linked) or refuses it saying why; the patient is told either way."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.medications import repeats, services
from phb.medications.models import Prescription, PrescriptionItem, RepeatRequest
from phb.notifications.models import Notification
from tests.clinical.factories import clinician
from tests.medications.factories import AMOX, item, patient_client, signed, staff_client, ward

pytestmark = pytest.mark.django_db

REFILLABLE = item("amoxicillin", **AMOX, refills=2)


@pytest.fixture
def w(org_a):
    return ward(org_a, with_account=True)


def _me(w):
    return Ctx(actor_id=w.patient_user.id)


def _ask(client, prescription, note=""):
    return client.post(f"/api/v1/me/prescriptions/{prescription.id}/repeat-requests/", {"note": note}, format="json")


def _items(ctx, prescription_id):
    return list(PrescriptionItem.objects.for_tenant(ctx).filter(prescription_id=prescription_id))


def test_the_whole_flow_approved(w):
    prescription = signed(w.doctor, w.patient, REFILLABLE)
    client = patient_client(w.patient_user)
    mine = client.get("/api/v1/me/medications/").json()
    assert [(m["number"], m["repeat_allowed"]) for m in mine] == [(prescription.number, True)]
    asked = _ask(client, prescription, note="Running out on Friday")
    assert asked.status_code == 201, asked.json()
    assert asked.json()["status"] == "pending"
    again = _ask(client, prescription)
    assert (again.status_code, again.json()["code"]) == (409, "REPEAT_ALREADY_REQUESTED")
    assert client.get("/api/v1/me/medications/").json()[0]["repeat_allowed"] is False

    events.dispatch_due()
    assert Notification.objects.filter(user_id=w.doctor.actor_id, template_code="medications.repeat_requested").exists()
    (waiting,) = repeats_list(w.doctor)
    assert waiting.note == "Running out on Friday"

    decided = repeats.repeat_request_approve(ctx=w.doctor, request_id=waiting.id)
    assert decided.status == "approved"
    new = Prescription.objects.for_tenant(w.doctor).get(id=decided.new_prescription_id)
    assert (new.status, new.repeat_of_id, new.prescriber_id) == ("signed", prescription.id, w.doctor.actor_id)
    assert [i.refills for i in _items(w.doctor, new.id)] == [1]
    events.dispatch_due()
    told = Notification.objects.get(user_id=w.patient_user.id, template_code="medications.repeat_approved")
    assert new.number in told.body
    with pytest.raises(Conflict) as twice:
        repeats.repeat_request_approve(ctx=w.doctor, request_id=waiting.id)
    assert twice.value.code == "REPEAT_ALREADY_DECIDED"
    # The old prescription was repeated: the new one is the one to ask about.
    refused = _ask(client, prescription)
    assert (refused.status_code, refused.json()["reason"]) == (409, "already_repeated")
    assert _ask(client, new).status_code == 201


def repeats_list(ctx):
    from phb.medications import selectors

    return selectors.repeat_request_list(ctx=ctx)


def test_refused_with_a_reason_the_patient_reads(w):
    prescription = signed(w.doctor, w.patient, REFILLABLE)
    request = repeats.repeat_request_create(ctx=_me(w), prescription_id=prescription.id)
    with pytest.raises(ValidationFailed):
        repeats.repeat_request_refuse(ctx=w.doctor, request_id=request.id, reason="  ")
    _, doctor_client = staff_client(w.organization, "doctor", department=w.department)
    api_refused = doctor_client.post(f"/api/v1/repeat-requests/{request.id}/refuse/", {"reason": "x"}, format="json")
    assert api_refused.status_code == 200  # any prescriber caring for the patient may decide
    events.dispatch_due()
    assert Notification.objects.filter(user_id=w.patient_user.id, template_code="medications.repeat_refused").exists()
    mine = patient_client(w.patient_user).get("/api/v1/me/repeat-requests/").json()
    assert [(r["status"], r["refusal_reason"]) for r in mine] == [("refused", "x")]


def test_approval_runs_the_same_safety_check(w):
    signed(w.doctor, w.patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))
    aspirin = services.prescription_create(
        ctx=w.doctor,
        patient_id=w.patient.id,
        items=[item("aspirin", form="tablet", strength="75 mg", frequency="OD", refills=1)],
    )
    check = services.prescription_check(ctx=w.doctor, prescription_id=aspirin.id)
    reasons = {a["key"]: "Cardiology advice" for a in check.alerts if a["requires_override"]}
    services.prescription_sign(ctx=w.doctor, prescription_id=aspirin.id, overrides=reasons)
    request = repeats.repeat_request_create(ctx=_me(w), prescription_id=aspirin.id)
    _, client = staff_client(w.organization, "doctor", department=w.department)
    refused = client.post(f"/api/v1/repeat-requests/{request.id}/approve/", {}, format="json")
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "OVERRIDE_REASON_REQUIRED"
    assert Prescription.objects.for_tenant(w.doctor).filter(repeat_of_id=aspirin.id).count() == 0
    assert RepeatRequest.objects.for_tenant(w.doctor).get(id=request.id).status == "pending"
    overrides = [{"alert": a["key"], "reason": "Still indicated"} for a in body["alerts"]]
    approved = client.post(f"/api/v1/repeat-requests/{request.id}/approve/", {"overrides": overrides}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved"


def test_what_cannot_be_repeated(org_a, w, monkeypatch):
    other = ward(org_a, with_account=True)
    theirs = signed(other.doctor, other.patient, REFILLABLE)
    with pytest.raises(NotFound):
        repeats.repeat_request_create(ctx=_me(w), prescription_id=theirs.id)
    draft = services.prescription_create(ctx=w.doctor, patient_id=w.patient.id, items=[REFILLABLE])
    with pytest.raises(NotFound):
        repeats.repeat_request_create(ctx=_me(w), prescription_id=draft.id)
    cancelled = signed(w.doctor, w.patient, REFILLABLE)
    services.prescription_cancel(ctx=w.doctor, prescription_id=cancelled.id, reason="stopped")
    with pytest.raises(Conflict) as refused:
        repeats.repeat_request_create(ctx=_me(w), prescription_id=cancelled.id)
    assert refused.value.extra["reason"] == "not_active"
    no_refills = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    later = timezone.now() + dt.timedelta(days=40)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(Conflict) as ended:
        repeats.repeat_request_create(ctx=_me(w), prescription_id=no_refills.id)
    assert ended.value.extra["reason"] == "ended"


def test_who_decides(org_a, org_b, w):
    prescription = signed(w.doctor, w.patient, REFILLABLE)
    request = repeats.repeat_request_create(ctx=_me(w), prescription_id=prescription.id)
    with pytest.raises(Forbidden):
        repeats.repeat_request_approve(ctx=w.nurse, request_id=request.id)
    with pytest.raises(NotFound):
        repeats.repeat_request_approve(ctx=clinician(org_b, "doctor"), request_id=request.id)
    with pytest.raises(NotFound):
        repeats.repeat_request_refuse(ctx=clinician(org_a, "doctor"), request_id=request.id, reason="no")
    assert repeats_list(clinician(org_a, "doctor")) == []  # requests go to who signed the prescription
    _, outsider = staff_client(org_b, "doctor")
    assert outsider.post(f"/api/v1/repeat-requests/{request.id}/approve/", {}, format="json").status_code == 404
    assert (
        outsider.post(f"/api/v1/repeat-requests/{request.id}/refuse/", {"reason": "x"}, format="json").status_code
        == 404
    )
