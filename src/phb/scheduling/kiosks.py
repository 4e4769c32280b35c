"""Kiosks: devices of the hospital that run with no one signed in. A self check-in kiosk in the
entrance checks patients in by their appointment reference and date of birth; a waiting-room display
shows one department's queue by ticket number. Both are registered by a hospital administrator and
enrolled on the device by opening "enrol this device" there, which leaves a long-lived cookie holding
a random token (only its SHA-256 is stored; revoking clears it).

SECURITY: a kiosk acts in a device context (`Ctx.device`) of its organization that holds only the
check-in permission (a display holds none): no staff session ever runs on it. It answers a mismatch
with one message whatever was wrong (an unknown reference and a wrong date of birth are the same
answer), pauses after repeated failures (counted per kiosk in the cache), audits every failure, and
shows a ticket, a position and a wait: never a name or anything about the patient's health."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from phb.accounts.models import User
from phb.kernel import audit
from phb.kernel.context import Ctx, PurposeOfUse
from phb.kernel.errors import Conflict, Forbidden, NotFound, RateLimitExceeded, ValidationFailed
from phb.organizations.models import Department
from phb.scheduling import policies, queueing, services, slots, tickets, transitions
from phb.scheduling.models import Appointment, AppointmentStatus, Kiosk, KioskKind
from phb.workforce.public import PractitionerProfile

COOKIE_NAME = "phb_kiosk"
COOKIE_PATH = "/kiosk/"
NO_MATCH = (
    "We could not find an appointment for today with this reference and date of birth. Please check your "
    "confirmation, or ask at the reception desk."
)
SEE_THE_DESK = "This appointment cannot be checked in here. Please ask at the reception desk."
PAUSED = "This kiosk is paused for a few minutes after several unsuccessful attempts. Please ask at the reception desk."
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_REFERENCE = re.compile(rf"^[{_CROCKFORD}]{{8}}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Registering and enrolling kiosks (hospital administrators)
# --------------------------------------------------------------------------------------------------


def _require_manager(ctx: Ctx, action: str) -> None:
    if not policies.can_manage_kiosks(ctx):
        raise audit.denied(ctx, action, Forbidden("managing kiosks needs the permission to manage departments"))


def kiosk_list(*, ctx: Ctx) -> QuerySet[Kiosk]:
    """The organization's kiosks, by name (no health data)."""
    _require_manager(ctx, "scheduling.kiosk.list")
    return Kiosk.objects.for_tenant(ctx).select_related("department").order_by("name", "id")


def kiosk_create(
    *, ctx: Ctx, name: str, kind: str = KioskKind.CHECK_IN, department_id: uuid.UUID | None = None, location: str = ""
) -> Kiosk:
    """Register a kiosk (not yet enrolled on any device). A display names the department it shows."""
    _require_manager(ctx, "scheduling.kiosk.create")
    name, location = name.strip(), location.strip()
    if not name:
        raise ValidationFailed.field("name", "give the kiosk a name", code="required")
    if len(name) > 100:
        raise ValidationFailed.field("name", "at most 100 characters")
    if len(location) > 200:
        raise ValidationFailed.field("location", "at most 200 characters")
    if kind not in KioskKind.values:
        raise ValidationFailed.field("kind", "unknown kind of kiosk")
    department = None
    if department_id is not None:
        department = Department.objects.for_tenant(ctx).filter(id=department_id, is_active=True).first()
        if department is None:
            raise ValidationFailed.field("department", "no such department here")
    if kind == KioskKind.DISPLAY and department is None:
        raise ValidationFailed.field("department", "a waiting-room display shows one department", code="required")
    try:
        with transaction.atomic():
            kiosk = Kiosk.objects.create(
                organization_id=ctx.organization_id, name=name, kind=kind, department=department, location=location
            )
            audit.record(ctx, "scheduling.kiosk.create", target=kiosk, kind=kind)
    except IntegrityError as exc:
        raise Conflict("another kiosk here has this name", code="KIOSK_NAME_TAKEN") from exc
    return kiosk


def _locked_kiosk(ctx: Ctx, kiosk_id: uuid.UUID) -> Kiosk:
    kiosk = Kiosk.objects.for_tenant(ctx).filter(id=kiosk_id).select_for_update().first()
    if kiosk is None:
        # SECURITY: another organization's kiosk is not found.
        raise NotFound("no such kiosk here")
    return kiosk


def kiosk_enrol(*, ctx: Ctx, kiosk_id: uuid.UUID) -> tuple[Kiosk, str]:
    """Enrol the device the staff member stands at as this kiosk: returns the new token, for the
    device's cookie. A device enrolled before as this kiosk stops working."""
    _require_manager(ctx, "scheduling.kiosk.enrol")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        kiosk = _locked_kiosk(ctx, kiosk_id)
        if not kiosk.is_active:
            raise Conflict("activate the kiosk before enrolling a device", code="KIOSK_INACTIVE")
        kiosk.token_hash = token_hash(token)
        kiosk.enrolled_at = timezone.now()
        kiosk.enrolled_by_id = ctx.actor_id
        kiosk.save(update_fields=["token_hash", "enrolled_at", "enrolled_by", "updated_at"])
        audit.record(ctx, "scheduling.kiosk.enrol", target=kiosk)
    return kiosk, token


