"""Front-desk helpers for tests: appointments moved to today (bookings cannot be made in the past,
and today's free slots depend on the hour), kiosks registered and enrolled, a browser-like client
carrying a kiosk's cookie."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.scheduling import kiosks, services
from phb.scheduling.models import Appointment, Kiosk, KioskKind
from tests.scheduling.factories import admin_ctx, desk_ctx, local, registered_patient, tomorrow

SYSTEM = Ctx.system(reason="test")


def book_today(org, doctor, *, hour: int = 9, patient=None, minutes_from_now: int = 0, **fields) -> Appointment:
    """An appointment of `doctor` booked (for tomorrow, then moved) to start now, today."""
    appointment = services.appointment_book(
        ctx=desk_ctx(org),
        patient_id=(patient or registered_patient(org)).id,
        practitioner_id=doctor.id,
        start_at=local(org, tomorrow(org), hour),
        **fields,
    )
    start = timezone.now() + dt.timedelta(minutes=minutes_from_now)
    Appointment.objects.for_system(SYSTEM).filter(id=appointment.id).update(
        start_at=start, end_at=start + dt.timedelta(minutes=30)
    )
    return Appointment.objects.for_system(SYSTEM).select_related("patient").get(id=appointment.id)


def enrolled_kiosk(org, *, kind: str = KioskKind.CHECK_IN, department=None, name: str = "") -> tuple[Kiosk, str]:
    """A kiosk of `org`, registered and enrolled by an administrator: the kiosk and its token."""
    admin = admin_ctx(org)
    kiosk = kiosks.kiosk_create(
        ctx=admin,
        name=name or f"Kiosk {Kiosk.objects.for_system(SYSTEM).count() + 1}",
        kind=kind,
        department_id=department.id if department else None,
        location="Main entrance",
    )
    return kiosks.kiosk_enrol(ctx=admin, kiosk_id=kiosk.id)


def kiosk_client(token: str) -> Client:
    client = Client()
    client.cookies[kiosks.COOKIE_NAME] = token
    return client


def status_of(appointment: Appointment) -> str:
    return Appointment.objects.for_system(SYSTEM).get(id=appointment.id).status
