"""The privacy signal only the registry can compute: staff opening the record of a patient who shares
their family name (a relative, often; looked at by the privacy officer, never blocked)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from phb.accounts.public import AnomalyKind, flag_record, user_family_names
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent, Organization
from phb.patients.models import Patient


def same_family_name_flags(*, ctx: Ctx, day: dt.date) -> int:
    organization = Organization.objects.for_tenant(ctx).get()
    start = dt.datetime.combine(day, dt.time(), ZoneInfo(organization.timezone))
    reads = (
        AuditEvent.objects.for_tenant(ctx)
        .filter(
            occurred_at__gte=start,
            occurred_at__lt=start + dt.timedelta(days=1),
            outcome="success",
            patient_id__isnull=False,
            actor_id__isnull=False,
        )
        .values_list("actor_id", "patient_id")
        .distinct()
    )
    pairs = list(reads)
    staff = user_family_names(list({a for a, _ in pairs}))
    patients = dict(Patient.objects.filter(id__in={p for _, p in pairs}).values_list("id", "family_name"))
    found: dict[object, list[str]] = defaultdict(list)
    for actor_id, patient_id in pairs:
        name = staff.get(actor_id)
        if name and name == (patients.get(patient_id) or "").strip().lower():
            found[actor_id].append(str(patient_id))
    for actor_id, patient_ids in found.items():
        flag_record(
            ctx=ctx,
            kind=AnomalyKind.SAME_FAMILY_NAME,
            day=day,
            user_id=actor_id,  # type: ignore[arg-type]
            detail={"patients": patient_ids},
        )
    return len(found)
