"""Every write of scheduling: booking an appointment under its rules (against the workforce's schedules:
`phb.workforce`); moving an appointment through its status machine (transitions.TABLE).

Booking holds a lock on the practitioner's profile row (and on the patient's registration) for the
whole check-and-insert, so concurrent bookings of one practitioner run one after the other; a partial
unique constraint on (practitioner, start) of occupying appointments is the wall behind the lock."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.organizations.models import Department
from phb.patients import public as patients
from phb.patients.models import DataCategory, PatientRegistration, RegistrationStatus
from phb.patients.public import my_patient
from phb.scheduling import policies, reminders, slots, telemedicine, tickets, transitions
from phb.scheduling.events import AppointmentBooked, AppointmentStatusChanged
from phb.scheduling.models import (
    ACTIVE,
    OCCUPYING,
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    AppointmentType,
    IdempotencyKey,
    Priority,
    new_appointment_reference,
)
from phb.workforce import public as workforce
from phb.workforce.public import PractitionerProfile

QUEUE_MINUTES = 15  # a department-queue appointment's length when no practitioner is named
IDEMPOTENCY_TTL = dt.timedelta(hours=24)


def _department(ctx: Ctx, department_id: uuid.UUID | None) -> Department | None:
    if department_id is None:
        return None
    department = Department.objects.for_tenant(ctx).filter(id=department_id, is_active=True).first()
    if department is None:
        raise ValidationFailed.field("department_id", "no such department here")
    return department


def _profile(ctx: Ctx, practitioner_id: uuid.UUID, *, lock: bool = False) -> PractitionerProfile:
    profiles = PractitionerProfile.objects.for_tenant(ctx).filter(id=practitioner_id, is_active=True)
    profile = (profiles.select_for_update() if lock else profiles).first()
    if profile is None:
        raise NotFound("no such practitioner here")
    return profile


# --------------------------------------------------------------------------------------------------
# Booking
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """A checked request: what would be written."""

    registration: PatientRegistration
    practitioner: PractitionerProfile | None
    department: Department
    specialization: str
    start_at: dt.datetime
    end_at: dt.datetime
    fee: Decimal


def _check_booking(
    ctx: Ctx,
    *,
    patient_id: uuid.UUID,
    start_at: dt.datetime,
    practitioner_id: uuid.UUID | None,
    department_id: uuid.UUID | None,
    lock: bool,
    replacing: uuid.UUID | None = None,
) -> Booking:
    """Every booking rule, in order; raises the first one broken. With `lock`, holds the practitioner's
    profile and the patient's registration until the caller's transaction ends. `replacing` names an
    appointment being moved: it does not count against its own new time."""
    if timezone.is_naive(start_at):
        raise ValidationFailed.field("start_at", "give the time with its offset")
    if start_at <= timezone.now():
        raise ValidationFailed(
            "the appointment would start in the past",
            code="IN_THE_PAST",
            errors=[{"field": "start_at", "message": "in the past", "code": "IN_THE_PAST"}],
        )
    if practitioner_id is None and department_id is None:
        raise ValidationFailed.field("department_id", "name a practitioner or a department", code="required")
    # SECURITY: lock order is always profile, then registration (no deadlock between two bookings).
    practitioner = _profile(ctx, practitioner_id, lock=lock) if practitioner_id else None
    registrations = PatientRegistration.objects.for_tenant(ctx).filter(
        patient_id=patient_id, status=RegistrationStatus.APPROVED, patient__merged_into__isnull=True
    )
    registration = (registrations.select_for_update(of=("self",)) if lock else registrations).first()
    if registration is None:
        raise Conflict("the patient has no approved registration here", code="PATIENT_NOT_REGISTERED")
    if practitioner is not None and practitioner.department_id is not None:
        if department_id is not None and department_id != practitioner.department_id:
            raise ValidationFailed.field("department_id", "the practitioner works in another department")
        department_id = practitioner.department_id
    department = _department(ctx, department_id)
    if department is None:
        raise ValidationFailed.field("department_id", "the practitioner has no department: name one", code="required")

    zone = slots.organization_zone(ctx)
    local = start_at.astimezone(zone)
    day_start, day_end = slots.local_day_bounds(local.date(), zone)
    appointments = Appointment.objects.for_tenant(ctx)
    if replacing is not None:
        appointments = appointments.exclude(id=replacing)
    if practitioner is None:
        end_at = start_at + dt.timedelta(minutes=QUEUE_MINUTES)
        specialization, fee = department.code, Decimal("0")
    else:
        windows = workforce.windows_of_day(ctx=ctx, practitioner=practitioner, weekday=local.weekday())
        window = next(
            (w for w in windows if any(s == local for s, _ in workforce.window_slots(w, local.date(), zone))),
            None,
        )
        if window is None:
            raise Conflict("the practitioner does not see patients at that time", code="PRACTITIONER_UNAVAILABLE")
        end_at = start_at + dt.timedelta(minutes=window.slot_minutes)
        why = workforce.unavailability(ctx=ctx, practitioner=practitioner, start=start_at, end=end_at, zone=zone)
        if why:
            raise Conflict(
                f"the practitioner does not see patients at that time: {why}", code="PRACTITIONER_UNAVAILABLE"
            )
        mine = appointments.filter(practitioner=practitioner, status__in=OCCUPYING)
        if slots.overlapping(mine, day_start, day_end).count() >= workforce.daily_maximum(windows):
            raise Conflict("the practitioner's day is fully booked", code="DAILY_MAXIMUM")
        if slots.overlapping(mine, start_at, end_at).exists():
            raise Conflict("this slot is taken", code="SLOT_TAKEN")
        specialization, fee = practitioner.specialization, practitioner.consultation_fee
    same_day = appointments.filter(
        patient_id=patient_id,
        specialization=specialization,
        status__in=ACTIVE,
        start_at__gte=day_start,
        start_at__lt=day_end,
    )
    if same_day.exists():
        raise Conflict(
            "the patient already has an appointment in this specialty that day", code="SAME_DAY_SAME_SPECIALTY"
        )
    return Booking(registration, practitioner, department, specialization, start_at, end_at, fee)


@dataclass(frozen=True)
class ConflictAnswer:
    conflict: bool
    code: str = ""
    detail: str = ""


def check_conflict(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    start_at: dt.datetime,
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
) -> ConflictAnswer:
    """Whether booking this would be refused, and why (the code booking would raise), without booking."""
    if not policies.can_book(ctx):
        raise Forbidden("checking a booking needs the permission to manage appointments")
    try:
        _check_booking(
            ctx,
            patient_id=patient_id,
            start_at=start_at,
            practitioner_id=practitioner_id,
            department_id=department_id,
            lock=False,
        )
    except (Conflict, ValidationFailed, NotFound) as exc:
        return ConflictAnswer(conflict=True, code=exc.code, detail=exc.detail)
    return ConflictAnswer(conflict=False)


def _request_hash(**request: Any) -> str:
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def appointment_book(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    start_at: dt.datetime,
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    kind: str = AppointmentType.IN_PERSON,
    priority: str = Priority.NORMAL,
    chief_complaint: str = "",
    symptoms: list[str] | None = None,
    notes: str = "",
    idempotency_key: str = "",
) -> Appointment:
    """Book an appointment, pending confirmation. With an `idempotency_key` seen here in the last 24
    hours for the same request, returns the appointment that request booked."""
    if not policies.can_book(ctx):
        raise Forbidden("booking needs the permission to manage appointments")
    if kind not in AppointmentType.values:
        raise ValidationFailed.field("kind", "unknown appointment type")
    if priority not in Priority.values:
        raise ValidationFailed.field("priority", "unknown priority")
    request_hash = _request_hash(
        patient_id=patient_id,
        start_at=start_at.isoformat(),
        practitioner_id=practitioner_id,
        department_id=department_id,
        kind=kind,
        priority=priority,
        chief_complaint=chief_complaint,
        symptoms=symptoms,
        notes=notes,
    )
    with transaction.atomic():
        if idempotency_key:
            replay = _idempotent_replay(ctx, idempotency_key, request_hash)
            if replay is not None:
                return replay
        booking = _check_booking(
            ctx,
            patient_id=patient_id,
            start_at=start_at,
            practitioner_id=practitioner_id,
            department_id=department_id,
            lock=True,
        )
        appointment = _insert(ctx, booking, kind, priority, chief_complaint, symptoms, notes)
        AppointmentTransition.objects.create(
            organization_id=ctx.organization_id,
            appointment=appointment,
            from_status="",
            to_status=appointment.status,
            actor_id=ctx.actor_id,
            at=timezone.now(),
        )
        if idempotency_key:
            _idempotency_remember(ctx, idempotency_key, request_hash, appointment)
        reminders.reminders_plan(ctx=ctx, appointment=appointment)
        audit.record(
            ctx,
            "scheduling.appointment.book",
            target=appointment,
            patient_id=patient_id,
            practitioner=str(practitioner_id or ""),
        )
        events.publish(
            ctx,
            AppointmentBooked(
                appointment_id=appointment.id,
                organization_id=appointment.organization_id,
                patient_id=patient_id,
                practitioner_id=practitioner_id,
            ),
        )
    return appointment


def _insert(
    ctx: Ctx,
    booking: Booking,
    kind: str,
    priority: str,
    chief_complaint: str,
    symptoms: list[str] | None,
    notes: str,
) -> Appointment:
    for _ in range(5):
        appointment = Appointment(
            organization_id=ctx.organization_id,
            reference=new_appointment_reference(),
            patient_id=booking.registration.patient_id,
            practitioner=booking.practitioner,
            department=booking.department,
            specialization=booking.specialization,
            start_at=booking.start_at,
            end_at=booking.end_at,
            kind=kind,
            priority=priority,
            chief_complaint=chief_complaint,
            symptoms=symptoms,
            notes=notes,
            fee=booking.fee,
            booked_by_id=ctx.actor_id,
            meeting_url=telemedicine.meeting_url_create() if kind == AppointmentType.TELEMEDICINE else "",
        )
        try:
            with transaction.atomic():
                appointment.save(force_insert=True)
        except IntegrityError as exc:
            if "appointment_reference_unique" in str(exc) or "reference" in str(exc):
                continue  # a random reference drawn twice: draw again
            # The constraint behind the lock: someone booked this start in between.
            raise Conflict("this slot is taken", code="SLOT_TAKEN") from exc
        return appointment
    raise Conflict("could not draw a free appointment reference; try again", code="REFERENCE_EXHAUSTED")


def _idempotent_replay(ctx: Ctx, key: str, request_hash: str) -> Appointment | None:
    keys = IdempotencyKey.objects.for_tenant(ctx).filter(key=key)
    seen = keys.filter(created_at__gte=timezone.now() - IDEMPOTENCY_TTL).select_related("appointment").first()
    if seen is None:
        keys.delete()  # an expired key may be used again
        return None
    if seen.request_hash != request_hash:
        raise Conflict("this Idempotency-Key was used for another request", code="IDEMPOTENCY_KEY_REUSED")
    audit.record(
        ctx, "scheduling.appointment.book", target=seen.appointment, patient_id=seen.appointment.patient_id, replay=True
    )
    return seen.appointment


def _idempotency_remember(ctx: Ctx, key: str, request_hash: str, appointment: Appointment) -> None:
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                organization_id=ctx.organization_id, key=key, request_hash=request_hash, appointment=appointment
            )
    except IntegrityError as exc:
        raise Conflict(
            "a request with this Idempotency-Key is being processed; retry to get its result",
            code="IDEMPOTENCY_KEY_IN_USE",
        ) from exc


# --------------------------------------------------------------------------------------------------
# The status machine
# --------------------------------------------------------------------------------------------------


def appointment_transition(*, ctx: Ctx, appointment_id: uuid.UUID, to_status: str, reason: str = "") -> Appointment:
    """Move an appointment to `to_status` if the table allows it from where it is, for this actor."""
    action = f"scheduling.appointment.{to_status}"
    if not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    with transaction.atomic():
        appointment = Appointment.objects.for_tenant(ctx).filter(id=appointment_id).select_for_update().first()
        refused = _transition(ctx, appointment, to_status, reason.strip(), action)
    if refused is not None:
        # Recorded after the transaction: a refusal is audited even though nothing was written.
        raise audit.denied(ctx, action, refused, appointment=str(appointment_id))
    assert appointment is not None
    return appointment


def appointment_accept(*, ctx: Ctx, appointment_id: uuid.UUID) -> Appointment:
    """A practitioner accepts a pending appointment: one booked with them, or one waiting in their
    department's queue with no practitioner named, which becomes theirs (at its time, if they have
    nothing else then). Either way it is confirmed, and the patient's reminders are planned."""
    action = "scheduling.appointment.accept"
    if not ctx.has_perm(transitions.TREAT):
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    refused: Exception | None = None
    with transaction.atomic():
        # SECURITY: lock order as in booking: the practitioner's profile, then the appointment.
        profile = (
            PractitionerProfile.objects.for_tenant(ctx)
            .filter(user_id=ctx.actor_id, is_active=True)
            .select_for_update()
            .first()
        )
        appointment = _locked(ctx, appointment_id)
        if profile is None:
            refused = Forbidden("only a practitioner of this organization accepts appointments")
        elif appointment is None or not (
            appointment.practitioner_id == profile.id
            or (appointment.practitioner_id is None and appointment.department_id == profile.department_id)
        ):
            # Another practitioner's, or another department's queue: not this practitioner's to see.
            refused = NotFound("no such appointment here")
        else:
            refused = _allowed(ctx, appointment, AppointmentStatus.CONFIRMED, by_practitioner=True)
        if refused is None:
            assert appointment is not None
            assert profile is not None
            if appointment.practitioner_id is None:
                mine = Appointment.objects.for_tenant(ctx).filter(practitioner=profile, status__in=OCCUPYING)
                if slots.overlapping(mine, appointment.start_at, appointment.end_at).exists():
                    raise Conflict("you have another appointment at that time", code="SLOT_TAKEN")
                appointment.practitioner = profile
                appointment.save(update_fields=["practitioner", "updated_at"])
            refused = _transition(ctx, appointment, AppointmentStatus.CONFIRMED, "", action, by_practitioner=True)
    if refused is not None:
        raise audit.denied(ctx, action, refused, appointment=str(appointment_id))
    assert appointment is not None
    return appointment


