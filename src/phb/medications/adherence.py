"""Adherence: the doses due of a signed prescription, the patient's marks, and what they add up to.

Doses are generated from each item's schedule (a frequency's times of day, in the organization's time
zone: three a day are 08:00, 14:00, 20:00) over a rolling window (`MEDICATIONS_DOSE_WINDOW_DAYS`):
at signing, and by a periodic task that extends long courses. "When required" doses have no schedule.
The patient marks their own doses taken, missed or skipped (not ahead of time beyond
`MEDICATIONS_DOSE_EARLY_MINUTES`); a dose left unmarked `MEDICATIONS_DOSE_GRACE_MINUTES` after it
was due becomes missed by itself. Adherence over a period is taken / (taken + missed + skipped).

`MEDICATIONS_MISSED_DOSES_ALERT` consecutive missed doses of an item open a miss episode: the
prescriber is told once (through the outbox, after commit); the episode ends when a dose of the
item is next taken, and only a new run of misses opens another."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.medications import dosing
from phb.medications.events import DosesMissedRepeatedly
from phb.medications.models import (
    ACTIVE_STATUSES,
    DoseEvent,
    DoseStatus,
    Frequency,
    MissEpisode,
    Prescription,
    PrescriptionItem,
)
from phb.patients.public import my_patient

MARKS = (DoseStatus.TAKEN, DoseStatus.MISSED, DoseStatus.SKIPPED)
FUTURE_SKEW = dt.timedelta(minutes=5)  # a phone's clock a little ahead is not an error


def _timezone(ctx: Ctx) -> ZoneInfo:
    name = Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).first()
    return ZoneInfo(name or settings.TIME_ZONE)


def _due_times(item: PrescriptionItem, tz: ZoneInfo, start: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The item's due times in [start, until] (and within its course)."""
    if item.frequency == Frequency.ONCE:
        return [item.starts_at] if item.starts_at and start <= item.starts_at <= until else []
    times = dosing.times_of_day(item.frequency, item.interval_hours)
    if not times or item.starts_at is None:
        return []
    lower = max(start, item.starts_at)
    upper = min(until, item.ends_at) if item.ends_at else until
    out = []
    day = lower.astimezone(tz).date()
    while True:
        for time in times:
            due = dt.datetime.combine(day, time, tzinfo=tz)
            if lower <= due <= upper:
                out.append(due)
        day += dt.timedelta(days=1)
        if dt.datetime.combine(day, dt.time(0), tzinfo=tz) > upper:
            return out


