"""Queue tickets: the number a checked-in patient is called by (`CAR-014`), per organization,
department and local day. Issued inside the check-in's transaction, under a lock on the department's
counter for the day, so numbers are handed out one at a time; a unique constraint on (department, day,
number) stands behind the lock: a number is never given twice."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.organizations.models import Department
from phb.scheduling import slots
from phb.scheduling.models import Appointment, QueueTicket, TicketCounter


def ticket_prefix(department_code: str) -> str:
    """Three letters of the department's code, in capitals: 'cardiology' -> 'CAR'."""
    return re.sub(r"[^A-Za-z0-9]", "", department_code).upper()[:3] or "TKT"


def ticket_code(prefix: str, number: int) -> str:
    return f"{prefix}-{number:03d}"


def _next_number(ctx: Ctx, department_id: uuid.UUID, day: dt.date) -> int:
    counters = TicketCounter.objects.for_tenant(ctx).filter(department_id=department_id, issued_on=day)
    counter = counters.select_for_update().first()
    if counter is None:
        try:
            with transaction.atomic():
                TicketCounter.objects.create(
                    organization_id=ctx.organization_id, department_id=department_id, issued_on=day
                )
        except IntegrityError:
            pass  # another check-in opened the day's counter meanwhile: wait for its lock below
        counter = counters.select_for_update().get()
    counter.last_number += 1
    counter.save(update_fields=["last_number", "updated_at"])
    return counter.last_number


def ticket_issue(*, ctx: Ctx, appointment: Appointment) -> QueueTicket:
    """The appointment's ticket for today's queue of its department: the one it has, or the next
    number. Call inside the check-in's transaction (the caller holds the appointment's lock). A kiosk
    acting (`ctx.device_id`) is recorded on the ticket."""
    existing = QueueTicket.objects.for_tenant(ctx).filter(appointment=appointment).first()
    if existing is not None:
        return existing
    day = timezone.now().astimezone(slots.organization_zone(ctx)).date()
    code = Department.objects.for_tenant(ctx).filter(id=appointment.department_id).values_list("code", flat=True).get()
    number = _next_number(ctx, appointment.department_id, day)
    return QueueTicket.objects.create(
        organization_id=ctx.organization_id,
        appointment=appointment,
        department_id=appointment.department_id,
        issued_on=day,
        number=number,
        code=ticket_code(ticket_prefix(code), number),
        kiosk_id=ctx.device_id,
    )