# Statuses after which an appointment is not reminded of.
_ENDS_REMINDERS = {
    AppointmentStatus.CANCELLED,
    AppointmentStatus.REJECTED,
    AppointmentStatus.NO_SHOW,
    AppointmentStatus.REFERRED,
    AppointmentStatus.RESCHEDULED,
}


def _transition(
    ctx: Ctx,
    appointment: Appointment | None,
    to_status: str,
    reason: str,
    action: str,
    *,
    by_patient: bool = False,
    by_practitioner: bool = False,
    own_service: bool = False,
) -> Exception | None:
    """Make the change, or return the refusal to audit (not found, not allowed). `by_patient`: the
    patient acts on their own appointment, which the table must allow them (`patient_may`).
    `by_practitioner`: the appointment's practitioner acts on it (`practitioner_may`, with TREAT).
    `own_service`: the caller is the service a transition marked `own_service` must go through."""
    refused = _allowed(ctx, appointment, to_status, by_patient=by_patient, by_practitioner=by_practitioner)
    if refused is not None:
        return refused
    assert appointment is not None
    transition = _find(appointment, to_status)
    if transition.own_service and not own_service:
        raise ValidationFailed.field(
            "to_status",
            f"use the {transition.action} action, which does what this change leads to",
            code="NEEDS_OWN_ACTION",
        )
    if transition.reason_required and not reason:
        raise ValidationFailed.field("reason", "say why", code="required")
    from_status = appointment.status
    appointment.status = to_status
    appointment.save(update_fields=["status", "updated_at"])
    AppointmentTransition.objects.create(
        organization_id=ctx.organization_id,
        appointment=appointment,
        from_status=from_status,
        to_status=to_status,
        actor_id=ctx.actor_id,
        at=timezone.now(),
        reason=reason,
    )
    if to_status in _ENDS_REMINDERS:
        reminders.reminders_cancel(ctx=ctx, appointment=appointment)
    elif to_status == AppointmentStatus.CONFIRMED:
        reminders.reminders_plan(ctx=ctx, appointment=appointment)
    audit.record(
        ctx, action, target=appointment, patient_id=appointment.patient_id, from_status=from_status, to_status=to_status
    )
    events.publish(
        ctx,
        AppointmentStatusChanged(
            appointment_id=appointment.id,
            organization_id=appointment.organization_id,
            from_status=from_status,
            to_status=to_status,
        ),
    )
    return None


