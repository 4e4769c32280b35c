"""Reads of prescriptions, their checks and overrides, repeat requests and adherence: for clinicians (a
care relationship, as for the rest of the record), for the organization's clinical governance (the
override report), and for the patient (their own, at every hospital). Every read is audited, a refused
one too; lists read a fixed number of queries whatever their length."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.medications import adherence, dosing, policies, repeats
from phb.medications.models import (
    ACTIVE_STATUSES,
    DoseEvent,
    Frequency,
    Prescription,
    PrescriptionEvent,
    PrescriptionItem,
    PrescriptionStatus,
    RepeatRequest,
    RepeatStatus,
    SafetyCheck,
    SafetyOverride,
)
from phb.organizations.models import Department
from phb.patients.public import my_patient

MAX_ROWS = 200
REPORT_MAX_ROWS = 5_000
SEVERITIES = ("contraindicated", "major", "moderate", "minor")


def _basis(break_glass: bool) -> dict[str, bool]:
    return {"break_glass": True} if break_glass else {}


def _visible(ctx: Ctx) -> Q:
    """Drafts are their author's; everything else is the patient's record."""
    return ~Q(status=PrescriptionStatus.DRAFT) | Q(author_id=ctx.actor_id)


def _items_prefetch(ctx: Ctx) -> Prefetch:
    return Prefetch(
        "items", queryset=PrescriptionItem.objects.for_tenant(ctx).order_by("position"), to_attr="item_list"
    )


def directions(item: PrescriptionItem) -> str:
    return dosing.directions(
        dose_quantity=item.dose_quantity,
        dose_unit=item.dose_unit,
        frequency=item.frequency,
        interval_hours=item.interval_hours,
        duration_days=item.duration_days,
        route=item.route,
    )


@audit.reads_health_data
def prescription_list(*, ctx: Ctx, patient_id: uuid.UUID, status: str = "") -> list[Prescription]:
    """A patient's prescriptions here, newest first, with their items (three queries after the access
    check, however many there are). One's own drafts are among them; nobody else's."""
    action = "medications.prescription.list"
    if status and status not in PrescriptionStatus.values:
        raise ValidationFailed.field("status", f"one of {', '.join(PrescriptionStatus.values)}", code="invalid_choice")
    break_glass = policies.require_patient(ctx, action, patient_id)
    found = Prescription.objects.for_tenant(ctx).filter(_visible(ctx), patient_id=patient_id)
    if status:
        found = found.filter(status=status)
    rows = list(
        found.select_related("prescriber", "author")
        .prefetch_related(_items_prefetch(ctx))
        .order_by("-created_at", "-id")[:MAX_ROWS]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(rows), **_basis(break_glass))
    return rows


@audit.reads_health_data
def prescription_get(*, ctx: Ctx, prescription_id: uuid.UUID) -> Prescription:
    """One prescription with its items, history, safety checks and overrides (`item_list`,
    `history_list`, `check_list`, `override_list`)."""
    action = "medications.prescription.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the record needs a clinical role"), resource_id=str(prescription_id))
    found = Prescription.objects.for_tenant(ctx).filter(_visible(ctx), id=prescription_id).first()
    if found is None:
        raise audit.denied(ctx, action, NotFound("no such prescription"), resource_id=str(prescription_id))
    break_glass = policies.require_patient(ctx, action, found.patient_id)
    prescription = (
        Prescription.objects.for_tenant(ctx)
        .select_related("prescriber", "author", "patient", "replaces", "replaced_by", "repeat_of", "cancelled_by")
        .prefetch_related(
            _items_prefetch(ctx),
            Prefetch(
                "history",
                queryset=PrescriptionEvent.objects.for_tenant(ctx).select_related("actor").order_by("at", "id"),
                to_attr="history_list",
            ),
            Prefetch(
                "checks",
                queryset=SafetyCheck.objects.for_tenant(ctx).select_related("checked_by").order_by("-checked_at"),
                to_attr="check_list",
            ),
            Prefetch(
                "overrides",
                queryset=SafetyOverride.objects.for_tenant(ctx)
                .select_related("overridden_by")
                .order_by("overridden_at"),
                to_attr="override_list",
            ),
        )
        .get(id=found.id)
    )
    audit.record(ctx, action, target=prescription, patient_id=prescription.patient_id, read=True, **_basis(break_glass))
    return prescription


# --------------------------------------------------------------------------------------------------
# The chart's section and the encounter workspace's panel (no audit of their own: the chart and the
# workspace check the care relationship and audit their one read)
# --------------------------------------------------------------------------------------------------


def current_medications(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The chart's "Current medications": items of active prescriptions whose course has not ended,
    newest first (one query)."""
    rows = list(
        PrescriptionItem.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, prescription__status__in=ACTIVE_STATUSES)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gte=timezone.now()))
        .select_related("prescription")
        .order_by("-prescription__signed_at", "position")[:50]
    )
    return [
        {
            "drug": i.drug_display,
            "strength": i.strength,
            "form": i.form,
            "directions": directions(i),
            "ends_at": i.ends_at,
            "prescription_id": i.prescription_id,
            "number": i.prescription.number,
            "status": i.prescription.get_status_display(),
        }
        for i in rows
    ]


