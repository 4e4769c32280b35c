"""The clinician's chart of a patient: a summary made of registered sections, a vitals trend, and
timelines (encounters, notes, diagnoses) read a page at a time; and the encounter workspace's data.

**Sections.** The summary is a registry (like the export sections of `patients.exports`): each
section is (key, title, order, a function `fn(*, ctx, patient_id)` returning plain data in at most two
queries, a template partial that receives `section` and `data`). Other parts of the clinical record
add theirs with `register_chart_section(...)` from their AppConfig.ready (or at import of their module);
registering a key again replaces it, so the allergies section replaces the placeholder. The functions
are called only after the care relationship was checked, and the read is audited once for the chart.

**Bounded.** Every read here is a fixed number of indexed queries, whatever the history's size: the
latest set of vital signs, the newest rows of each list, a year of one vital from the index on
(organization, patient, code, time), timelines a page at a time (no count)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from phb.clinical import history_selectors, policies, vitals
from phb.clinical.models import (
    AlertStatus,
    ClinicalNote,
    CriticalAlert,
    Diagnosis,
    DiagnosisStatus,
    Encounter,
    NoteKind,
    NoteStatus,
    NoteTemplate,
    Observation,
    ObservationStatus,
    VitalSignsSet,
)
from phb.clinical.services import require_access
from phb.kernel import audit, memo
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed
from phb.patients.models import Patient

# --------------------------------------------------------------------------------------------------
# The section registry
# --------------------------------------------------------------------------------------------------

SectionFn = Callable[..., Any]


@dataclass(frozen=True)
class ChartSection:
    """One part of the chart summary. `fn(*, ctx, patient_id)` returns plain data (at most two
    queries); `template` renders it (it receives `section` and `data`)."""

    key: str
    title: str
    order: int
    fn: SectionFn
    template: str


_sections: dict[str, ChartSection] = {}


def register_chart_section(key: str, fn: SectionFn, *, title: str, order: int, template: str) -> None:
    """Add (or replace, by key) a section of every chart summary."""
    if not key.replace("_", "").isalnum() or key != key.lower():
        raise ValueError(f"a chart section key is lower-case letters, digits and underscores: {key!r}")
    _sections[key] = ChartSection(key=key, title=title, order=order, fn=fn, template=template)


def chart_sections() -> list[ChartSection]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.key))


def _finding_label(finding: dict[str, str]) -> str:
    if finding.get("code") == "news2":
        return "NEWS2 high"
    sign = vitals.BY_CODE.get(finding.get("code", ""))
    return f"{sign.display if sign else finding.get('code')} {finding.get('flag', '')}".strip()


def _section_alerts(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """Open critical alerts of the patient, newest first (one query)."""
    alerts = (
        CriticalAlert.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, status=AlertStatus.OPEN)
        .order_by("-raised_at", "-id")
        .values("id", "raised_at", "findings", "escalated_at", "recipient_id")[:10]
    )
    return [
        {**a, "reference": f"CA-{str(a['id'])[-8:].upper()}", "labels": [_finding_label(f) for f in a["findings"]]}
        for a in alerts
    ]


def _section_placeholder(*, ctx: Ctx, patient_id: uuid.UUID) -> None:
    """A section another part of the record provides (no query)."""
    return None


def _section_problems(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """Active diagnoses and problems, one line per code, newest first (one query)."""
    rows = (
        Diagnosis.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, clinical_status=DiagnosisStatus.ACTIVE)
        .order_by("-recorded_at", "-id")
        .values("id", "system", "code", "display", "category", "severity", "onset_date", "recorded_at")[:50]
    )
    seen: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        if (row["system"], row["code"]) not in seen:
            seen.add((row["system"], row["code"]))
            out.append(row)
    return out


def _observation_row(o: Observation) -> dict[str, Any]:
    sign = vitals.BY_CODE.get(o.code)
    return {
        "code": o.code,
        "name": sign.name if sign else o.code,
        "display": sign.display if sign else o.code,
        "value": o.value_code or (o.value_numeric.normalize() if o.value_numeric is not None else ""),
        "unit": o.unit,
        "interpretation": o.interpretation,
        "critical": o.interpretation in vitals.CRITICAL,
    }


def _set_row(vital_set: VitalSignsSet, observations: list[Observation]) -> dict[str, Any]:
    return {
        "id": vital_set.id,
        "effective_at": vital_set.effective_at,
        "news2_score": vital_set.news2_score,
        "news2_response": vital_set.news2_response,
        "news2_response_display": vital_set.get_news2_response_display() if vital_set.news2_response else "",
        "on_supplemental_oxygen": vital_set.on_supplemental_oxygen,
        "observations": [_observation_row(o) for o in sorted(observations, key=lambda o: o.code)],
    }


def _section_vitals(*, ctx: Ctx, patient_id: uuid.UUID) -> dict[str, Any] | None:
    """The latest set of vital signs with NEWS2 and its response level (two queries)."""
    latest = (
        VitalSignsSet.objects.for_tenant(ctx)
        .filter(patient_id=patient_id)
        .exclude(observations__status=ObservationStatus.ENTERED_IN_ERROR)
        .order_by("-effective_at", "-id")
        .first()
    )
    if latest is None:
        return None
    observations = list(Observation.objects.for_tenant(ctx).filter(vital_set=latest))
    return _set_row(latest, observations)


def _section_encounters(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The five most recent encounters: the top of the encounters timeline's first page, in the same
    order (one query, which the chart's timeline reuses)."""
    rows, _more = _read_timeline(ctx, patient_id, "encounters", 1)
    return [
        {
            "id": e.id,
            "status": e.status,
            "encounter_class": e.encounter_class,
            "started_at": e.started_at,
            "ended_at": e.ended_at,
            "department__name": e.department.name if e.department else None,
            "attending__full_name": e.attending.full_name if e.attending else None,
        }
        for e in rows[:5]
    ]