# --------------------------------------------------------------------------------------------------
# Moving an appointment: reschedule, refer; the patient's own cancellation; missed appointments
# --------------------------------------------------------------------------------------------------


def _locked(ctx: Ctx, appointment_id: uuid.UUID) -> Appointment | None:
    return Appointment.objects.for_tenant(ctx).filter(id=appointment_id).select_for_update().first()


def _find(appointment: Appointment, to_status: str) -> transitions.Transition:
    """The table's move of `appointment` to `to_status`; ILLEGAL_TRANSITION when there is none."""
    transition = transitions.find(appointment.status, to_status)
    if transition is None:
        raise Conflict(
            f"an appointment that is {appointment.status} cannot become {to_status}",
            code="ILLEGAL_TRANSITION",
            from_status=appointment.status,
            to_status=to_status,
        )
    return transition


def _allowed(
    ctx: Ctx,
    appointment: Appointment | None,
    to_status: str,
    *,
    by_patient: bool = False,
    by_practitioner: bool = False,
) -> Exception | None:
    """The refusal a move of `appointment` to `to_status` would meet before anything is written (to
    audit; an illegal move raises). `by_patient`: the patient moves their own appointment, which the
    table must allow them (`patient_may`). `by_practitioner`: the appointment's practitioner acts on
    it (`practitioner_may`, with TREAT)."""
    if appointment is None:
        return NotFound("no such appointment here")
    transition = _find(appointment, to_status)
    if by_patient:
        if not transition.patient_may:
            return Forbidden("a patient cannot make this change")
    elif by_practitioner:
        if not (transition.practitioner_may and ctx.has_perm(transitions.TREAT)):
            return Forbidden("the practitioner cannot make this change")
    elif not ctx.has_perm(transition.permission):
        return Forbidden(f"this change needs {transition.permission}")
    return None


