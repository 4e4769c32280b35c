"""What other apps may use of the workforce: the practitioner's profile (booking locks its row and
appointments point at it), the schedules that free slots and bookings are checked against, and whose
profile a member of staff has."""

from phb.workforce.models import PractitionerProfile
from phb.workforce.schedule import (
    Schedule,
    Window,
    daily_maximum,
    schedule_load,
    unavailability,
    window_parts,
    window_slots,
    windows_of_day,
)
from phb.workforce.selectors import practitioner_of_user, user_names

__all__ = [
    "PractitionerProfile",
    "Schedule",
    "Window",
    "daily_maximum",
    "practitioner_of_user",
    "schedule_load",
    "unavailability",
    "user_names",
    "window_parts",
    "window_slots",
    "windows_of_day",
]
