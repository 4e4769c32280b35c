"""Scheduling for tests: contexts of staff with roles, registered patients and times in the
organization's local time; a bookable practitioner (from the workforce's factories)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from phb.kernel.context import Ctx
from tests.patients.factories import make_patient, register_at_desk
from tests.workforce.factories import admin_ctx, practitioner, staff_ctx

__all__ = ["admin_ctx", "desk_ctx", "local", "practitioner", "registered_patient", "staff_ctx", "tomorrow"]


def desk_ctx(organization) -> Ctx:
    return staff_ctx(organization, "receptionist")


def registered_patient(organization):
    """A patient with an approved registration at `organization`."""
    patient = make_patient()
    register_at_desk(desk_ctx(organization), patient)
    return patient


def local(organization, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(organization.timezone))


def tomorrow(organization) -> dt.date:
    return dt.datetime.now(ZoneInfo(organization.timezone)).date() + dt.timedelta(days=1)