def kiosk_revoke(*, ctx: Ctx, kiosk_id: uuid.UUID) -> Kiosk:
    """Forget the enrolled device's token: that device shows "not enrolled" from its next request."""
    _require_manager(ctx, "scheduling.kiosk.revoke")
    with transaction.atomic():
        kiosk = _locked_kiosk(ctx, kiosk_id)
        kiosk.token_hash = ""
        kiosk.enrolled_at = None
        kiosk.save(update_fields=["token_hash", "enrolled_at", "updated_at"])
        audit.record(ctx, "scheduling.kiosk.revoke", target=kiosk)
    return kiosk


def kiosk_set_active(*, ctx: Ctx, kiosk_id: uuid.UUID, active: bool) -> Kiosk:
    """Take a kiosk out of service (its device is refused) or back (its enrolment still holds)."""
    _require_manager(ctx, "scheduling.kiosk.update")
    with transaction.atomic():
        kiosk = _locked_kiosk(ctx, kiosk_id)
        kiosk.is_active = active
        kiosk.save(update_fields=["is_active", "updated_at"])
        audit.record(ctx, "scheduling.kiosk.update", target=kiosk, active=active)
    return kiosk


# --------------------------------------------------------------------------------------------------
# On the device
# --------------------------------------------------------------------------------------------------


def kiosk_identify(*, token: str) -> Kiosk | None:
    """The active, enrolled kiosk of an active organization whose token this is, or None."""
    if not token or len(token) > 200:
        return None
    system = Ctx.system(reason="identify an enrolled kiosk by its token")
    return (
        Kiosk.objects.for_system(system)
        .select_related("department")
        .filter(token_hash=token_hash(token), is_active=True, organization__is_active=True)
        .first()
    )


def kiosk_ctx(kiosk: Kiosk, request_ctx: Ctx) -> Ctx:
    """The context a kiosk acts in: its organization, the check-in permission alone (a display holds
    none), the request's id, address and browser for the audit trail."""
    return Ctx.device(
        device_id=kiosk.id,
        organization_id=kiosk.organization_id,
        permissions=frozenset({transitions.CHECK_IN}) if kiosk.kind == KioskKind.CHECK_IN else frozenset(),
        purpose_of_use=PurposeOfUse.PATIENT_REQUEST if kiosk.kind == KioskKind.CHECK_IN else PurposeOfUse.OPERATIONS,
        request_id=request_ctx.request_id,
        ip=request_ctx.ip,
        user_agent=request_ctx.user_agent,
    )


def normalize_reference(value: str) -> str | None:
    """`APT-7K3M9Q2D` as typed (any case, with or without `APT-`, spaces, O for 0, I or L for 1), or None."""
    text = re.sub(r"[\s-]", "", value or "").upper()
    text = text.removeprefix("APT")
    text = text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    return f"APT-{text}" if _REFERENCE.fullmatch(text) else None


@dataclass(frozen=True)
class KioskTicket:
    """What the kiosk shows after a check-in: nothing that names the patient."""

    ticket: str
    position: int  # 1 for the next to be called; 0 if already being seen
    estimated_wait_minutes: int
    again: bool  # checked in before: the same ticket shown again


def _failures_key(kiosk: Kiosk) -> str:
    return f"phb:kiosk:{kiosk.id}:failures"


def _paused_key(kiosk: Kiosk) -> str:
    return f"phb:kiosk:{kiosk.id}:paused-until"


def paused_for(kiosk: Kiosk) -> int:
    """Seconds the kiosk stays paused after too many failures (0: not paused)."""
    until = cache.get(_paused_key(kiosk))
    return max(0, int(until - time.time()) + 1) if until else 0


def _fail(ctx: Ctx, kiosk: Kiosk) -> None:
    """Count a failed attempt (a fixed window from the first one); at the limit, pause the kiosk."""
    window, limit = settings.KIOSK_FAILURE_WINDOW_SECONDS, settings.KIOSK_FAILURE_LIMIT
    key = _failures_key(kiosk)
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=window)
        failures = 1
    if failures >= limit:
        cooldown = settings.KIOSK_COOLDOWN_SECONDS
        cache.set(_paused_key(kiosk), time.time() + cooldown, timeout=cooldown)
        cache.delete(key)
    # SECURITY: what was typed (a reference, a birth date) is not recorded: it may be someone else's.
    audit.record(
        ctx,
        "scheduling.kiosk.check_in",
        outcome="failure",
        resource_type="scheduling.Kiosk",
        resource_id=kiosk.id,
        failures=failures,
        paused=failures >= limit,
    )


