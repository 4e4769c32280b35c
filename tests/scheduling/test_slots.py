"""Free slots where the clocks change: slots are cut in wall-clock time, and a booked one is left out."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from phb.scheduling import services, slots
from tests.kernel.factories import OrganizationFactory
from tests.scheduling.factories import desk_ctx, practitioner, registered_patient

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
CLOCKS_GO_BACK = dt.date(2027, 10, 31)  # a Sunday: 02:00 BST becomes 01:00 GMT
CLOCKS_GO_FORWARD = dt.date(2027, 3, 28)  # a Sunday: 01:00 GMT becomes 02:00 BST


@pytest.fixture
def london():
    return OrganizationFactory(name="Hospital London", code="hospital-london", timezone="Europe/London")


@pytest.mark.parametrize("day", [CLOCKS_GO_BACK, CLOCKS_GO_FORWARD])
def test_a_window_across_a_change_of_the_clocks_gives_its_wall_clock_slots(london, day):
    doctor = practitioner(london, weekdays=[6], starts_at=dt.time(0, 0), ends_at=dt.time(4, 0), slot_minutes=60)
    window = slots.Window(doctor.id, 6, dt.time(0, 0), dt.time(4, 0), 60, 16)
    cut = [(start.timestamp(), end.timestamp()) for start, end in slots.window_slots(window, day, LONDON)]
    free = slots.slots_free(ctx=desk_ctx(london), practitioner_id=doctor.id, start_date=day, end_date=day)
    # The same instants, less a slot the skipped hour leaves with no length (forward: 01:00 to 02:00).
    assert [(s.start_at.timestamp(), s.end_at.timestamp()) for s in free] == [(a, b) for a, b in cut if b > a]
    assert len(free) == (3 if day == CLOCKS_GO_FORWARD else 4)
    assert {s.start_at.utcoffset() for s in free} == {dt.timedelta(0), dt.timedelta(hours=1)}


def test_a_booked_slot_after_the_clocks_go_back_is_not_free(london):
    doctor = practitioner(london, weekdays=[6], starts_at=dt.time(0, 0), ends_at=dt.time(4, 0), slot_minutes=60)
    desk = desk_ctx(london)
    three_gmt = dt.datetime.combine(CLOCKS_GO_BACK, dt.time(3, 0), tzinfo=LONDON)
    services.appointment_book(
        ctx=desk, patient_id=registered_patient(london).id, practitioner_id=doctor.id, start_at=three_gmt
    )
    free = slots.slots_free(ctx=desk, practitioner_id=doctor.id, start_date=CLOCKS_GO_BACK, end_date=CLOCKS_GO_BACK)
    assert three_gmt not in [s.start_at for s in free]
    assert len(free) == 3
    assert [s.start_at for s in free] == sorted(s.start_at for s in free)