def _mine(ctx: Ctx, appointment_id: uuid.UUID, action: str, verb: str, now: dt.datetime | None) -> Ctx:
    """For a patient acting on their own appointment: the context to act in (theirs, as a patient of
    the appointment's organization), after the ownership check and the online cut-off. Someone else's
    appointment is "not found"."""
    patient = patients.my_patient(ctx)
    system = Ctx.system(reason=f"a patient {verb}s their own appointment")
    found = (
        Appointment.objects.for_system(system).filter(id=appointment_id, patient_id=patient.id).first()
        if patient is not None
        else None
    )
    if found is None:
        # SECURITY: someone else's appointment is not found.
        raise audit.denied(ctx, action, NotFound("no such appointment"), appointment=str(appointment_id))
    hours = settings.SCHEDULING_CANCEL_CUTOFF_HOURS
    cutoff = found.start_at - dt.timedelta(hours=hours)
    if (now or timezone.now()) > cutoff:
        raise audit.denied(
            ctx,
            action,
            Conflict(
                f"appointments can be changed online until {hours} hours before; call the hospital",
                code=f"{verb.upper()}_CUTOFF_PASSED",
                cutoff_at=cutoff.isoformat(),
            ),
            appointment=str(appointment_id),
        )
    return ctx.as_patient_at(found.organization_id)