register_chart_section(
    "alerts", _section_alerts, title="Open critical alerts", order=10, template="clinical/chart/_alerts.html"
)
register_chart_section(
    "allergies",
    # The chart has checked the care relationship and audits its one read of the whole summary.
    history_selectors._allergy_summary_data,
    title="Allergies and intolerances",
    order=20,
    template="clinical/chart/_allergies.html",
)
register_chart_section(
    "problems", _section_problems, title="Active problems", order=30, template="clinical/chart/_problems.html"
)
register_chart_section(
    "medications",
    _section_placeholder,
    title="Current medications",
    order=40,
    template="clinical/chart/_placeholder.html",
)
register_chart_section(
    "vitals", _section_vitals, title="Last vital signs", order=50, template="clinical/chart/_vitals.html"
)
register_chart_section(
    "encounters", _section_encounters, title="Recent encounters", order=60, template="clinical/chart/_encounters.html"
)


# --------------------------------------------------------------------------------------------------
# The vitals trend
# --------------------------------------------------------------------------------------------------

TREND_VITALS = (
    "blood_pressure",
    "heart_rate",
    "respiratory_rate",
    "temperature",
    "spo2",
    "weight",
    "bmi",
    "blood_glucose",
    "pain_score",
)
TREND_LABELS = {"blood_pressure": "Blood pressure"} | {n: vitals.BY_NAME[n].display for n in TREND_VITALS[1:]}
PERIODS = {"30": 30, "90": 90, "365": 365, "1825": 1825}
MAX_POINTS = 400  # more points than pixels say nothing more: they are averaged by time bucket
WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 720, 240, 48, 12, 12, 28


def _series_codes(vital: str) -> list[str]:
    if vital == "blood_pressure":
        return [vitals.SYSTOLIC_BP, vitals.DIASTOLIC_BP]
    return [vitals.BY_NAME[vital].code]


@dataclass
class Series:
    code: str
    label: str
    points: list[tuple[dt.datetime, float, str]] = field(default_factory=list)  # (time, value, flag)
    svg_points: str = ""
    critical: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Trend:
    vital: str
    label: str
    unit: str
    days: int
    start: dt.datetime
    end: dt.datetime
    series: list[Series]
    count: int = 0
    averaged: bool = False
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    reference: tuple[float, float] | None = None  # (top y, height) of the adult reference band
    width: int = WIDTH
    height: int = HEIGHT


def _clean_trend_args(vital: str, days: int) -> tuple[str, int]:
    if vital not in TREND_VITALS:
        raise ValidationFailed.field("vital", f"one of {', '.join(TREND_VITALS)}", code="invalid_choice")
    if days not in PERIODS.values():
        raise ValidationFailed.field("period", "30, 90, 365 or 1825 days", code="invalid_choice")
    return vital, days