def encounter_prescriptions(*, ctx: Ctx, encounter: Any) -> dict[str, Any]:
    """The workspace's "Prescriptions" panel: the encounter's prescriptions (one's drafts among them)
    with their items, and the latest check of one's draft (three queries)."""
    rows = list(
        Prescription.objects.for_tenant(ctx)
        .filter(_visible(ctx), encounter_id=encounter.id)
        .prefetch_related(_items_prefetch(ctx))
        .order_by("-created_at", "-id")[:20]
    )
    draft = next((p for p in rows if p.status == PrescriptionStatus.DRAFT), None)
    check = None
    if draft is not None:
        check = SafetyCheck.objects.for_tenant(ctx).filter(prescription=draft).order_by("-checked_at").first()
    return {
        "prescriptions": rows,
        "draft": draft,
        "check": check,
        "can_prescribe": policies.can_prescribe(ctx),
        "frequencies": Frequency.choices,
    }


# --------------------------------------------------------------------------------------------------
# The override report
# --------------------------------------------------------------------------------------------------


@audit.reads_health_data
def override_report(
    *,
    ctx: Ctx,
    since: dt.datetime,
    until: dt.datetime,
    prescriber_id: uuid.UUID | None = None,
    severity: str = "",
) -> list[SafetyOverride]:
    """Overrides of safety alerts in the organization in [since, until), newest first: for clinical
    governance (department heads, privacy officers)."""
    action = "medications.override_report.read"
    if not policies.can_report(ctx):
        raise audit.denied(ctx, action, Forbidden("the override report is for department heads and privacy officers"))
    if since >= until:
        raise ValidationFailed.field("until", "after the start of the period", code="invalid")
    if severity and severity not in SEVERITIES:
        raise ValidationFailed.field("severity", f"one of {', '.join(SEVERITIES)}", code="invalid_choice")
    found = SafetyOverride.objects.for_tenant(ctx).filter(overridden_at__gte=since, overridden_at__lt=until)
    if prescriber_id is not None:
        found = found.filter(overridden_by_id=prescriber_id)
    if severity:
        found = found.filter(severity=severity)
    rows = list(
        found.select_related("prescription", "overridden_by", "patient").order_by("-overridden_at", "-id")[
            :REPORT_MAX_ROWS
        ]
    )
    audit.record(
        ctx,
        action,
        read=True,
        results=len(rows),
        since=since.isoformat(),
        until=until.isoformat(),
        severity=severity,
        prescriber=str(prescriber_id or ""),
    )
    return rows


# --------------------------------------------------------------------------------------------------
# Repeat requests (prescribers)
# --------------------------------------------------------------------------------------------------


@audit.reads_health_data
def repeat_request_list(*, ctx: Ctx, status: str = RepeatStatus.PENDING) -> list[RepeatRequest]:
    """Patients' repeat requests of the prescriptions `ctx`'s prescriber signed, oldest first."""
    action = "medications.repeat_request.list"
    if not policies.can_prescribe(ctx):
        raise audit.denied(ctx, action, Forbidden("repeat requests go to prescribers"))
    if status and status not in RepeatStatus.values:
        raise ValidationFailed.field("status", f"one of {', '.join(RepeatStatus.values)}", code="invalid_choice")
    found = RepeatRequest.objects.for_tenant(ctx).filter(prescription__prescriber_id=ctx.actor_id)
    if status:
        found = found.filter(status=status)
    rows = list(
        found.select_related("prescription", "patient")
        .prefetch_related(
            Prefetch(
                "prescription__items",
                queryset=PrescriptionItem.objects.for_tenant(ctx).order_by("position"),
                to_attr="item_list",
            )
        )
        .order_by("requested_at", "id")[:MAX_ROWS]
    )
    audit.record(ctx, action, read=True, results=len(rows), status=status)
    return rows


