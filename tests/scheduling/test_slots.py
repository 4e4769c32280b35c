"""Free slots where the clocks change: slots are cut in wall-clock time, and a booked one is left out."""

from __future__ import annotations

import datetime as dt
import random
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


@pytest.mark.parametrize("seed", range(25))
def test_free_ranges_match_a_slot_by_slot_check(seed):
    """Evenly spaced slots are freed by arithmetic on the appointments; check it against the plain
    definition (a slot is free when it starts after now and overlaps no appointment) on random days with
    appointments of any length, aligned or not, some across the window's edges."""
    rng = random.Random(seed)
    zone = ZoneInfo("Africa/Lagos")
    day = dt.date(2027, 6, 7)
    window = slots.Window(None, 0, dt.time(8, 0), dt.time(16, 0), rng.choice([10, 15, 20, 30]), 99)
    cut = slots._Cut.of(window, day, zone)
    opens = cut.seconds[0][0]
    taken = sorted(
        (start, start + rng.randint(1, 90) * 60)
        for start in (
            opens + rng.randint(-120, 9 * 60) * 60 + rng.choice([0, 0, 30, 300]) for _ in range(rng.randint(0, 25))
        )
    )
    now = opens + rng.randint(-60, 8 * 60) * 60 + rng.choice([0, 0.5, 59])
    expected = [
        k
        for k, (start, end) in enumerate(cut.seconds)
        if start > now and not any(s < end and e > start for s, e in taken)
    ]
    assert [k for a, b in cut.free(taken, now) for k in range(a, b)] == expected