def _read_trend(ctx: Ctx, patient_id: uuid.UUID, vital: str, days: int, now: dt.datetime | None = None) -> Trend:
    """One query on the (organization, patient, code, time) index, then the drawing."""
    end = now or timezone.now()
    start = end - dt.timedelta(days=days)
    codes = _series_codes(vital)
    rows = (
        Observation.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, code__in=codes, effective_at__gte=start, effective_at__lte=end)
        .exclude(value_numeric__isnull=True)
        .exclude(status=ObservationStatus.ENTERED_IN_ERROR)
        .order_by("effective_at")
        .values_list("code", "effective_at", "value_numeric", "interpretation")
    )
    series = {code: Series(code, vitals.BY_CODE[code].display) for code in codes}
    count = 0
    for code, at, value, flag in rows:
        series[code].points.append((at, float(value), flag))
        count += 1
    sign = vitals.BY_CODE[codes[0]]
    trend = Trend(
        vital=vital,
        label=TREND_LABELS[vital],
        unit=sign.unit,
        days=days,
        start=start,
        end=end,
        series=list(series.values()),
        count=count,
    )
    _draw(trend, sign)
    return trend


def _bucketed(points: list[tuple[dt.datetime, float, str]], start: dt.datetime, span: float) -> list[Any]:
    """Average the points of each of MAX_POINTS time buckets (critical flags kept)."""
    buckets: dict[int, list[tuple[dt.datetime, float, str]]] = {}
    for p in points:
        index = min(MAX_POINTS - 1, int((p[0] - start).total_seconds() / span * MAX_POINTS))
        buckets.setdefault(index, []).append(p)
    out = []
    for group in buckets.values():
        mean = sum(p[1] for p in group) / len(group)
        flag = next((p[2] for p in group if p[2] in vitals.CRITICAL), "")
        out.append((group[len(group) // 2][0], mean, flag))
    return out


def _nice_step(span: float) -> float:
    raw = span / 5 or 1
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _draw(trend: Trend, sign: vitals.VitalSign) -> None:
    """Plot coordinates for a server-rendered SVG: polylines, critical points, axes ticks and the adult
    reference band."""
    span = (trend.end - trend.start).total_seconds()
    for s in trend.series:
        if len(s.points) > MAX_POINTS:
            s.points = _bucketed(s.points, trend.start, span)
            trend.averaged = True
    values = [p[1] for s in trend.series for p in s.points]
    band = sign.bands.get("adult")
    reference = (
        [float(v) for v in band.reference] if band and band.reference and trend.vital != "blood_pressure" else []
    )
    if not values:
        return
    low, high = min(values + reference), max(values + reference)
    step = _nice_step(high - low)
    low, high = (low // step) * step, (high // step + 1) * step
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(at: dt.datetime) -> float:
        return round(PAD_LEFT + (at - trend.start).total_seconds() / span * plot_w, 1)

    def y(value: float) -> float:
        return round(PAD_TOP + (high - value) / (high - low) * plot_h, 1)

    for s in trend.series:
        s.svg_points = " ".join(f"{x(at)},{y(v)}" for at, v, _ in s.points)
        s.critical = [(x(at), y(v)) for at, v, flag in s.points if flag in vitals.CRITICAL][:200]
    tick = low
    while tick <= high + step / 2:
        trend.y_ticks.append((y(tick), f"{tick:g}"))
        tick += step
    for i in range(5):
        at = trend.start + (trend.end - trend.start) * i / 4
        trend.x_ticks.append((x(at), timezone.localtime(at).strftime("%d %b %y")))
    if reference:
        trend.reference = (y(reference[1]), round(y(reference[0]) - y(reference[1]), 1))


# --------------------------------------------------------------------------------------------------
# Timelines
# --------------------------------------------------------------------------------------------------

TIMELINES = ("encounters", "notes", "diagnoses")
PAGE_SIZE = 20
MAX_PAGE = 500


def _visible_notes(ctx: Ctx) -> Q:
    return Q(status=NoteStatus.SIGNED) | Q(author_id=ctx.actor_id)


@memo.cached()  # the chart reads the first page of encounters once, for its section and its timeline
def _read_timeline(ctx: Ctx, patient_id: uuid.UUID, kind: str, page: int) -> tuple[list[Any], bool]:
    """One page (newest first) and whether there is another: one query (a row more than the page)."""
    offset = (page - 1) * PAGE_SIZE
    window = slice(offset, offset + PAGE_SIZE + 1)
    rows: list[Any]
    if kind == "encounters":
        rows = list(
            Encounter.objects.for_tenant(ctx)
            .filter(patient_id=patient_id)
            .select_related("department", "attending")
            .order_by("-started_at", "-created_at")[window]
        )
    elif kind == "notes":
        rows = list(
            ClinicalNote.objects.for_tenant(ctx)
            .filter(_visible_notes(ctx), patient_id=patient_id)
            .exclude(kind=NoteKind.ADDENDUM)
            .select_related("author")
            .order_by("-created_at", "-id")[window]
        )
    else:
        rows = list(
            Diagnosis.objects.for_tenant(ctx)
            .filter(patient_id=patient_id)
            .exclude(clinical_status=DiagnosisStatus.ENTERED_IN_ERROR)
            .select_related("diagnosed_by")
            .order_by("-recorded_at", "-id")[window]
        )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _clean_page(kind: str, page: int) -> None:
    if kind not in TIMELINES:
        raise ValidationFailed.field("kind", f"one of {', '.join(TIMELINES)}", code="invalid_choice")
    if page < 1 or page > MAX_PAGE:
        raise ValidationFailed.field("page", f"between 1 and {MAX_PAGE}", code="out_of_range")


# --------------------------------------------------------------------------------------------------
# Audited reads
# --------------------------------------------------------------------------------------------------


def _basis(access: policies.Access) -> dict[str, bool]:
    return {"break_glass": True} if access.break_glass else {}


@dataclass
class Chart:
    patient: dict[str, Any]
    sections: list[tuple[ChartSection, Any]]
    trend: Trend
    timelines: dict[str, tuple[list[Any], bool]]
    break_glass: bool


def _patient_header(patient_id: uuid.UUID) -> dict[str, Any]:
    row = (
        Patient.objects.filter(id=patient_id)
        .values("id", "given_name", "family_name", "birth_date", "sex", "merged_into_id")
        .first()
    )
    if row is None:
        raise NotFound("no such patient")
    if row["birth_date"]:
        today = timezone.localdate()
        born = row["birth_date"]
        row["age"] = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return row


@audit.reads_health_data
def chart_open(
    *, ctx: Ctx, patient_id: uuid.UUID, vital: str = "heart_rate", days: int = 365, now: dt.datetime | None = None
) -> Chart:
    """The chart page: the summary's sections, a vitals trend and the first page of each timeline. One
    access check and one audit event; a fixed number of queries whatever the history's size."""
    action = "clinical.chart.read"
    vital, days = _clean_trend_args(vital, days)
    # One transaction for the whole page: one BEGIN, one COMMIT and one tenancy binding for all its
    # queries, rather than each of them in a transaction of its own. It writes only its audit event:
    # what a section and a timeline both show is read once (`memo`).
    with audit.read_batch(), memo.scope():
        access = require_access(ctx, action, patient_id)
        audit.record(ctx, action, patient_id=patient_id, read=True, **_basis(access))
        return Chart(
            patient=_patient_header(patient_id),
            sections=[(s, s.fn(ctx=ctx, patient_id=patient_id)) for s in chart_sections()],
            trend=_read_trend(ctx, patient_id, vital, days, now),
            timelines={kind: _read_timeline(ctx, patient_id, kind, 1) for kind in TIMELINES},
            break_glass=access.break_glass,
        )


@audit.reads_health_data
def vitals_trend(
    *, ctx: Ctx, patient_id: uuid.UUID, vital: str, days: int = 365, now: dt.datetime | None = None
) -> Trend:
    """One vital (or blood pressure) over the last `days` days, ready to draw (one query)."""
    action = "clinical.vitals_trend.read"
    vital, days = _clean_trend_args(vital, days)
    with audit.read_batch():
        access = require_access(ctx, action, patient_id)
        audit.record(ctx, action, patient_id=patient_id, read=True, vital=vital, days=days, **_basis(access))
        return _read_trend(ctx, patient_id, vital, days, now)


@audit.reads_health_data
def chart_timeline(*, ctx: Ctx, patient_id: uuid.UUID, kind: str, page: int = 1) -> tuple[list[Any], bool]:
    """A page of a timeline (encounters, notes or diagnoses), newest first, and whether more follow."""
    action = "clinical.chart_timeline.read"
    _clean_page(kind, page)
    with audit.read_batch():
        access = require_access(ctx, action, patient_id)
        audit.record(ctx, action, patient_id=patient_id, read=True, kind=kind, page=page, **_basis(access))
        return _read_timeline(ctx, patient_id, kind, page)


# --------------------------------------------------------------------------------------------------
# The encounter workspace
# --------------------------------------------------------------------------------------------------


@dataclass
class Workspace:
    encounter: Encounter
    patient: dict[str, Any]
    vital_sets: list[dict[str, Any]]
    diagnoses: list[Diagnosis]
    alerts: list[dict[str, Any]]
    draft: ClinicalNote | None
    signed: list[ClinicalNote]
    template: NoteTemplate | None
    break_glass: bool


@audit.reads_health_data
def encounter_workspace(*, ctx: Ctx, encounter_id: uuid.UUID) -> Workspace:
    """What the encounter workspace shows: the encounter and its patient, its vital signs, diagnoses,
    open critical alerts, one's draft note (or the department's template to start one) and its signed
    notes. A fixed number of queries."""
    action = "clinical.encounter_workspace.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    encounter = (
        Encounter.objects.for_tenant(ctx).select_related("department", "attending").filter(id=encounter_id).first()
    )
    if encounter is None:
        raise audit.denied(ctx, action, NotFound("no such encounter"), resource_id=str(encounter_id))
    access = require_access(ctx, action, encounter.patient_id)
    audit.record(ctx, action, target=encounter, patient_id=encounter.patient_id, read=True, **_basis(access))
    sets = list(
        VitalSignsSet.objects.for_tenant(ctx)
        .filter(encounter=encounter)
        .exclude(observations__status=ObservationStatus.ENTERED_IN_ERROR)
        .prefetch_related(Prefetch("observations", queryset=Observation.objects.for_tenant(ctx)))
        .order_by("-effective_at", "-id")[:20]
    )
    notes = list(
        ClinicalNote.objects.for_tenant(ctx)
        .filter(_visible_notes(ctx), encounter=encounter)
        .exclude(kind=NoteKind.ADDENDUM)
        .select_related("author")
        .order_by("-created_at", "-id")[:20]
    )
    draft = next((n for n in notes if n.status == NoteStatus.DRAFT and n.author_id == ctx.actor_id), None)
    template = None
    if draft is None:
        kind = encounter.department.kind if encounter.department else ""  # none: recorded elsewhere
        candidates = NoteTemplate.objects.for_tenant(ctx).filter(
            Q(department_id=encounter.department_id) | Q(department__isnull=True, department_kind__in=[kind, ""]),
            is_active=True,
        )
        template = min(
            candidates,
            key=lambda t: (0 if t.department_id else 1 if t.department_kind == kind else 2, t.name),
            default=None,
        )
    return Workspace(
        encounter=encounter,
        patient=_patient_header(encounter.patient_id),
        vital_sets=[_set_row(s, list(s.observations.all())) for s in sets],
        diagnoses=list(
            Diagnosis.objects.for_tenant(ctx)
            .filter(encounter=encounter)
            .exclude(clinical_status=DiagnosisStatus.ENTERED_IN_ERROR)
            .order_by("-recorded_at", "-id")[:50]
        ),
        alerts=_section_alerts(ctx=ctx, patient_id=encounter.patient_id),
        draft=draft,
        signed=[n for n in notes if n.status == NoteStatus.SIGNED],
        template=template,
        break_glass=access.break_glass,
    )


@audit.reads_health_data
def encounter_for_appointment(*, ctx: Ctx, appointment_id: uuid.UUID) -> uuid.UUID:
    """The id of the encounter an appointment started (the queue links to it)."""
    action = "clinical.encounter.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    row = Encounter.objects.for_tenant(ctx).filter(appointment_id=appointment_id).values("id", "patient_id").first()
    if row is None:
        raise audit.denied(ctx, action, NotFound("no encounter for this appointment"), resource_id=str(appointment_id))
    access = require_access(ctx, action, row["patient_id"])
    audit.record(
        ctx,
        action,
        resource_type="clinical.Encounter",
        resource_id=row["id"],
        patient_id=row["patient_id"],
        read=True,
        **_basis(access),
    )
    return row["id"]


# --------------------------------------------------------------------------------------------------
# Panels of the encounter workspace added by apps above clinical (prescriptions, orders, ...)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncounterPanel:
    """A panel of the encounter workspace another app provides, as chart sections are: `fn(*, ctx,
    encounter)` returns plain data for the panel (a fixed number of queries; the workspace has checked
    the care relationship), `template` renders it (it receives `panel`, `data`, `encounter`, `open`)."""

    key: str
    title: str
    order: int
    fn: SectionFn
    template: str


_panels: dict[str, EncounterPanel] = {}


def register_encounter_panel(key: str, fn: SectionFn, *, title: str, order: int, template: str) -> None:
    """Add (or replace, by key) a panel of every encounter workspace. The clinical app imports no app
    above it: the app that owns the panel registers it from its AppConfig.ready."""
    if not key.replace("_", "").isalnum() or key != key.lower():
        raise ValueError(f"an encounter panel key is lower-case letters, digits and underscores: {key!r}")
    _panels[key] = EncounterPanel(key=key, title=title, order=order, fn=fn, template=template)


def encounter_panels() -> list[EncounterPanel]:
    return sorted(_panels.values(), key=lambda p: (p.order, p.key))
