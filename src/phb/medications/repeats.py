"""Repeat prescriptions on a patient's request: the patient asks from the portal for a repeat of one of
their prescriptions; a prescriber approves it (a new prescription with the same items, refills one
fewer, signed after the same safety check, linked to the one it repeats) or refuses it saying why;
the patient is told either way (after commit, through the outbox).

A prescription may be repeated while it is signed, being or fully dispensed, has not been repeated
already (the repeat is then the one to ask about), and has refills left or a course that has not
ended or ended at most `MEDICATIONS_REPEAT_RECENT_DAYS` ago. One request waits at a time."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.medications import policies, services
from phb.medications.events import RepeatDecided, RepeatRequested
from phb.medications.models import (
    ACTIVE_STATUSES,
    CheckPurpose,
    Prescription,
    PrescriptionItem,
    PrescriptionStatus,
    RepeatRequest,
    RepeatStatus,
)
from phb.patients.public import my_patient

NOTE_MAX_CHARS = 1_000


def repeat_ineligibility(
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    *,
    repeated: bool,
    now: dt.datetime | None = None,
) -> str:
    """Why the prescription cannot be repeated ("" when it can): not_active, already_repeated, ended."""
    now = now or timezone.now()
    if prescription.status not in ACTIVE_STATUSES:
        return "not_active"
    if repeated:
        return "already_repeated"
    if any(i.refills > 0 for i in items):
        return ""
    ends = [i.ends_at for i in items]
    if not ends or any(e is None for e in ends):
        return ""
    last = max(e for e in ends if e is not None)
    return "" if last >= now - dt.timedelta(days=settings.MEDICATIONS_REPEAT_RECENT_DAYS) else "ended"


REASONS = {
    "not_active": "only a signed or dispensed prescription can be repeated",
    "already_repeated": "this prescription was repeated already: ask for a repeat of the newer one",
    "ended": "the course ended too long ago and has no refills left: book an appointment",
}


def _repeated(ctx: Ctx, prescription_id: uuid.UUID) -> bool:
    return (
        Prescription.objects.for_tenant(ctx)
        .filter(repeat_of_id=prescription_id)
        .exclude(status=PrescriptionStatus.CANCELLED)
        .exists()
    )


def _items(ctx: Ctx, prescription: Prescription) -> list[PrescriptionItem]:
    return list(PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription).order_by("position"))


def repeat_request_create(*, ctx: Ctx, prescription_id: uuid.UUID, note: str = "") -> RepeatRequest:
    """The signed-in patient asks for a repeat of one of their own prescriptions."""
    action = "medications.repeat_request.create"
    note = services._text("note", note, limit=NOTE_MAX_CHARS)
    patient = my_patient(ctx)
    system = Ctx.system(reason="a patient asks for a repeat of their prescription")
    found = (
        Prescription.objects.for_system(system).filter(id=prescription_id, patient_id=patient.id).first()
        if patient is not None
        else None
    )
    if found is None or found.status == PrescriptionStatus.DRAFT:
        # SECURITY: someone else's prescription (or a draft nobody signed) does not exist for the patient.
        raise audit.denied(ctx, action, NotFound("no such prescription"), resource_id=str(prescription_id))
    at = ctx.as_patient_at(found.organization_id)
    with transaction.atomic():
        prescription = Prescription.objects.for_tenant(at).select_for_update().get(id=found.id)
        why = repeat_ineligibility(prescription, _items(at, prescription), repeated=_repeated(at, prescription.id))
        if why:
            raise Conflict(REASONS[why], code="REPEAT_NOT_ELIGIBLE", reason=why)
        if RepeatRequest.objects.for_tenant(at).filter(prescription=prescription, status=RepeatStatus.PENDING).exists():
            raise Conflict("a repeat of this prescription is already waiting", code="REPEAT_ALREADY_REQUESTED")
        try:
            with transaction.atomic():
                request = RepeatRequest.objects.create(
                    organization_id=prescription.organization_id,
                    prescription=prescription,
                    patient_id=prescription.patient_id,
                    requested_by_id=ctx.actor_id,
                    requested_at=timezone.now(),
                    note=note,
                )
        except IntegrityError:  # a second request at the same moment
            raise Conflict(
                "a repeat of this prescription is already waiting", code="REPEAT_ALREADY_REQUESTED"
            ) from None
        audit.record(at, action, target=request, patient_id=prescription.patient_id, prescription=str(prescription.id))
        events.publish(at, RepeatRequested(request_id=request.id, organization_id=request.organization_id))
    return request


def _for_decision(ctx: Ctx, action: str, request_id: uuid.UUID) -> RepeatRequest:
    """The request (unlocked), after the capability and care checks (audited refusals, before writing)."""
    if not policies.can_prescribe(ctx):
        raise audit.denied(ctx, action, Forbidden("repeats are decided by a prescriber"), resource_id=str(request_id))
    request = RepeatRequest.objects.for_tenant(ctx).filter(id=request_id).first()
    if request is None:
        raise audit.denied(ctx, action, NotFound("no such repeat request"), resource_id=str(request_id))
    policies.require_patient(ctx, action, request.patient_id, prescribe=True)
    return request


def _locked_pending(ctx: Ctx, request_id: uuid.UUID) -> RepeatRequest:
    request = RepeatRequest.objects.for_tenant(ctx).select_for_update().get(id=request_id)
    if request.status != RepeatStatus.PENDING:
        raise Conflict(f"this request was {request.status} already", code="REPEAT_ALREADY_DECIDED")
    return request


def _decided(ctx: Ctx, request: RepeatRequest, action: str) -> None:
    audit.record(
        ctx,
        action,
        target=request,
        patient_id=request.patient_id,
        status=request.status,
        new_prescription=str(request.new_prescription_id or ""),
    )
    events.publish(
        ctx, RepeatDecided(request_id=request.id, organization_id=request.organization_id, status=request.status)
    )


def repeat_request_approve(
    *, ctx: Ctx, request_id: uuid.UUID, overrides: Mapping[str, Any] | None = None
) -> RepeatRequest:
    """Approve: a new prescription repeating the items (refills one fewer), signed by `ctx`'s prescriber
    after the same safety check as any signature (422 OVERRIDE_REASON_REQUIRED when a contraindicated
    or major alert has no reason: nothing is written but the check and the audited refusal)."""
    action = "medications.repeat_request.approve"
    found = _for_decision(ctx, action, request_id)
    reasons = services.clean_overrides(overrides)
    with transaction.atomic():
        request = _locked_pending(ctx, found.id)
        old = Prescription.objects.for_tenant(ctx).select_for_update().get(id=request.prescription_id)
        old_items = _items(ctx, old)
        # The repeat itself does not count as a repeat of it, and a repeat asked for a prescription
        # another prescriber repeated meanwhile is refused.
        why = repeat_ineligibility(old, old_items, repeated=_repeated(ctx, old.id), now=request.requested_at)
        if why:
            raise Conflict(REASONS[why], code="REPEAT_NOT_ELIGIBLE", reason=why)
        copied = services._copied_items(ctx, old)
        for entry in copied:
            entry["refills"] = max(int(entry["refills"]) - 1, 0)
        new = services.prescription_create(
            ctx=ctx,
            patient_id=old.patient_id,
            items=copied,
            pharmacy_department_id=old.pharmacy_department_id,
            pregnant=old.pregnant,
            lactating=old.lactating,
            repeat_of_id=old.id,
        )
        new = Prescription.objects.for_tenant(ctx).select_for_update().get(id=new.id)
        result = services.sign_locked(ctx, new, reasons, purpose=CheckPurpose.REPEAT)
        if isinstance(result, services.Signed):
            request.status, request.decided_at, request.decided_by_id = (
                RepeatStatus.APPROVED,
                timezone.now(),
                ctx.actor_id,
            )
            request.new_prescription = new
            request.save(update_fields=["status", "decided_at", "decided_by", "new_prescription", "updated_at"])
            _decided(ctx, request, action)
            return request
        transaction.set_rollback(True)
    outcome, missing = result
    raise services.record_refusal(ctx, action, old, outcome, missing, purpose=CheckPurpose.REPEAT)


def repeat_request_refuse(*, ctx: Ctx, request_id: uuid.UUID, reason: str) -> RepeatRequest:
    """Refuse, saying why (the patient reads the reason)."""
    action = "medications.repeat_request.refuse"
    reason = services._text("reason", reason, limit=services.REASON_MAX_CHARS)
    if not reason:
        raise ValidationFailed.field("reason", "say why, for the patient", code="required")
    _for_decision(ctx, action, request_id)
    with transaction.atomic():
        request = _locked_pending(ctx, request_id)
        request.status, request.decided_at, request.decided_by_id = RepeatStatus.REFUSED, timezone.now(), ctx.actor_id
        request.refusal_reason = reason
        request.save(update_fields=["status", "decided_at", "decided_by", "refusal_reason", "updated_at"])
        _decided(ctx, request, action)
    return request