def _booking_transition(ctx: Ctx, appointment: Appointment, reason: str) -> None:
    AppointmentTransition.objects.create(
        organization_id=appointment.organization_id,
        appointment=appointment,
        from_status="",
        to_status=appointment.status,
        actor_id=ctx.actor_id,
        at=timezone.now(),
        reason=reason,
    )


def appointment_reschedule(
    *,
    ctx: Ctx,
    appointment_id: uuid.UUID,
    new_start: dt.datetime,
    practitioner_id: uuid.UUID | None = None,
    reason: str = "",
    as_patient: bool = False,
    now: dt.datetime | None = None,
) -> Appointment:
    """Move an appointment to a new time (and practitioner, if named): the new one is booked under
    every booking rule, the old one becomes `rescheduled` and links to it, its reminders move. The
    new appointment keeps the old one's status (pending or confirmed), type, priority and notes.

    `as_patient`: the signed-in patient moves their own appointment (anyone else's is "not found"),
    until `SCHEDULING_CANCEL_CUTOFF_HOURS` before it starts (else RESCHEDULE_CUTOFF_PASSED), to
    another time of the same department (of the same practitioner unless another is named)."""
    action = "scheduling.appointment.reschedule"
    if as_patient:
        ctx = _mine(ctx, appointment_id, action, "reschedule", now)
    elif not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    refused: Exception | None = None
    with transaction.atomic():
        old = _locked(ctx, appointment_id)
        refused = _allowed(ctx, old, AppointmentStatus.RESCHEDULED, by_patient=as_patient)
        if refused is None:
            assert old is not None
            same_practitioner = practitioner_id or old.practitioner_id
            booking = _check_booking(
                ctx,
                patient_id=old.patient_id,
                start_at=new_start,
                practitioner_id=same_practitioner,
                # A patient stays in the department they were booked into.
                department_id=old.department_id if as_patient or not same_practitioner else None,
                lock=True,
                replacing=old.id,
            )
            new = _insert(ctx, booking, old.kind, old.priority, old.chief_complaint, old.symptoms, old.notes)
            if old.status != new.status or old.meeting_url:
                new.status = old.status
                new.meeting_url = old.meeting_url or new.meeting_url
                new.save(update_fields=["status", "meeting_url", "updated_at"])
            _booking_transition(ctx, new, f"rescheduled from {old.reference}")
            _transition(
                ctx,
                old,
                AppointmentStatus.RESCHEDULED,
                reason.strip() or f"moved to {new.reference}",
                action,
                by_patient=as_patient,
                own_service=True,
            )
            old.rescheduled_to = new
            old.save(update_fields=["rescheduled_to", "updated_at"])
            reminders.reminders_plan(ctx=ctx, appointment=new)
            audit.record(
                ctx, "scheduling.appointment.book", target=new, patient_id=new.patient_id, replaces=str(old.id)
            )
            events.publish(
                ctx,
                AppointmentBooked(
                    appointment_id=new.id,
                    organization_id=new.organization_id,
                    patient_id=new.patient_id,
                    practitioner_id=new.practitioner_id,
                ),
            )
    if refused is not None:
        raise audit.denied(ctx, action, refused, appointment=str(appointment_id))
    return new