def kiosk_check_in(*, ctx: Ctx, kiosk: Kiosk, reference: str, birth_date: dt.date) -> KioskTicket:
    """Check a patient in at a kiosk: one of today's pending or confirmed appointments at the kiosk's
    organization (and department, if it has one) with this reference, whose patient was born on
    `birth_date`, goes through the desk's check-in (`services.appointment_check_in`, in the kiosk's
    context). Anything else is KIOSK_NO_MATCH, the same answer whatever did not match; after
    `KIOSK_FAILURE_LIMIT` of them in `KIOSK_FAILURE_WINDOW_SECONDS`, KIOSK_PAUSED for
    `KIOSK_COOLDOWN_SECONDS`."""
    action = "scheduling.kiosk.check_in"
    if kiosk.kind != KioskKind.CHECK_IN or not policies.can_check_in(ctx) or ctx.device_id != kiosk.id:
        raise audit.denied(ctx, action, Forbidden("this kiosk does not check patients in"))
    wait = paused_for(kiosk)
    if wait:
        audit.record(ctx, action, outcome="denied", resource_type="scheduling.Kiosk", resource_id=kiosk.id, paused=True)
        raise RateLimitExceeded(PAUSED, code="KIOSK_PAUSED", retry_after=wait)
    normalized = normalize_reference(reference)
    start, end = slots.local_day_bounds(queueing.today(ctx), slots.organization_zone(ctx))
    found = None
    if normalized is not None:
        appointments = Appointment.objects.for_tenant(ctx).filter(
            reference=normalized, start_at__gte=start, start_at__lt=end
        )
        if kiosk.department_id is not None:
            appointments = appointments.filter(department_id=kiosk.department_id)
        found = appointments.select_related("patient").first()
    # SECURITY: an unknown reference and a wrong date of birth get the same answer.
    if found is None or found.patient.birth_date is None or found.patient.birth_date != birth_date:
        _fail(ctx, kiosk)
        raise NotFound(NO_MATCH, code="KIOSK_NO_MATCH")
    again = found.status == AppointmentStatus.CHECKED_IN
    if again:
        with transaction.atomic():
            Appointment.objects.for_tenant(ctx).filter(id=found.id).select_for_update().first()
            ticket = tickets.ticket_issue(ctx=ctx, appointment=found)
        audit.record(ctx, "scheduling.kiosk.ticket_again", target=found, patient_id=found.patient_id)
    elif found.status in (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED):
        try:
            services.appointment_check_in(ctx=ctx, appointment_id=found.id)
        except Conflict as exc:  # its status changed meanwhile (checked in at the desk, cancelled)
            raise Conflict(SEE_THE_DESK, code="KIOSK_SEE_THE_DESK") from exc
        ticket = tickets.ticket_issue(ctx=ctx, appointment=found)
    else:
        # The person proved both the reference and the date of birth: telling them to see the desk
        # reveals nothing they do not know.
        audit.record(ctx, action, outcome="denied", target=found, patient_id=found.patient_id, status=found.status)
        raise Conflict(SEE_THE_DESK, code="KIOSK_SEE_THE_DESK")
    entries = queueing.queue_entries(
        ctx=ctx,
        practitioner_id=found.practitioner_id,
        department_id=None if found.practitioner_id else found.department_id,
        with_patients=False,
    )
    mine = next((e for e in entries if e.appointment.id == found.id), None)
    return KioskTicket(
        ticket=ticket.code,
        position=mine.position if mine else 1,
        estimated_wait_minutes=mine.estimated_wait_minutes if mine else 0,
        again=again,
    )


# --------------------------------------------------------------------------------------------------
# The waiting-room display
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    ticket: str
    position: int
    estimated_wait_minutes: int
    practitioner: str  # who sees them (shown for those being seen)


@dataclass(frozen=True)
class Board:
    department: str
    serving: list[BoardRow]
    waiting: list[BoardRow]
    updated_at: dt.datetime
    zone: ZoneInfo


def display_board(*, ctx: Ctx, kiosk: Kiosk) -> Board:
    """Today's queue of the display's department, by ticket: who is being seen (and by whom), who
    waits, in the order called, with estimated waits. No patient row is read: nothing here is
    personal, so it is not audited (a display asks every few seconds)."""
    if kiosk.kind != KioskKind.DISPLAY or kiosk.department_id is None or ctx.device_id != kiosk.id:
        raise Forbidden("this kiosk is not a waiting-room display")
    entries = queueing.queue_entries(ctx=ctx, department_id=kiosk.department_id, with_patients=False)
    profiles = dict(
        PractitionerProfile.objects.for_tenant(ctx)
        .filter(id__in={e.appointment.practitioner_id for e in entries if e.appointment.practitioner_id})
        .values_list("id", "user_id")
    )
    names = dict(User.objects.filter(id__in=profiles.values()).values_list("id", "full_name")) if profiles else {}
    rows = [
        BoardRow(
            ticket=e.ticket or "—",
            position=e.position,
            estimated_wait_minutes=e.estimated_wait_minutes,
            practitioner=names.get(profiles.get(e.appointment.practitioner_id), ""),  # type: ignore[arg-type]
        )
        for e in entries
    ]
    return Board(
        department=kiosk.department.name if kiosk.department else "",
        serving=[r for r in rows if r.position == 0],
        waiting=[r for r in rows if r.position > 0],
        updated_at=timezone.now(),
        zone=slots.organization_zone(ctx),
    )
