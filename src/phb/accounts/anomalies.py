"""Daily signals for privacy officers, computed from the audit trail (and the break-the-glass queue).

- unusual volume: a user opened more distinct patients' records in a day than max(20, 3 x their median
  daily count over the previous 30 days);
- after hours: a user opened patient records between 20:00 and 07:00 in the organization's time zone;
- break-the-glass not reviewed within a day.
(Access to a patient sharing the user's family name is flagged by the patient registry, which knows
patients' names, through `flag_record`.)
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from phb.accounts.models import AnomalyFlag, AnomalyKind, BreakGlassAccess, ReviewStatus
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent, Organization

VOLUME_FLOOR = 20
VOLUME_FACTOR = 3
WORK_STARTS, WORK_ENDS = 7, 20
READ_VERBS = (".read", ".open", ".view")


def _record_reads(ctx: Ctx) -> Q:
    q = Q(patient_id__isnull=False, actor_id__isnull=False, outcome="success")
    verbs = Q()
    for verb in READ_VERBS:
        verbs |= Q(action__endswith=verb)
    return q & verbs


def flags_for_day(*, ctx: Ctx, day: dt.date) -> list[AnomalyFlag]:
    """Compute (idempotently) the flags of `ctx`'s organization for `day` (a date in its time zone)."""
    organization = Organization.objects.for_tenant(ctx).get()
    zone = ZoneInfo(organization.timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = start + dt.timedelta(days=1)
    events = AuditEvent.objects.for_tenant(ctx).filter(_record_reads(ctx))
    found: dict[tuple[str, uuid.UUID], dict[str, object]] = {}

    today = (
        events.filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("actor_id")
        .annotate(patients=Count("patient_id", distinct=True))
    )
    history: dict[uuid.UUID, list[int]] = defaultdict(list)
    for row in (
        events.filter(occurred_at__gte=start - dt.timedelta(days=30), occurred_at__lt=start)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("actor_id", "day")
        .annotate(patients=Count("patient_id", distinct=True))
    ):
        history[row["actor_id"]].append(row["patients"])
    for row in today:
        usual = statistics.median(history[row["actor_id"]] + [0] * (30 - len(history[row["actor_id"]])))
        limit = max(VOLUME_FLOOR, VOLUME_FACTOR * usual)
        if row["patients"] > limit:
            found[(AnomalyKind.UNUSUAL_VOLUME, row["actor_id"])] = {"patients": row["patients"], "usual": usual}

    for row in events.filter(occurred_at__gte=start, occurred_at__lt=end).values("actor_id", "occurred_at"):
        hour = row["occurred_at"].astimezone(zone).hour
        if hour < WORK_STARTS or hour >= WORK_ENDS:
            entry = found.setdefault((AnomalyKind.AFTER_HOURS, row["actor_id"]), {"accesses": 0})
            entry["accesses"] = int(entry["accesses"]) + 1  # type: ignore[call-overload]

    for access in BreakGlassAccess.objects.for_tenant(ctx).filter(
        review_status=ReviewStatus.PENDING, created_at__lt=end - dt.timedelta(days=1)
    ):
        entry = found.setdefault((AnomalyKind.BREAK_GLASS_UNREVIEWED, access.user_id), {"accesses": []})
        entry["accesses"].append(str(access.id))  # type: ignore[attr-defined]

    with transaction.atomic():
        flags = []
        for (kind, user_id), detail in found.items():
            flag, _ = AnomalyFlag.objects.for_tenant(ctx).update_or_create(
                organization_id=ctx.organization_id, kind=kind, day=day, user_id=user_id, defaults={"detail": detail}
            )
            flags.append(flag)
    return flags


def flag_yesterday_everywhere() -> int:
    """The scheduled daily run: yesterday's flags for every organization."""
    system = Ctx.system(reason="daily privacy anomaly signals")
    count = 0
    for organization in Organization.objects.for_platform(system).filter(is_active=True):
        yesterday = dt.datetime.now(ZoneInfo(organization.timezone)).date() - dt.timedelta(days=1)
        count += len(flags_for_day(ctx=system.for_organization(organization.id), day=yesterday))
    return count


def flag_record(*, ctx: Ctx, kind: str, day: dt.date, user_id: uuid.UUID, detail: dict[str, object]) -> AnomalyFlag:
    """Record (idempotently) a flag computed by another app."""
    flag, _ = AnomalyFlag.objects.for_tenant(ctx).update_or_create(
        organization_id=ctx.organization_id, kind=kind, day=day, user_id=user_id, defaults={"detail": detail}
    )
    return flag


def user_family_names(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The last word of each user's full name, lower-cased (how staff names are held today)."""
    from phb.accounts.models import User

    return {
        u.id: u.full_name.strip().split()[-1].lower()
        for u in User.objects.filter(id__in=user_ids)
        if u.full_name.strip()
    }