def appointment_refer(
    *,
    ctx: Ctx,
    appointment_id: uuid.UUID,
    reason: str,
    to_department_id: uuid.UUID | None = None,
    to_organization_id: uuid.UUID | None = None,
) -> Appointment:
    """Refer the patient on: the appointment becomes `referred` and a pending request waits in the
    target department's queue (no practitioner, no agreed time yet: its start is when it was made),
    linked back by `referred_from`. Another organization receives it only when the patient's consent
    shares their visits with it and the patient is registered there."""
    action = "scheduling.appointment.refer"
    if not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    if not reason.strip():
        raise ValidationFailed.field("reason", "say why the patient is referred", code="required")
    if to_department_id is None:
        raise ValidationFailed.field(
            "to_department_id", "name the department that receives the patient", code="required"
        )
    refused: Exception | None = None
    with transaction.atomic():
        old = _locked(ctx, appointment_id)
        refused = _allowed(ctx, old, AppointmentStatus.REFERRED)
        if refused is None:
            assert old is not None
            target = _referral_target(ctx, old, to_department_id, to_organization_id)
            now = timezone.now()
            new = Appointment(
                organization_id=target.organization_id,
                reference=new_appointment_reference(),
                patient_id=old.patient_id,
                department=target,
                specialization=target.code,
                start_at=now,
                end_at=now + dt.timedelta(minutes=QUEUE_MINUTES),
                kind=old.kind if old.kind != AppointmentType.TELEMEDICINE else AppointmentType.IN_PERSON,
                priority=old.priority,
                chief_complaint=old.chief_complaint,
                symptoms=old.symptoms,
                booked_by_id=ctx.actor_id,
                referred_from=old,
            )
            new.save(force_insert=True)
            _booking_transition(ctx, new, f"referred from {old.reference}")
            _transition(ctx, old, AppointmentStatus.REFERRED, reason.strip(), action, own_service=True)
            audit.record(
                ctx,
                "scheduling.appointment.book",
                target=new,
                patient_id=new.patient_id,
                organization_id=new.organization_id,
                referred_from=str(old.id),
            )
    if refused is not None:
        raise audit.denied(ctx, action, refused, appointment=str(appointment_id))
    return new