# --------------------------------------------------------------------------------------------------
# Adherence (clinicians)
# --------------------------------------------------------------------------------------------------


@dataclass
class AdherenceSummary:
    since: dt.datetime
    until: dt.datetime
    total: adherence.Adherence
    items: list[dict[str, Any]] = field(default_factory=list)


def _period(days: int) -> tuple[dt.datetime, dt.datetime]:
    if not 1 <= days <= 366:
        raise ValidationFailed.field("days", "between 1 and 366", code="out_of_range")
    until = timezone.now()
    return until - dt.timedelta(days=days), until


def _summary(doses: QuerySet[DoseEvent], items: list[PrescriptionItem], since: dt.datetime, until: dt.datetime) -> Any:
    per_item = adherence.adherence_by_item(doses)
    none = adherence.Adherence(0, 0, 0)
    return AdherenceSummary(
        since=since,
        until=until,
        total=adherence.total(per_item),
        items=[
            {
                "item_id": i.id,
                "prescription_id": i.prescription_id,
                "drug": i.drug_display,
                "strength": i.strength,
                "directions": directions(i),
                "adherence": per_item.get(i.id, none),
            }
            for i in items
            if i.id in per_item
        ],
    )


@audit.reads_health_data
def adherence_summary(*, ctx: Ctx, patient_id: uuid.UUID, days: int = 30) -> AdherenceSummary:
    """Taken / (taken + missed + skipped) per medication and over all of them, for the last `days`."""
    action = "medications.adherence.read"
    since, until = _period(days)
    break_glass = policies.require_patient(ctx, action, patient_id)
    doses = DoseEvent.objects.for_tenant(ctx).filter(patient_id=patient_id, due_at__gte=since, due_at__lt=until)
    items = list(
        PrescriptionItem.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, starts_at__lt=until)
        .order_by("-starts_at")
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, days=days, **_basis(break_glass))
    return _summary(doses, items, since, until)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------------
# The patient's own
# --------------------------------------------------------------------------------------------------


def _mine(ctx: Ctx, action: str) -> tuple[Any, Ctx]:
    patient = my_patient(ctx)
    if patient is None:
        raise audit.denied(ctx, action, NotFound("no patient record is linked to this account"))
    return patient, Ctx.system(reason="a patient reads their own medications")


@dataclass
class MyPrescription:
    prescription: Prescription
    hospital: str
    items: list[dict[str, Any]]
    ready_at_pharmacy: bool
    repeat_blocked: str  # "" when a repeat may be asked for, else why not
    pending_request: RepeatRequest | None
    last_request: RepeatRequest | None
    pharmacies: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # where it may be collected


@audit.reads_health_data
def my_medications(*, ctx: Ctx) -> list[MyPrescription]:
    """The signed-in patient's current prescriptions at every hospital (those still being taken, or
    whose course ended recently), with directions, adherence over 30 days, and whether a repeat may be
    asked for."""
    action = "medications.prescription.read_own"
    patient, system = _mine(ctx, action)
    now = timezone.now()
    recent = now - dt.timedelta(days=settings.MEDICATIONS_REPEAT_RECENT_DAYS)
    prescriptions = list(
        Prescription.objects.for_system(system)
        .filter(patient_id=patient.id, status__in=ACTIVE_STATUSES)
        .filter(Q(items__ends_at__isnull=True) | Q(items__ends_at__gte=recent) | Q(items__refills__gt=0))
        .distinct()
        .prefetch_related(
            Prefetch(
                "items", queryset=PrescriptionItem.objects.for_system(system).order_by("position"), to_attr="item_list"
            )
        )
        .order_by("-signed_at", "-id")[:MAX_ROWS]
    )
    ids = [p.id for p in prescriptions]
    repeated = set(
        Prescription.objects.for_system(system)
        .filter(repeat_of_id__in=ids)
        .exclude(status=PrescriptionStatus.CANCELLED)
        .values_list("repeat_of_id", flat=True)
    )
    requests: dict[uuid.UUID, list[RepeatRequest]] = {}
    for r in RepeatRequest.objects.for_system(system).filter(prescription_id__in=ids).order_by("-requested_at"):
        requests.setdefault(r.prescription_id, []).append(r)
    per_item = adherence.adherence_by_item(
        DoseEvent.objects.for_system(system).filter(patient_id=patient.id, due_at__gte=now - dt.timedelta(days=30))
    )
    names = _hospitals(system, {p.organization_id for p in prescriptions})
    pharmacies: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for org_id, department_id, name in (
        Department.objects.for_system(system)
        .filter(organization_id__in={p.organization_id for p in prescriptions}, kind="pharmacy", is_active=True)
        .order_by("name")
        .values_list("organization_id", "id", "name")
        if prescriptions
        else []
    ):
        pharmacies.setdefault(org_id, []).append((department_id, name))
    none = adherence.Adherence(0, 0, 0)
    out = []
    for p in prescriptions:
        mine = requests.get(p.id, [])
        out.append(
            MyPrescription(
                prescription=p,
                hospital=names.get(p.organization_id, ""),
                items=[
                    {
                        "item": i,
                        "directions": directions(i),
                        "adherence": per_item.get(i.id, none),
                        "current": i.ends_at is None or i.ends_at >= now,
                    }
                    for i in p.item_list  # type: ignore[attr-defined]
                ],
                ready_at_pharmacy=p.status in (PrescriptionStatus.DISPENSED, PrescriptionStatus.PARTIALLY_DISPENSED),
                repeat_blocked=repeats.repeat_ineligibility(
                    p,
                    p.item_list,  # type: ignore[attr-defined]
                    repeated=p.id in repeated,
                    now=now,
                ),
                pending_request=next((r for r in mine if r.status == RepeatStatus.PENDING), None),
                last_request=mine[0] if mine else None,
                pharmacies=pharmacies.get(p.organization_id, []),
            )
        )
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, results=len(out))
    return out


