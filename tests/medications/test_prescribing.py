"""Writing prescriptions through the services: a draft with checked items (the dose structured, the
quantity derived), signing (the check re-run, its result kept), cancelling, replacing (the old one
cancelled and linked in the same transaction), expiry; the can-prescribe capability (a nurse may not:
Forbidden), the care relationship and another organization (NotFound, audited), drafts private to
their author, signed prescriptions immutable through the services, bad input refused whole."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent, OutboxEvent
from phb.medications import services
from phb.medications.models import (
    DoseEvent,
    Prescription,
    PrescriptionEvent,
    PrescriptionItem,
    SafetyCheck,
)
from tests.clinical.factories import clinician, patient_at
from tests.medications.factories import AMOX, draft, item, signed, ward

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(org_a):
    return ward(org_a)


def _sys(organization_id):
    return Ctx.system(reason="test", organization_id=organization_id)


def _items(prescription):
    return list(
        PrescriptionItem.objects.for_tenant(_sys(prescription.organization_id))
        .filter(prescription=prescription)
        .order_by("position")
    )


def _stored(prescription):
    return Prescription.objects.for_tenant(_sys(prescription.organization_id)).get(id=prescription.id)


def _audit(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


def test_a_draft_gets_a_number_and_structured_items_with_the_quantity_derived(w):
    year = timezone.now().year
    first = draft(w.doctor, w.patient, item("amoxicillin", **AMOX, indication_code="J02.9"))
    second = draft(
        w.doctor,
        w.patient,
        item(
            "paracetamol",
            form="tablet",
            strength="500 mg",
            dose_quantity="1000",
            dose_unit="mg",
            frequency="QDS",
            duration_days=3,
        ),
        item(
            "clarithromycin",
            form="oral suspension",
            strength="250 mg/5 mL",
            dose_quantity="5",
            frequency="BD",
            duration_days=7,
            instructions="Shake the bottle.",
        ),
    )
    assert first.number == f"RX-{year}-000001"
    assert second.number == f"RX-{year}-000002"
    assert first.status == "draft"
    (amoxicillin,) = _items(first)
    assert (amoxicillin.drug_code, amoxicillin.drug_display, amoxicillin.form, amoxicillin.strength) == (
        "amoxicillin",
        "Amoxicillin",
        "capsule",
        "500 mg",
    )
    assert (amoxicillin.dose_unit, amoxicillin.route, amoxicillin.quantity, amoxicillin.quantity_unit) == (
        "capsule",
        "oral",
        Decimal(15),
        "capsule",
    )
    assert amoxicillin.daily_amount_mg == Decimal(1500)
    assert (amoxicillin.indication_code, amoxicillin.indication_display) == ("J02.9", "Acute pharyngitis, unspecified")
    paracetamol, clarithromycin = _items(second)
    assert (paracetamol.quantity, paracetamol.quantity_unit, paracetamol.daily_amount_mg) == (
        Decimal(24),
        "tablet",
        Decimal(4000),
    )
    assert (clarithromycin.quantity, clarithromycin.quantity_unit, clarithromycin.daily_amount_mg) == (
        Decimal(70),
        "mL",
        Decimal(500),
    )
    assert clarithromycin.instructions == "Shake the bottle."
    assert _audit(action="medications.prescription.create", patient_id=w.patient.id).count() == 2


@pytest.mark.parametrize(
    ("bad", "field", "code"),
    [
        ({"drug_code": "no-such-drug"}, "items[0].drug_code", "unknown_drug"),
        ({"drug_code": ""}, "items[0].drug_code", "required"),
        ({"form": "suppository"}, "items[0].form", "unknown_form"),
        ({"strength": "7 mg"}, "items[0].strength", "unknown_strength"),
        ({"dose_quantity": "0"}, "items[0].dose_quantity", "out_of_range"),
        ({"dose_quantity": "abc"}, "items[0].dose_quantity", "not_a_number"),
        ({"frequency": "HOURLY"}, "items[0].frequency", "invalid_choice"),
        ({"frequency": "QH", "interval_hours": 5}, "items[0].interval_hours", "invalid"),
        ({"frequency": "QH"}, "items[0].interval_hours", "required"),
        ({"interval_hours": 6}, "items[0].interval_hours", "not_applicable"),
        ({"duration_days": 0}, "items[0].duration_days", "out_of_range"),
        ({"frequency": "PRN", "duration_days": None}, "items[0].quantity", "required"),
        ({"refills": 13}, "items[0].refills", "out_of_range"),
        ({"indication_code": "NOPE"}, "items[0].indication.code", "invalid"),
        ({"instructions": "x" * 2001}, "items[0].instructions", "too_long"),
        ({"colour": "red"}, "items[0].colour", "unknown_field"),
    ],
)
def test_bad_items_are_refused_and_nothing_is_written(w, bad, field, code):
    before = Prescription.objects.for_tenant(_sys(w.organization.id)).count()
    with pytest.raises(ValidationFailed) as refused:
        draft(w.doctor, w.patient, {**item("amoxicillin", **AMOX), **bad})
    errors = refused.value.extra["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code), errors
    assert Prescription.objects.for_tenant(_sys(w.organization.id)).count() == before


def test_no_item_or_every_bad_item_reported_together(w):
    with pytest.raises(ValidationFailed) as refused:
        services.prescription_create(ctx=w.doctor, patient_id=w.patient.id, items=[])
    assert refused.value.extra["errors"][0]["field"] == "items"
    with pytest.raises(ValidationFailed) as refused:
        draft(
            w.doctor,
            w.patient,
            item("nope"),
            item("amoxicillin", **AMOX),
            item("aspirin", form="tablet", strength="75 mg", frequency="?"),
        )
    assert [e["field"] for e in refused.value.extra["errors"]] == ["items[0].drug_code", "items[2].frequency"]


def test_a_nurse_may_not_prescribe_nor_sign(w):
    with pytest.raises(Forbidden):
        draft(w.nurse, w.patient, item("amoxicillin", **AMOX))
    prescription = draft(w.doctor, w.patient, item("amoxicillin", **AMOX))
    with pytest.raises(Forbidden):
        services.prescription_sign(ctx=w.nurse, prescription_id=prescription.id)
    assert _stored(prescription).status == "draft"
    assert _audit(action="medications.prescription.sign", outcome="denied", actor_id=w.nurse.actor_id).count() == 1


def test_without_a_care_relationship_or_at_another_organization_the_patient_is_not_found(org_a, org_b, w):
    stranger = patient_at(org_a)
    with pytest.raises(NotFound):
        draft(w.doctor, stranger, item("amoxicillin", **AMOX))
    elsewhere = clinician(org_b, "doctor")
    with pytest.raises(NotFound):
        draft(elsewhere, w.patient, item("amoxicillin", **AMOX))
    prescription = draft(w.doctor, w.patient, item("amoxicillin", **AMOX))
    for verb in ("prescription_sign", "prescription_check", "prescription_update"):
        with pytest.raises(NotFound):
            getattr(services, verb)(ctx=elsewhere, prescription_id=prescription.id)
    assert _audit(action="medications.prescription.create", outcome="denied").count() == 2


def test_a_draft_is_its_authors(org_a, w):
    colleague = clinician(org_a, "doctor", department=w.department)
    prescription = draft(w.doctor, w.patient, item("amoxicillin", **AMOX))
    for verb in ("prescription_sign", "prescription_check", "prescription_update"):
        with pytest.raises(NotFound):
            getattr(services, verb)(ctx=colleague, prescription_id=prescription.id)
    with pytest.raises(NotFound):
        services.prescription_cancel(ctx=colleague, prescription_id=prescription.id)


def test_signing_keeps_the_check_and_dates_the_course(w):
    prescription = draft(w.doctor, w.patient, item("amoxicillin", **AMOX))
    before = timezone.now()
    prescription = services.prescription_sign(ctx=w.doctor, prescription_id=prescription.id)
    assert prescription.status == "signed"
    assert prescription.prescriber_id == w.doctor.actor_id
    assert prescription.signed_at >= before
    assert prescription.expires_at == prescription.signed_at + dt.timedelta(days=30)
    (amoxicillin,) = _items(prescription)
    assert amoxicillin.starts_at == prescription.signed_at
    assert amoxicillin.ends_at == prescription.signed_at + dt.timedelta(days=5)
    (check,) = SafetyCheck.objects.for_tenant(w.doctor).filter(prescription=prescription)
    assert (check.purpose, check.outcome, check.alerts) == ("sign", "signed", [])
    assert check.knowledge_version
    history = PrescriptionEvent.objects.for_tenant(w.doctor).filter(prescription=prescription).order_by("at", "id")
    assert [(h.from_status, h.to_status) for h in history] == [("", "draft"), ("draft", "signed")]
    assert OutboxEvent.objects.filter(name="medications.prescription_issued").count() == 1
    assert DoseEvent.objects.for_tenant(w.doctor).filter(item=amoxicillin).exists()
    with pytest.raises(Conflict) as again:
        services.prescription_sign(ctx=w.doctor, prescription_id=prescription.id)
    assert again.value.code == "PRESCRIPTION_NOT_DRAFT"


def test_a_signed_prescription_does_not_change_through_the_services(w):
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    with pytest.raises(Conflict) as refused:
        services.prescription_update(
            ctx=w.doctor,
            prescription_id=prescription.id,
            items=[item("aspirin", form="tablet", strength="75 mg", dose_quantity="2")],
        )
    assert refused.value.code == "PRESCRIPTION_NOT_DRAFT"
    with pytest.raises(Conflict):
        services.prescription_check(ctx=w.doctor, prescription_id=prescription.id)
    assert [i.drug_code for i in _items(prescription)] == ["amoxicillin"]


def test_a_draft_is_updated_whole(w):
    prescription = draft(w.doctor, w.patient, item("amoxicillin", **AMOX))
    services.prescription_update(
        ctx=w.doctor,
        prescription_id=prescription.id,
        items=[item("aspirin", form="tablet", strength="75 mg", frequency="OD", duration_days=28)],
        pregnant=True,
    )
    (aspirin,) = _items(prescription)
    assert (aspirin.drug_code, aspirin.quantity) == ("aspirin", Decimal(28))
    assert _stored(prescription).pregnant


def test_cancelling_needs_a_reason_once_signed(w):
    scratch = draft(w.doctor, w.patient, item("amoxicillin", **AMOX))
    assert services.prescription_cancel(ctx=w.doctor, prescription_id=scratch.id).status == "cancelled"
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    with pytest.raises(ValidationFailed):
        services.prescription_cancel(ctx=w.doctor, prescription_id=prescription.id, reason=" ")
    cancelled = services.prescription_cancel(ctx=w.doctor, prescription_id=prescription.id, reason="rash")
    assert cancelled.status == "cancelled"
    assert _stored(prescription).cancel_reason == "rash"
    assert (
        not DoseEvent.objects.for_tenant(w.doctor)
        .filter(prescription=prescription, status="due", due_at__gt=timezone.now())
        .exists()
    )
    with pytest.raises(Conflict) as again:
        services.prescription_cancel(ctx=w.doctor, prescription_id=prescription.id, reason="twice")
    assert again.value.code == "ILLEGAL_TRANSITION"


def test_replacing_cancels_the_old_one_when_the_new_one_is_signed(w):
    old = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    replacement = services.prescription_replace(ctx=w.doctor, prescription_id=old.id)
    assert replacement.status == "draft"
    assert replacement.replaces_id == old.id
    assert [i.drug_code for i in _items(replacement)] == ["amoxicillin"]
    assert _stored(old).status == "signed"  # until the replacement is signed
    services.prescription_update(
        ctx=w.doctor, prescription_id=replacement.id, items=[item("amoxicillin", **AMOX, duration_days=7)]
    )
    # No duplicate-therapy alert against the prescription being replaced.
    new = services.prescription_sign(ctx=w.doctor, prescription_id=replacement.id)
    old = _stored(old)
    assert (old.status, old.replaced_by_id, old.cancelled_by_id) == ("cancelled", new.id, w.doctor.actor_id)
    assert old.cancel_reason == f"Replaced by {new.number}"
    assert _items(new)[0].quantity == Decimal(21)
    with pytest.raises(Conflict) as refused:
        services.prescription_replace(ctx=w.doctor, prescription_id=old.id)
    assert refused.value.code == "PRESCRIPTION_NOT_REPLACEABLE"


def test_a_replacement_of_something_cancelled_meanwhile_is_refused_whole(w):
    old = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    replacement = services.prescription_replace(ctx=w.doctor, prescription_id=old.id)
    services.prescription_cancel(ctx=w.doctor, prescription_id=old.id, reason="stopped")
    with pytest.raises(Conflict) as refused:
        services.prescription_sign(ctx=w.doctor, prescription_id=replacement.id)
    assert refused.value.code == "PRESCRIPTION_NOT_REPLACEABLE"
    assert _stored(replacement).status == "draft"
    assert not SafetyCheck.objects.for_tenant(w.doctor).filter(prescription=replacement).exists()


def test_prescriptions_past_their_validity_expire(w):
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    assert services.prescriptions_expire_due(now=timezone.now() + dt.timedelta(days=29)) == 0
    assert services.prescriptions_expire_due(now=timezone.now() + dt.timedelta(days=31)) == 1
    stored = _stored(prescription)
    assert (stored.status, stored.expired_at is not None) == ("expired", True)
    assert services.prescriptions_expire_due(now=timezone.now() + dt.timedelta(days=31)) == 0
    assert _audit(action="medications.prescription.expire", patient_id=w.patient.id).count() == 1
