"""Slot (FHIR R4): a bookable interval of a practitioner's Schedule, computed rather than stored.

PHB keeps weekly availability windows, leave, closures and appointments; a slot is derived from them
(`scheduling.public.slots_of_schedule`, the same cut as the REST API's free slots). Its id names the
Schedule, the start (UTC, to the minute) and the length in minutes — `<schedule id>.<yyyymmddThhmm>Z.
<minutes>` — and nothing about a patient. Reading it computes it again: a slot the schedule no longer
makes (windows changed, leave taken, or its start passed) is not found.

Status: "free" when it can be booked, "busy" when an appointment takes it, "busy-unavailable" when a
closure takes it or the practitioner's day is full. Slots that start before now are not served.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, NamedTuple

from phb.interop.fhir.common import instant, ref

TYPE = "Slot"
STATUSES = ("free", "busy", "busy-unavailable")
UNUSED_STATUSES = ("busy-tentative", "entered-in-error")
_ID = re.compile(r"^(?P<schedule>[0-9a-fA-F-]{36})\.(?P<start>\d{8}T\d{4})Z\.(?P<minutes>\d{1,4})$")


class SlotKey(NamedTuple):
    schedule_id: uuid.UUID
    start_at: dt.datetime  # aware, UTC
    minutes: int


def slot_id(schedule_id: uuid.UUID, start_at: dt.datetime, end_at: dt.datetime) -> str:
    minutes = int((end_at - start_at).total_seconds() // 60)
    return f"{schedule_id}.{start_at.astimezone(dt.UTC):%Y%m%dT%H%M}Z.{minutes}"


def parse_id(text: str) -> SlotKey | None:
    """The schedule, start and length a Slot id names; None for anything that is not such an id."""
    match = _ID.fullmatch(text)
    if match is None:
        return None
    try:
        schedule_id = uuid.UUID(match["schedule"])
        start = dt.datetime.strptime(match["start"], "%Y%m%dT%H%M").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    minutes = int(match["minutes"])
    return SlotKey(schedule_id, start, minutes) if minutes > 0 else None


def to_fhir(schedule_id: uuid.UUID, start_at: dt.datetime, end_at: dt.datetime, status: str) -> dict[str, Any]:
    return {
        "resourceType": TYPE,
        "id": slot_id(schedule_id, start_at, end_at),
        "schedule": ref("Schedule", schedule_id),
        "status": status,
        "start": instant(start_at),
        "end": instant(end_at),
    }


# What the CapabilityStatement says of Slot: exactly what the Slot views do.
SEARCH_PARAMS = [
    ("schedule", "reference", "The schedule (Schedule/id): required"),
    (
        "start",
        "date",
        "When the slot starts (prefixes ge, gt, le, lt, eq): required, as a range of at most 31 days",
    ),
    ("status", "token", "free | busy | busy-unavailable"),
]


def capability_entry() -> dict[str, Any]:
    return {
        "type": TYPE,
        "documentation": "Bookable intervals of a practitioner's Schedule, computed from its weekly windows, "
        "leave, closures and appointments (not stored: no version history). Search needs a schedule and a "
        "start range of at most 31 days; slots that start before now are not served.",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "versioning": "no-version",
        "readHistory": False,
        "searchParam": [{"name": n, "type": t, "documentation": d} for n, t, d in SEARCH_PARAMS],
    }
