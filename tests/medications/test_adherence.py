"""Adherence, on a frozen clock: doses due generated at signing from the schedule in the
organization's time zone (three a day: 08:00, 14:00, 20:00), over a rolling window extended for long
courses; the patient marks their own doses (not ahead of time, not someone else's); doses left
unmarked past the grace period become missed; percentages per medication and overall; repeated
misses tell the prescriber once per episode."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.medications import adherence, selectors
from phb.medications.models import DoseEvent, MissEpisode
from phb.notifications.models import Notification
from tests.medications.factories import AMOX, item, patient_client, signed, ward

pytestmark = pytest.mark.django_db
LAGOS = ZoneInfo("Africa/Lagos")


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> dt.datetime:
        self.at += dt.timedelta(**delta)
        return self.at


@pytest.fixture
def clock(monkeypatch):
    """Django's clock, frozen at 10:00 in Lagos on 2 March 2026 until a test moves it."""
    frozen = Clock(dt.datetime(2026, 3, 2, 10, 0, tzinfo=LAGOS))
    monkeypatch.setattr(timezone, "now", frozen.now)
    return frozen


@pytest.fixture
def w(org_a, clock):
    return ward(org_a, with_account=True)


def _doses(w, **filters):
    ctx = Ctx.system(reason="test", organization_id=w.organization.id)
    return list(DoseEvent.objects.for_tenant(ctx).filter(patient_id=w.patient.id, **filters).order_by("due_at"))


def _me(w):
    return Ctx(actor_id=w.patient_user.id)


def test_three_a_day_for_five_days_are_fifteen_doses_at_eight_two_and_eight(w):
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX))  # TDS, 5 days, from 10:00 on 2 March
    doses = _doses(w)
    assert len(doses) == 15
    local = [d.due_at.astimezone(LAGOS) for d in doses]
    assert {t.time() for t in local} == {dt.time(8), dt.time(14), dt.time(20)}
    assert local[0] == dt.datetime(2026, 3, 2, 14, 0, tzinfo=LAGOS)
    assert local[-1] == dt.datetime(2026, 3, 7, 8, 0, tzinfo=LAGOS)
    assert all(d.status == "due" for d in doses)


def test_a_long_course_fills_a_rolling_window_that_the_task_extends(w, clock):
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX, frequency="BD", duration_days=30))
    assert len(_doses(w)) == 14  # seven days ahead, two a day
    assert adherence.doses_extend_due(now=clock.advance(days=3)) == 6
    assert adherence.doses_extend_due(now=clock.now()) == 0  # idempotent
    assert len(_doses(w)) == 20


def test_when_required_and_every_n_hours(w):
    signed(
        w.doctor,
        w.patient,
        item("paracetamol", form="tablet", strength="500 mg", frequency="PRN", duration_days=None, quantity="20"),
    )
    assert _doses(w) == []
    signed(
        w.doctor,
        w.patient,
        item("paracetamol", form="tablet", strength="500 mg", frequency="QH", interval_hours=6, duration_days=1),
    )
    assert [d.due_at.astimezone(LAGOS).strftime("%H:%M") for d in _doses(w)] == ["14:00", "20:00", "02:00", "08:00"]


def test_the_patient_marks_their_own_doses(org_a, w, clock):
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    first, second = _doses(w)[:2]
    clock.advance(hours=4, minutes=10)  # 14:10
    marked = adherence.dose_mark(ctx=_me(w), dose_id=first.id, status="taken")
    assert (marked.status, marked.taken_at, marked.marked_by_id) == ("taken", clock.now(), w.patient_user.id)
    with pytest.raises(Conflict) as early:
        adherence.dose_mark(ctx=_me(w), dose_id=second.id, status="taken")  # due at 20:00
    assert early.value.code == "DOSE_NOT_DUE"
    with pytest.raises(ValidationFailed):
        adherence.dose_mark(ctx=_me(w), dose_id=first.id, status="taken", taken_at=clock.now() + dt.timedelta(hours=1))
    with pytest.raises(ValidationFailed):
        adherence.dose_mark(ctx=_me(w), dose_id=first.id, status="forgotten")
    other = ward(org_a, with_account=True)
    with pytest.raises(NotFound):
        adherence.dose_mark(ctx=Ctx(actor_id=other.patient_user.id), dose_id=first.id, status="missed")
    assert _doses(w)[0].status == "taken"