def _referral_target(
    ctx: Ctx, old: Appointment, to_department_id: uuid.UUID, to_organization_id: uuid.UUID | None
) -> Department:
    if to_organization_id is None or to_organization_id == old.organization_id:
        department = _department(ctx, to_department_id)
        assert department is not None
        return department
    system = Ctx.system(reason="a referral to another organization", organization_id=to_organization_id)
    if not Organization.objects.for_platform(system).filter(id=to_organization_id).exists():
        raise ValidationFailed.field("to_organization_id", "no such organization")
    # SECURITY: the patient's data crosses to another organization only with their consent.
    if not patients.consent_allows(old.patient_id, old.organization_id, to_organization_id, DataCategory.ENCOUNTERS):
        raise Conflict(
            "the patient has not consented to share their visits with that organization", code="CONSENT_REQUIRED"
        )
    registered = (
        PatientRegistration.objects.for_tenant(system)
        .filter(patient_id=old.patient_id, status=RegistrationStatus.APPROVED)
        .exists()
    )
    if not registered:
        raise Conflict("the patient is not registered at that organization", code="PATIENT_NOT_REGISTERED")
    department = Department.objects.for_tenant(system).filter(id=to_department_id, is_active=True).first()
    if department is None:
        raise ValidationFailed.field("to_department_id", "no such department at that organization")
    return department


def appointment_cancel_mine(
    *, ctx: Ctx, appointment_id: uuid.UUID, reason: str, now: dt.datetime | None = None
) -> Appointment:
    """A patient cancels their own appointment, up to `SCHEDULING_CANCEL_CUTOFF_HOURS` before it
    starts (staff may cancel at any time through `appointment_transition`)."""
    action = "scheduling.appointment.cancelled"
    patient = patients.my_patient(ctx)
    if patient is None:
        raise audit.denied(ctx, action, NotFound("no such appointment"), appointment=str(appointment_id))
    system = Ctx.system(reason="a patient cancels their own appointment")
    found = Appointment.objects.for_system(system).filter(id=appointment_id, patient_id=patient.id).first()
    if found is None:
        # SECURITY: someone else's appointment is not found.
        raise audit.denied(ctx, action, NotFound("no such appointment"), appointment=str(appointment_id))
    at = ctx.as_patient_at(found.organization_id)
    cutoff = found.start_at - dt.timedelta(hours=settings.SCHEDULING_CANCEL_CUTOFF_HOURS)
    if (now or timezone.now()) > cutoff:
        raise Conflict(
            f"appointments can be cancelled online until {settings.SCHEDULING_CANCEL_CUTOFF_HOURS} hours before; "
            "call the hospital",
            code="CANCELLATION_CUTOFF_PASSED",
            cutoff_at=cutoff.isoformat(),
        )
    with transaction.atomic():
        appointment = _locked(at, appointment_id)
        refused = _transition(at, appointment, AppointmentStatus.CANCELLED, reason.strip(), action, by_patient=True)
    if refused is not None:
        raise audit.denied(at, action, refused, appointment=str(appointment_id))
    assert appointment is not None
    return appointment


