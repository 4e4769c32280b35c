"""Telling people what happened to prescriptions, after commit (outbox handlers call these): the
prescriber of a patient's repeat request, the patient of the decision, the prescriber of repeated
missed doses (once per episode). Messages carry references, never a drug, a dose or a name."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from phb.accounts.models import User
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.medications.models import MissEpisode, Prescription, RepeatRequest, RepeatStatus
from phb.notifications.services import Recipient, notify
from phb.patients.models import Patient


def _organization(ctx: Ctx) -> str:
    return Organization.objects.for_tenant(ctx).values_list("name", flat=True).first() or ""


def _user(user_id: uuid.UUID) -> Recipient:
    user = User.objects.get(id=user_id)
    return Recipient(ref=str(user.id), user_id=user.id, email=user.email, phone=user.phone)


def _patient(patient_id: uuid.UUID) -> Recipient:
    patient = Patient.objects.select_related("user").get(id=patient_id)
    return Recipient(
        ref=f"patient:{patient.id}",
        user_id=patient.user_id,
        email=patient.email or (patient.user.email if patient.user is not None else ""),
        phone=patient.phone,
    )


def repeat_requested_notify(*, request_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """The prescriber of the prescription hears of the patient's request."""
    ctx = Ctx.system(reason="tell a prescriber of a repeat request", organization_id=organization_id)
    request = RepeatRequest.objects.for_tenant(ctx).select_related("prescription").filter(id=request_id).first()
    if request is None or request.status != RepeatStatus.PENDING or request.prescription.prescriber_id is None:
        return False
    notify(
        ctx=ctx,
        recipient=_user(request.prescription.prescriber_id),
        template_code="medications.repeat_requested",
        context={"reference": request.prescription.number, "organization": _organization(ctx)},
    )
    return True


def repeat_decided_notify(*, request_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """The patient hears whether their repeat was approved (and its new number) or refused."""
    ctx = Ctx.system(reason="tell a patient of the decision on their repeat request", organization_id=organization_id)
    request = (
        RepeatRequest.objects.for_tenant(ctx)
        .select_related("prescription", "new_prescription")
        .filter(id=request_id)
        .first()
    )
    if request is None or request.status == RepeatStatus.PENDING:
        return False
    context = {
        "reference": request.prescription.number,
        "organization": _organization(ctx),
        "new_reference": request.new_prescription.number if request.new_prescription else "",
    }
    notify(
        ctx=ctx,
        recipient=_patient(request.patient_id),
        template_code=f"medications.repeat_{request.status}",
        context=context,
    )
    audit.record(ctx, "medications.repeat_request.notify", target=request, patient_id=request.patient_id)
    return True


def doses_missed_notify(*, episode_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """The prescriber hears of a run of missed doses, once per episode (however often the event comes)."""
    ctx = Ctx.system(reason="tell a prescriber of repeated missed doses", organization_id=organization_id)
    with transaction.atomic():
        # SECURITY: the claim: only the delivery whose update sets `notified_at` sends.
        claimed = (
            MissEpisode.objects.for_tenant(ctx)
            .filter(id=episode_id, notified_at__isnull=True)
            .update(notified_at=timezone.now())
        )
        if not claimed:
            return False
        episode = MissEpisode.objects.for_tenant(ctx).select_related("item").get(id=episode_id)
        number = (
            Prescription.objects.for_tenant(ctx)
            .filter(id=episode.item.prescription_id)
            .values_list("number", flat=True)
            .first()
        )
        notify(
            ctx=ctx,
            recipient=_user(episode.recipient_id),
            template_code="medications.doses_missed",
            context={"reference": number or "", "organization": _organization(ctx), "misses": episode.misses},
        )
        audit.record(ctx, "medications.miss_episode.notify", target=episode, patient_id=episode.patient_id)
    return True