def test_unmarked_doses_become_missed_after_the_grace_period_and_marks_stand(w, clock):
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    clock.advance(hours=4, minutes=30)  # 14:30
    first = _doses(w)[0]
    adherence.dose_mark(ctx=_me(w), dose_id=first.id, status="skipped")
    assert adherence.doses_mark_missed_due(now=clock.advance(hours=10)) == 1  # 00:30: 20:00 is 4.5 h late
    doses = _doses(w)
    assert [(d.status, d.auto_missed) for d in doses[:3]] == [("skipped", False), ("missed", True), ("due", False)]


def test_adherence_per_medication_and_overall(w, clock):
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    clock.advance(days=2)  # 10:00 on 4 March: 5 doses due so far
    doses = _doses(w)
    for dose, status in zip(doses[:4], ["taken", "taken", "missed", "skipped"], strict=True):
        adherence.dose_mark(ctx=_me(w), dose_id=dose.id, status=status)
    mine = selectors.my_adherence(ctx=_me(w), days=30)
    assert (mine.total.taken, mine.total.missed, mine.total.skipped, mine.total.percent) == (2, 1, 1, 50)
    (line,) = mine.items
    assert line["adherence"].percent == 50
    staff = selectors.adherence_summary(ctx=w.doctor, patient_id=w.patient.id, days=30)
    assert staff.total.percent == 50
    client = patient_client(w.patient_user)
    body = client.get("/api/v1/me/adherence/").json()
    assert body["total"] == {"taken": 2, "missed": 1, "skipped": 1, "percent": 50}


def test_three_missed_in_a_row_tell_the_prescriber_once_per_episode(w, clock, settings):
    settings.MEDICATIONS_MISSED_DOSES_ALERT = 3
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX, duration_days=7))
    doses = _doses(w)
    clock.advance(days=1)  # 10:00 on 3 March: 14:00, 20:00 and 08:00 are past
    for dose in doses[:2]:
        adherence.dose_mark(ctx=_me(w), dose_id=dose.id, status="missed")
    assert not MissEpisode.objects.for_tenant(w.doctor).exists()
    adherence.doses_mark_missed_due(now=clock.advance(hours=3))  # the 08:00 dose, unmarked, is missed
    (episode,) = MissEpisode.objects.for_tenant(w.doctor).all()
    assert (episode.recipient_id, episode.misses, episode.ended_at) == (w.doctor.actor_id, 3, None)
    events.dispatch_due()
    events.dispatch_due()  # delivered again: nothing more is sent

    def sent():
        return Notification.objects.filter(user_id=w.doctor.actor_id, template_code="medications.doses_missed")

    assert sent().count() == 1
    assert "missed 3 doses in a row" in sent().get().body
    adherence.doses_mark_missed_due(now=clock.advance(hours=8))  # 21:00: the 14:00 and 20:00 missed too
    events.dispatch_due()
    assert MissEpisode.objects.for_tenant(w.doctor).count() == 1
    assert sent().count() == 1
    taken = _doses(w, status="due")[0]
    clock.advance(hours=11)  # 08:00 on 4 March
    adherence.dose_mark(ctx=_me(w), dose_id=taken.id, status="taken")
    assert MissEpisode.objects.for_tenant(w.doctor).get().ended_at == clock.now()
    adherence.doses_mark_missed_due(now=clock.advance(days=1, hours=3))  # three more missed
    events.dispatch_due()
    assert MissEpisode.objects.for_tenant(w.doctor).count() == 2
    assert sent().count() == 2