def no_shows_mark(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Mark appointments nobody checked in for `SCHEDULING_NO_SHOW_GRACE_MINUTES` after their start
    as missed (scheduled every minute), as a system transition. A referral waiting in a department's
    queue has no agreed time and is left alone. Returns how many were marked."""
    now = now or timezone.now()
    grace = dt.timedelta(minutes=settings.SCHEDULING_NO_SHOW_GRACE_MINUTES)
    system = Ctx.system(reason="mark missed appointments")
    late = (
        Appointment.objects.for_system(system)
        .filter(status__in=[AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED], start_at__lte=now - grace)
        .exclude(referred_from__isnull=False, practitioner__isnull=True, status=AppointmentStatus.PENDING)
        .order_by("start_at")
        .values_list("id", "organization_id")[:limit]
    )
    marked = 0
    for appointment_id, organization_id in list(late):
        ctx = system.for_organization(organization_id)
        with transaction.atomic():
            appointment = (
                Appointment.objects.for_tenant(ctx)
                .filter(id=appointment_id, status__in=[AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED])
                .select_for_update()
                .first()
            )
            if appointment is None:
                continue  # checked in, or marked by another worker, meanwhile
            _transition(
                ctx,
                appointment,
                AppointmentStatus.NO_SHOW,
                f"not checked in {settings.SCHEDULING_NO_SHOW_GRACE_MINUTES} minutes after the start",
                "scheduling.appointment.no_show",
            )
            marked += 1
    return marked


# --------------------------------------------------------------------------------------------------
# Check-in at the desk; booking and cancelling by patients in the portal
# --------------------------------------------------------------------------------------------------


def appointment_check_in(*, ctx: Ctx, appointment_id: uuid.UUID) -> Appointment:
    """Check a patient in and give them their ticket for the day's queue of the department, all or
    nothing. At the desk a pending appointment is confirmed, then checked in (both changes in the
    history); a kiosk, which may only check in, checks a pending one in directly (arriving confirms
    it). Returns the appointment; its ticket is `tickets.ticket_issue`'s (idempotent)."""
    action = "scheduling.appointment.checked_in"
    if not policies.can_check_in(ctx):
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    with transaction.atomic():
        appointment = _locked(ctx, appointment_id)
        refused: Exception | None = None
        if (
            appointment is not None
            and appointment.status == AppointmentStatus.PENDING
            and ctx.has_perm(transitions.MANAGE)
        ):
            refused = _transition(
                ctx,
                appointment,
                AppointmentStatus.CONFIRMED,
                "",
                "scheduling.appointment.confirmed",
            )
        if refused is None:
            refused = _transition(ctx, appointment, AppointmentStatus.CHECKED_IN, "", action, own_service=True)
        if refused is None:
            assert appointment is not None
            tickets.ticket_issue(ctx=ctx, appointment=appointment)
    if refused is not None:
        raise audit.denied(ctx, action, refused, appointment=str(appointment_id))
    assert appointment is not None
    return appointment


def appointment_book_by_patient(
    *,
    ctx: Ctx,
    organization_id: uuid.UUID,
    start_at: dt.datetime,
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    chief_complaint: str = "",
) -> Appointment:
    """A patient books for themselves, at a hospital where they are registered, under every booking
    rule the desk follows; the appointment is pending until the desk confirms it."""
    patient = my_patient(ctx)
    if patient is None:
        raise NotFound("no patient record is linked to this account")
    if len(chief_complaint) > 2000:
        raise ValidationFailed.field("chief_complaint", "at most 2,000 characters")
    at = ctx.as_patient_at(organization_id)
    with transaction.atomic():
        booking = _check_booking(
            at,
            patient_id=patient.id,
            start_at=start_at,
            practitioner_id=practitioner_id,
            department_id=department_id,
            lock=True,
        )
        appointment = _insert(at, booking, AppointmentType.IN_PERSON, Priority.NORMAL, chief_complaint, None, "")
        AppointmentTransition.objects.create(
            organization_id=organization_id,
            appointment=appointment,
            from_status="",
            to_status=appointment.status,
            actor_id=ctx.actor_id,
            at=timezone.now(),
        )
        audit.record(at, "scheduling.appointment.book", target=appointment, patient_id=patient.id, by_patient=True)
        events.publish(
            at,
            AppointmentBooked(
                appointment_id=appointment.id,
                organization_id=organization_id,
                patient_id=patient.id,
                practitioner_id=booking.practitioner.id if booking.practitioner else None,
            ),
        )
    return appointment