def doses_generate(
    *,
    ctx: Ctx,
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    now: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """The doses due of `items` from now to the end of the rolling window (those already there are
    kept). Runs in the caller's transaction. Returns how many were added."""
    now = now or timezone.now()
    until = until or now + dt.timedelta(days=settings.MEDICATIONS_DOSE_WINDOW_DAYS)
    tz = _timezone(ctx)
    rows = [
        DoseEvent(
            organization_id=prescription.organization_id,
            item=item,
            prescription=prescription,
            patient_id=prescription.patient_id,
            due_at=due,
        )
        for item in items
        for due in _due_times(item, tz, now if item.frequency != Frequency.ONCE else item.starts_at or now, until)
    ]
    if not rows:
        return 0
    existing = set(
        DoseEvent.objects.for_tenant(ctx).filter(item__in=[i.id for i in items]).values_list("item_id", "due_at")
    )
    new = [r for r in rows if (r.item_id, r.due_at) not in existing]
    DoseEvent.objects.for_tenant(ctx).bulk_create(new, ignore_conflicts=True)
    return len(new)


def doses_withdraw(*, ctx: Ctx, prescription: Prescription, now: dt.datetime | None = None) -> int:
    """A cancelled prescription's doses still to come are no longer due (caller's transaction)."""
    now = now or timezone.now()
    deleted, _ = (
        DoseEvent.objects.for_tenant(ctx)
        .filter(prescription=prescription, status=DoseStatus.DUE, due_at__gt=now)
        .delete()
    )
    return deleted


def doses_extend_due(*, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Keep the rolling window filled for every current course (scheduled hourly): long courses get
    their next days' doses. Idempotent."""
    now = now or timezone.now()
    system = Ctx.system(reason="generate the doses due of current prescriptions")
    items = list(
        PrescriptionItem.objects.for_system(system)
        .filter(prescription__status__in=ACTIVE_STATUSES, starts_at__isnull=False)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .exclude(frequency__in=[Frequency.PRN, Frequency.ONCE])
        .select_related("prescription")
        .order_by("organization_id", "id")[:limit]
    )
    added = 0
    by_prescription: dict[uuid.UUID, list[PrescriptionItem]] = {}
    for item in items:
        by_prescription.setdefault(item.prescription_id, []).append(item)
    for group in by_prescription.values():
        prescription = group[0].prescription
        ctx = system.for_organization(prescription.organization_id)
        with transaction.atomic():
            added += doses_generate(ctx=ctx, prescription=prescription, items=group, now=now)
    return added


# --------------------------------------------------------------------------------------------------
# Marking, missed doses, episodes
# --------------------------------------------------------------------------------------------------


def _episode_check(ctx: Ctx, item: PrescriptionItem, now: dt.datetime) -> MissEpisode | None:
    """Within the caller's transaction, after a dose of `item` was marked: open a miss episode when the
    latest marked doses are all missed (and none is open), or end the open one when a dose was taken."""
    count = settings.MEDICATIONS_MISSED_DOSES_ALERT
    latest = list(
        DoseEvent.objects.for_tenant(ctx)
        .filter(item=item)
        .exclude(status=DoseStatus.DUE)
        .order_by("-due_at")
        .values_list("status", "due_at")[:count]
    )
    episodes = MissEpisode.objects.for_tenant(ctx).filter(item=item, ended_at__isnull=True)
    if latest and latest[0][0] == DoseStatus.TAKEN:
        episodes.update(ended_at=now, updated_at=now)
        return None
    if len(latest) < count or any(status != DoseStatus.MISSED for status, _ in latest) or episodes.exists():
        return None
    prescription = Prescription.objects.for_tenant(ctx).filter(id=item.prescription_id).values("prescriber_id").first()
    if prescription is None or prescription["prescriber_id"] is None:
        return None
    episode = MissEpisode.objects.create(
        organization_id=item.organization_id,
        item=item,
        patient_id=item.patient_id,
        recipient_id=prescription["prescriber_id"],
        started_at=latest[-1][1],
        misses=count,
    )
    audit.record(ctx, "medications.miss_episode.open", target=episode, patient_id=item.patient_id, misses=count)
    events.publish(ctx, DosesMissedRepeatedly(episode_id=episode.id, organization_id=item.organization_id))
    return episode


def dose_mark(
    *, ctx: Ctx, dose_id: uuid.UUID, status: str, taken_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> DoseEvent:
    """The patient marks one of their own doses taken, missed or skipped (and may correct a mark). A
    dose not yet due (beyond a small tolerance) cannot be marked, nor taken in the future."""
    action = "medications.dose.mark"
    now = now or timezone.now()
    if status not in MARKS:
        raise ValidationFailed.field("status", "taken, missed or skipped", code="invalid_choice")
    patient = my_patient(ctx)
    system = Ctx.system(reason="a patient marks their own dose")
    dose = (
        DoseEvent.objects.for_system(system).filter(id=dose_id, patient_id=patient.id).first()
        if patient is not None
        else None
    )
    if dose is None:
        # SECURITY: someone else's dose does not exist.
        raise audit.denied(ctx, action, NotFound("no such dose"), resource_id=str(dose_id))
    if dose.due_at > now + dt.timedelta(minutes=settings.MEDICATIONS_DOSE_EARLY_MINUTES):
        raise Conflict("this dose is not due yet", code="DOSE_NOT_DUE", due_at=dose.due_at.isoformat())
    if taken_at is not None and status != DoseStatus.TAKEN:
        raise ValidationFailed.field("taken_at", "only a taken dose has a time taken", code="not_applicable")
    if status == DoseStatus.TAKEN:
        taken_at = taken_at or now
        if taken_at > now + FUTURE_SKEW:
            raise ValidationFailed.field("taken_at", "cannot be in the future", code="in_the_future")
    at = ctx.as_patient_at(dose.organization_id)
    with transaction.atomic():
        dose = DoseEvent.objects.for_tenant(at).select_for_update().get(id=dose.id)
        previous = dose.status
        dose.status, dose.marked_at, dose.marked_by_id = status, now, ctx.actor_id
        dose.taken_at, dose.auto_missed = (taken_at if status == DoseStatus.TAKEN else None), False
        dose.save(update_fields=["status", "marked_at", "marked_by", "taken_at", "auto_missed", "updated_at"])
        item = PrescriptionItem.objects.for_tenant(at).get(id=dose.item_id)
        _episode_check(at, item, now)
        audit.record(at, action, target=dose, patient_id=dose.patient_id, status=status, previous=previous)
    return dose


def doses_mark_missed_due(*, now: dt.datetime | None = None, limit: int = 2000) -> int:
    """Doses still unmarked `MEDICATIONS_DOSE_GRACE_MINUTES` after they were due become missed
    (scheduled every few minutes); repeated misses open an episode. Returns how many were marked."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.MEDICATIONS_DOSE_GRACE_MINUTES)
    system = Ctx.system(reason="mark doses left unmarked as missed")
    due = list(
        DoseEvent.objects.for_system(system)
        .filter(status=DoseStatus.DUE, due_at__lt=cutoff)
        .order_by("organization_id", "item_id", "due_at")
        .values_list("id", "organization_id", "item_id")[:limit]
    )
    by_item: dict[tuple[uuid.UUID, uuid.UUID], list[uuid.UUID]] = {}
    for dose_id, organization_id, item_id in due:
        by_item.setdefault((organization_id, item_id), []).append(dose_id)
    marked = 0
    for (organization_id, item_id), dose_ids in by_item.items():
        ctx = system.for_organization(organization_id)
        with transaction.atomic():
            # SECURITY: the claim. Only doses still due move, so a patient's mark made meanwhile stands.
            changed = (
                DoseEvent.objects.for_tenant(ctx)
                .filter(id__in=dose_ids, status=DoseStatus.DUE)
                .update(status=DoseStatus.MISSED, marked_at=now, auto_missed=True, updated_at=now)
            )
            if changed:
                item = PrescriptionItem.objects.for_tenant(ctx).get(id=item_id)
                _episode_check(ctx, item, now)
                marked += changed
    return marked


# --------------------------------------------------------------------------------------------------
# What it adds up to
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adherence:
    """Marks over a period; `percent` is None when nothing was marked yet."""

    taken: int
    missed: int
    skipped: int

    @property
    def marked(self) -> int:
        return self.taken + self.missed + self.skipped

    @property
    def percent(self) -> int | None:
        return round(100 * self.taken / self.marked) if self.marked else None


def adherence_by_item(doses: object) -> dict[uuid.UUID, Adherence]:
    """Taken, missed and skipped counts per item of a dose queryset (one query)."""
    rows = (
        doses.exclude(status=DoseStatus.DUE)  # type: ignore[attr-defined]
        .values("item_id")
        .annotate(
            taken=Count("id", filter=Q(status=DoseStatus.TAKEN)),
            missed=Count("id", filter=Q(status=DoseStatus.MISSED)),
            skipped=Count("id", filter=Q(status=DoseStatus.SKIPPED)),
        )
        .order_by()
    )
    return {r["item_id"]: Adherence(r["taken"], r["missed"], r["skipped"]) for r in rows}


def total(per_item: dict[uuid.UUID, Adherence]) -> Adherence:
    return Adherence(
        sum(a.taken for a in per_item.values()),
        sum(a.missed for a in per_item.values()),
        sum(a.skipped for a in per_item.values()),
    )