def _hospitals(system: Ctx, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(Organization.objects.for_platform(system).filter(id__in=ids).values_list("id", "name"))


def _timezones(system: Ctx, ids: set[uuid.UUID]) -> dict[uuid.UUID, ZoneInfo]:
    rows = Organization.objects.for_platform(system).filter(id__in=ids).values_list("id", "timezone") if ids else []
    return {i: ZoneInfo(tz) for i, tz in rows}


@audit.reads_health_data
def my_doses(*, ctx: Ctx, day: dt.date | None = None) -> list[DoseEvent]:
    """The signed-in patient's doses due on `day` (default today), each on its hospital's calendar,
    in time order, with their item (`item`)."""
    action = "medications.dose.list_own"
    patient, system = _mine(ctx, action)
    now = timezone.now()
    middle = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC) if day else now
    candidates = list(
        DoseEvent.objects.for_system(system)
        .filter(
            patient_id=patient.id,
            due_at__gte=middle - dt.timedelta(hours=38),
            due_at__lte=middle + dt.timedelta(hours=38),
        )
        .exclude(prescription__status=PrescriptionStatus.CANCELLED)
        .select_related("item")
        .order_by("due_at", "id")
    )
    zones = _timezones(system, {d.organization_id for d in candidates})
    default = ZoneInfo(settings.TIME_ZONE)
    found = []
    for dose in candidates:
        tz = zones.get(dose.organization_id, default)
        today = day or now.astimezone(tz).date()
        if dose.due_at.astimezone(tz).date() == today:
            dose.local_due = dose.due_at.astimezone(tz)  # type: ignore[attr-defined]
            dose.markable = dose.due_at <= now + dt.timedelta(minutes=settings.MEDICATIONS_DOSE_EARLY_MINUTES)  # type: ignore[attr-defined]
            dose.directions = directions(dose.item)  # type: ignore[attr-defined]
            found.append(dose)
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, results=len(found))
    return found


@audit.reads_health_data
def my_adherence(*, ctx: Ctx, days: int = 30) -> AdherenceSummary:
    """The signed-in patient's adherence over the last `days`, per medication and over all."""
    action = "medications.adherence.read_own"
    since, until = _period(days)
    patient, system = _mine(ctx, action)
    doses = DoseEvent.objects.for_system(system).filter(patient_id=patient.id, due_at__gte=since, due_at__lt=until)
    items = list(
        PrescriptionItem.objects.for_system(system)
        .filter(patient_id=patient.id, starts_at__lt=until)
        .order_by("-starts_at")
    )
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, days=days)
    return _summary(doses, items, since, until)  # type: ignore[no-any-return]


@audit.reads_health_data
def my_repeat_requests(*, ctx: Ctx) -> list[RepeatRequest]:
    """The signed-in patient's repeat requests at every hospital, newest first."""
    action = "medications.repeat_request.list_own"
    patient, system = _mine(ctx, action)
    rows = list(
        RepeatRequest.objects.for_system(system)
        .filter(patient_id=patient.id)
        .select_related("prescription", "new_prescription")
        .order_by("-requested_at", "-id")[:MAX_ROWS]
    )
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, results=len(rows))
    return rows
