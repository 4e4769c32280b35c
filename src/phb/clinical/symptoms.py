"""Patient-reported symptoms. A patient reports a symptom in the portal to one hospital where they are
registered; that hospital's care team sees it (a clinician with a care relationship there, as for the
rest of the record), and so does the patient. Reports are never changed: a symptom reported again is a
new point of its trend.

Writes come from the patient only; every read is audited, refusals included. Another patient's report
and a patient a clinician has no relationship with are "not found". Free text is encrypted; the code,
severity, body location and times stay queryable, so a trend reads from the index on (organization,
patient, time)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from phb.clinical import policies
from phb.clinical.events import SymptomReported
from phb.clinical.models import BodyLocation, SymptomReport
from phb.clinical.services import FUTURE_SKEW, require_access
from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.models import Patient, PatientRegistration, RegistrationStatus
from phb.patients.public import my_patient

SYMPTOMS_FILE = Path(__file__).parent / "data" / "symptom_codes.json"
SYMPTOM_TEXT_MAX = 500
DETAIL_MAX = 300
ITEM_MAX = 120
ITEMS_MAX = 10
ONSET_DAYS_MAX = 3650
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_SIDE = 1600
PHOTO_ATTACH_WINDOW = dt.timedelta(hours=24)  # a photo may follow its report (API), the same day
TREND_DAYS = 365
TREND_MAX_REPORTS = 500
MAX_LIMIT = 200
SUMMARY_SYMPTOMS = 8


# --------------------------------------------------------------------------------------------------
# The portal's list of symptoms
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Symptom:
    code: str  # ICD-10-CM
    name: str  # plain language, for the patient
    icd10cm: str  # the code's ICD-10-CM description, for the care team


@cache
def symptom_catalogue() -> dict[str, Symptom]:
    """The common symptoms a patient picks from (data/symptom_codes.json), by code."""
    data = json.loads(SYMPTOMS_FILE.read_text())
    return {s["code"]: Symptom(s["code"], s["name"], s["icd10cm"]) for s in data["symptoms"]}


def symptom_name(code: str) -> str:
    symptom = symptom_catalogue().get(code)
    return symptom.name if symptom else code


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _error(field: str, message: str, code: str) -> dict[str, str]:
    return {"field": field, "message": message, "code": code}


def _severity(raw: Any) -> tuple[int | None, dict[str, str] | None]:
    if isinstance(raw, bool) or raw is None or raw == "":
        return None, _error("severity", "give the severity from 0 (none) to 10 (the worst)", "required")
    if isinstance(raw, str) and re.fullmatch(r"\s*\d{1,3}\s*", raw):
        raw = int(raw)
    if not isinstance(raw, int):
        return None, _error("severity", "the severity is a whole number from 0 to 10", "not_a_whole_number")
    if not 0 <= raw <= 10:
        return None, _error("severity", "the severity is from 0 (none) to 10 (the worst)", "out_of_range")
    return raw, None


def _items(field: str, raw: Any, errors: list[dict[str, str]]) -> list[str]:
    """A short list of short texts: stripped, without blanks or repeats."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        errors.append(_error(field, "a list of short texts is expected", "not_a_list"))
        return []
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            errors.append(_error(field, "a list of short texts is expected", "not_a_list"))
            return []
        text = " ".join(item.split())
        if len(text) > ITEM_MAX:
            errors.append(_error(field, f"each entry has at most {ITEM_MAX} characters", "too_long"))
            return []
        if text and text.casefold() not in {o.casefold() for o in out}:
            out.append(text)
    if len(out) > ITEMS_MAX:
        errors.append(_error(field, f"at most {ITEMS_MAX} entries", "too_many"))
        return []
    return out


def _onset(
    onset_at: Any, onset_days_ago: Any, *, now: dt.datetime, birth_date: dt.date | None, errors: list[dict[str, str]]
) -> tuple[dt.datetime | None, int | None]:
    given_at = onset_at not in (None, "")
    given_days = onset_days_ago not in (None, "")
    if given_at and given_days:
        errors.append(_error("onset", "give when it started or how many days ago, not both", "onset_ambiguous"))
        return None, None
    if not given_at and not given_days:
        errors.append(_error("onset", "say when it started, or about how many days ago", "required"))
        return None, None
    days: int | None = None
    if given_days:
        if isinstance(onset_days_ago, str) and onset_days_ago.strip().isdigit():
            onset_days_ago = int(onset_days_ago)
        if isinstance(onset_days_ago, bool) or not isinstance(onset_days_ago, int):
            errors.append(_error("onset_days_ago", "a whole number of days", "not_a_whole_number"))
            return None, None
        if not 0 <= onset_days_ago <= ONSET_DAYS_MAX:
            errors.append(_error("onset_days_ago", f"between 0 and {ONSET_DAYS_MAX} days", "out_of_range"))
            return None, None
        days = onset_days_ago
        start = now - dt.timedelta(days=days)
    else:
        if not isinstance(onset_at, dt.datetime):
            errors.append(_error("onset_at", "a date and time is expected", "invalid"))
            return None, None
        start = onset_at if timezone.is_aware(onset_at) else timezone.make_aware(onset_at)
        if start > now + FUTURE_SKEW:
            errors.append(_error("onset_at", "the symptom cannot start in the future", "in_the_future"))
            return None, None
        start = min(start, now)
    if birth_date is not None and start.date() < birth_date:
        field = "onset_days_ago" if given_days else "onset_at"
        errors.append(_error(field, "this is before you were born", "before_birth"))
        return None, None
    return start, days


def clean_symptom_report(
    *,
    now: dt.datetime,
    birth_date: dt.date | None,
    symptom_code: str = "",
    symptom_text: str = "",
    severity: Any = None,
    onset_at: Any = None,
    onset_days_ago: Any = None,
    body_location: str = "",
    body_location_detail: str = "",
    triggers: Any = None,
    relief_factors: Any = None,
    associated_symptoms: Any = None,
) -> dict[str, Any]:
    """Every field checked; all the bad ones named at once (nothing is written when any is bad)."""
    errors: list[dict[str, str]] = []
    code = (symptom_code or "").strip().upper()
    if code and code not in symptom_catalogue():
        errors.append(_error("symptom_code", "not a symptom of the list", "unknown_code"))
    text = " ".join(str(symptom_text or "").split())
    if len(text) > SYMPTOM_TEXT_MAX:
        errors.append(_error("symptom_text", f"at most {SYMPTOM_TEXT_MAX} characters", "too_long"))
    if not code and not text:
        errors.append(_error("symptom", "choose a symptom from the list or describe it", "required"))
    level, error = _severity(severity)
    if error:
        errors.append(error)
    start, days = _onset(onset_at, onset_days_ago, now=now, birth_date=birth_date, errors=errors)
    location = (body_location or "").strip()
    if location and location not in BodyLocation.values:
        errors.append(_error("body_location", "not a place of the list", "unknown_body_location"))
    detail = str(body_location_detail or "").strip()
    if len(detail) > DETAIL_MAX:
        errors.append(_error("body_location_detail", f"at most {DETAIL_MAX} characters", "too_long"))
    cleaned_triggers = _items("triggers", triggers, errors)
    cleaned_relief = _items("relief_factors", relief_factors, errors)
    associated = [
        a.upper() if a.upper() in symptom_catalogue() else a
        for a in _items("associated_symptoms", associated_symptoms, errors)
    ]
    if errors:
        raise ValidationFailed("Some answers need a correction; nothing was saved.", errors=errors)
    return {
        "symptom_code": code,
        "symptom_text": text,
        "severity": level,
        "onset_at": start,
        "onset_days_ago": days,
        "body_location": location,
        "body_location_detail": detail,
        "triggers": cleaned_triggers,
        "relief_factors": cleaned_relief,
        "associated_symptoms": associated,
    }


# --------------------------------------------------------------------------------------------------
# The photo
# --------------------------------------------------------------------------------------------------


def photo_keep(data: bytes) -> str:
    """What the report keeps of a photo: any common image format re-encoded by PHB as a JPEG of at most
    1600 px a side (nothing of the original file — camera, place, time — survives), base64, stored in
    an encrypted column, as the registry keeps a patient's photo. The clinical documents store is to
    replace this function and `photo_open` once a patient can read their own document back: the
    report then keeps a reference to a document."""
    from PIL import Image, UnidentifiedImageError

    if not data or len(data) > PHOTO_MAX_BYTES:
        raise ValidationFailed.field("photo", "an image of at most 5 MB is expected", code="photo_size")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGB")
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=85)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed.field(
            "photo", "this is not an image PHB can read (JPEG, PNG, WebP...)", code="not_an_image"
        ) from exc
    return base64.b64encode(out.getvalue()).decode()


def photo_open(kept: str | None) -> bytes | None:
    """The JPEG bytes of what `photo_keep` kept."""
    return base64.b64decode(kept) if kept else None


# --------------------------------------------------------------------------------------------------
# Writes: the patient's own
# --------------------------------------------------------------------------------------------------


def _registered_at(ctx: Ctx, patient_id: uuid.UUID) -> bool:
    """Whether the patient is registered (approved) at `ctx`'s organization."""
    return (
        PatientRegistration.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, status=RegistrationStatus.APPROVED)
        .exists()
    )


def _own_patient(ctx: Ctx, action: str) -> Patient:
    patient = my_patient(ctx)
    if patient is None:
        raise audit.denied(ctx, action, NotFound("no patient record is linked to this account"))
    return patient


def symptom_report_create(
    *,
    ctx: Ctx,
    organization_id: uuid.UUID,
    severity: Any,
    symptom_code: str = "",
    symptom_text: str = "",
    onset_at: dt.datetime | None = None,
    onset_days_ago: int | None = None,
    body_location: str = "",
    body_location_detail: str = "",
    triggers: Sequence[str] = (),
    relief_factors: Sequence[str] = (),
    associated_symptoms: Sequence[str] = (),
    photo: bytes | None = None,
) -> SymptomReport:
    """The signed-in patient reports a symptom to `organization_id`, a hospital where they are
    registered; its care team will see it. Everything is checked before anything is written."""
    action = "clinical.symptom_report.create"
    patient = _own_patient(ctx, action)
    at = ctx.as_patient_at(organization_id)
    if not _registered_at(at, patient.id):
        raise ValidationFailed.field(
            "organization_id", "choose a hospital where you are registered", code="not_registered"
        )
    now = timezone.now()
    cleaned = clean_symptom_report(
        now=now,
        birth_date=patient.birth_date,
        symptom_code=symptom_code,
        symptom_text=symptom_text,
        severity=severity,
        onset_at=onset_at,
        onset_days_ago=onset_days_ago,
        body_location=body_location,
        body_location_detail=body_location_detail,
        triggers=triggers,
        relief_factors=relief_factors,
        associated_symptoms=associated_symptoms,
    )
    kept = photo_keep(photo) if photo is not None else None
    with audit.atomic():
        report = SymptomReport.objects.create(
            organization_id=organization_id,
            patient_id=patient.id,
            reported_by_id=ctx.actor_id,
            reported_at=now,
            photo=kept,
            **cleaned,
        )
        audit.record(
            at,
            action,
            target=report,
            patient_id=patient.id,
            by_patient=True,
            code=report.symptom_code,
            photo=kept is not None,
        )
        events.publish(at, SymptomReported(report_id=report.id, organization_id=organization_id, patient_id=patient.id))
    return report


def symptom_report_photo_attach(*, ctx: Ctx, report_id: uuid.UUID, data: bytes) -> SymptomReport:
    """Add a photo to one's own report without one, within a day of reporting it (an API client sends
    the report, then its photo)."""
    action = "clinical.symptom_report.photo_attach"
    patient = _own_patient(ctx, action)
    found = _own_report_row(patient.id, report_id)
    if found is None:
        raise audit.denied(ctx, action, NotFound("no such symptom report"), resource_id=str(report_id))
    at = ctx.as_patient_at(found)
    kept = photo_keep(data)
    with audit.atomic():
        report = SymptomReport.objects.for_tenant(at).select_for_update().get(id=report_id)
        if report.photo is not None:
            raise Conflict("this report already has a photo: report the symptom again", code="PHOTO_PRESENT")
        if timezone.now() - report.reported_at > PHOTO_ATTACH_WINDOW:
            raise Conflict("a photo is added on the day of the report: report the symptom again", code="REPORT_CLOSED")
        report.photo = kept
        report.save(update_fields=["photo", "updated_at"])
        audit.record(at, action, target=report, patient_id=patient.id, by_patient=True)
    return report


# --------------------------------------------------------------------------------------------------
# Trends (plain data)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    at: dt.datetime
    severity: int
    report_id: uuid.UUID


@dataclass(frozen=True)
class Chart:
    """A small server-side line chart of one series: SVG coordinates, nothing to run in the browser."""

    width: int
    height: int
    polyline: str  # "x,y x,y ..." (empty for a single point)
    dots: tuple[tuple[float, float, int, dt.datetime], ...]  # (x, y, severity, at)
    gridlines: tuple[tuple[float, int], ...]  # (y, severity)
    first_at: dt.datetime
    last_at: dt.datetime


@dataclass(frozen=True)
class SymptomSeries:
    """One symptom's reports over time, oldest first."""

    key: str  # the code, or "text:" and the patient's words, folded
    label: str
    code: str
    points: tuple[TrendPoint, ...]
    chart: Chart

    @property
    def latest(self) -> TrendPoint:
        return self.points[-1]

    @property
    def change(self) -> int | None:
        """Latest severity minus the one before (None for a single report)."""
        return self.points[-1].severity - self.points[-2].severity if len(self.points) > 1 else None

    @property
    def direction(self) -> str:
        change = self.change
        return "" if change is None else "worse" if change > 0 else "better" if change < 0 else "same"


CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 320, 120, 14


def chart_of(points: Sequence[TrendPoint], *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> Chart:
    """Severity (0 at the bottom, 10 at the top) against time (first report left, last right)."""
    first, last = points[0].at, points[-1].at
    span = (last - first).total_seconds()
    inner_w, inner_h = width - 2 * CHART_PAD, height - 2 * CHART_PAD

    def x(at: dt.datetime) -> float:
        return round(CHART_PAD + (inner_w * (at - first).total_seconds() / span if span else inner_w / 2), 1)

    def y(severity: int) -> float:
        return round(CHART_PAD + inner_h * (10 - severity) / 10, 1)

    dots = tuple((x(p.at), y(p.severity), p.severity, p.at) for p in points)
    return Chart(
        width=width,
        height=height,
        polyline=" ".join(f"{d[0]},{d[1]}" for d in dots) if len(dots) > 1 else "",
        dots=dots,
        gridlines=tuple((y(level), level) for level in (0, 5, 10)),
        first_at=first,
        last_at=last,
    )


def _key_and_label(code: str, text: str) -> tuple[str, str]:
    if code:
        return code, symptom_name(code)
    words = " ".join(text.split())
    return "text:" + words.casefold(), words[:60] + ("…" if len(words) > 60 else "")


def series_of(reports: Iterable[SymptomReport]) -> list[SymptomSeries]:
    """Reports grouped by symptom (its code, else the patient's words), each oldest first; the
    symptoms most recently reported first."""
    grouped: dict[str, tuple[str, str, list[TrendPoint]]] = {}
    for report in sorted(reports, key=lambda r: (r.reported_at, r.id)):
        key, label = _key_and_label(report.symptom_code, report.symptom_text)
        grouped.setdefault(key, (label, report.symptom_code, []))[2].append(
            TrendPoint(at=report.reported_at, severity=report.severity, report_id=report.id)
        )
    series = [
        SymptomSeries(key=key, label=label, code=code, points=tuple(points), chart=chart_of(points))
        for key, (label, code, points) in grouped.items()
    ]
    return sorted(series, key=lambda s: s.latest.at, reverse=True)


# --------------------------------------------------------------------------------------------------
# Reads: the patient's own
# --------------------------------------------------------------------------------------------------

_LIST_FIELDS_DEFERRED = ("photo",)


def _with_photo_flag(reports: QuerySet[SymptomReport]) -> QuerySet[SymptomReport]:
    return reports.defer(*_LIST_FIELDS_DEFERRED).annotate(
        has_photo=ExpressionWrapper(Q(photo__isnull=False), output_field=BooleanField())
    )


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.field("limit", f"between 1 and {MAX_LIMIT}", code="out_of_range")
    return limit


def _mine(patient_id: uuid.UUID) -> QuerySet[SymptomReport]:
    # SECURITY: a patient's own reports at every hospital; the filter on their own record is the scope.
    system = Ctx.system(reason="a patient reads their own symptom reports")
    return SymptomReport.objects.for_system(system).filter(patient_id=patient_id)


def _own_report_row(patient_id: uuid.UUID, report_id: uuid.UUID) -> uuid.UUID | None:
    """The organization of one of the patient's own reports, or None."""
    return _mine(patient_id).filter(id=report_id).values_list("organization_id", flat=True).first()


@audit.reads_health_data
def my_symptom_reports(*, ctx: Ctx, limit: int = 100) -> list[SymptomReport]:
    """The signed-in patient's reports at every hospital, latest first (without the photos)."""
    action = "clinical.symptom_report.list"
    patient = _own_patient(ctx, action)
    limit = _limit(limit)
    found = list(_with_photo_flag(_mine(patient.id)).order_by("-reported_at", "-id")[:limit])
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, results=len(found))
    return found


@audit.reads_health_data
def my_symptom_report_get(*, ctx: Ctx, report_id: uuid.UUID) -> SymptomReport:
    """One of the signed-in patient's reports; anyone else's is not found."""
    action = "clinical.symptom_report.read"
    patient = _own_patient(ctx, action)
    report = _with_photo_flag(_mine(patient.id)).filter(id=report_id).first()
    if report is None:
        raise audit.denied(ctx, action, NotFound("no such symptom report"), resource_id=str(report_id))
    audit.record(ctx, action, target=report, patient_id=patient.id, read=True, by_patient=True)
    return report


@audit.reads_health_data
def my_symptom_photo(*, ctx: Ctx, report_id: uuid.UUID) -> bytes | None:
    """The photo of one of the signed-in patient's reports (None when it has none)."""
    action = "clinical.symptom_report.photo_read"
    patient = _own_patient(ctx, action)
    found = list(_mine(patient.id).filter(id=report_id).values_list("photo", flat=True)[:1])
    if not found:
        raise audit.denied(ctx, action, NotFound("no such symptom report"), resource_id=str(report_id))
    audit.record(
        ctx,
        action,
        resource_type="clinical.SymptomReport",
        resource_id=report_id,
        patient_id=patient.id,
        read=True,
        by_patient=True,
    )
    return photo_open(found[0])


def _trend_rows(reports: QuerySet[SymptomReport], *, days: int) -> list[SymptomReport]:
    since = timezone.now() - dt.timedelta(days=days)
    return list(
        reports.filter(reported_at__gte=since)
        .only("id", "organization_id", "patient_id", "reported_at", "symptom_code", "symptom_text", "severity")
        .order_by("-reported_at", "-id")[:TREND_MAX_REPORTS]
    )


def _days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise ValidationFailed.field("days", "between 1 and 3660", code="out_of_range")
    return days


@audit.reads_health_data
def my_symptom_trends(*, ctx: Ctx, days: int = TREND_DAYS) -> list[SymptomSeries]:
    """The signed-in patient's symptoms over the last `days`, one series per symptom."""
    action = "clinical.symptom_report.trends"
    patient = _own_patient(ctx, action)
    days = _days(days)
    series = series_of(_trend_rows(_mine(patient.id), days=days))
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, series=len(series))
    return series


# --------------------------------------------------------------------------------------------------
# Reads: the care team's
# --------------------------------------------------------------------------------------------------


def _basis(access: policies.Access) -> dict[str, bool]:
    return {"break_glass": True} if access.break_glass else {}


@audit.reads_health_data
def symptom_report_list(*, ctx: Ctx, patient_id: uuid.UUID, limit: int = 50) -> list[SymptomReport]:
    """The symptoms a patient reported to this organization, latest first (without the photos)."""
    action = "clinical.symptom_report.list"
    access = require_access(ctx, action, patient_id)
    limit = _limit(limit)
    found = list(
        _with_photo_flag(SymptomReport.objects.for_tenant(ctx).filter(patient_id=patient_id)).order_by(
            "-reported_at", "-id"
        )[:limit]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


def _report_here(ctx: Ctx, action: str, report_id: uuid.UUID) -> SymptomReport:
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    report = _with_photo_flag(SymptomReport.objects.for_tenant(ctx)).filter(id=report_id).first()
    if report is None:
        raise audit.denied(ctx, action, NotFound("no such symptom report"), resource_id=str(report_id))
    return report


@audit.reads_health_data
def symptom_report_get(*, ctx: Ctx, report_id: uuid.UUID) -> SymptomReport:
    """One report of a patient one may read here."""
    action = "clinical.symptom_report.read"
    report = _report_here(ctx, action, report_id)
    access = require_access(ctx, action, report.patient_id)
    audit.record(ctx, action, target=report, patient_id=report.patient_id, read=True, **_basis(access))
    return report


@audit.reads_health_data
def symptom_report_photo(*, ctx: Ctx, report_id: uuid.UUID) -> bytes | None:
    """The photo of a report of a patient one may read here (None when it has none)."""
    action = "clinical.symptom_report.photo_read"
    report = _report_here(ctx, action, report_id)
    access = require_access(ctx, action, report.patient_id)
    photo = SymptomReport.objects.for_tenant(ctx).filter(id=report_id).values_list("photo", flat=True).first()
    audit.record(ctx, action, target=report, patient_id=report.patient_id, read=True, **_basis(access))
    return photo_open(photo)


@audit.reads_health_data
def symptom_trends(*, ctx: Ctx, patient_id: uuid.UUID, days: int = TREND_DAYS) -> list[SymptomSeries]:
    """A patient's symptoms reported here over the last `days`, one series per symptom."""
    action = "clinical.symptom_report.trends"
    access = require_access(ctx, action, patient_id)
    days = _days(days)
    series = series_of(_trend_rows(SymptomReport.objects.for_tenant(ctx).filter(patient_id=patient_id), days=days))
    audit.record(ctx, action, patient_id=patient_id, read=True, series=len(series), **_basis(access))
    return series


@dataclass(frozen=True)
class SymptomSummary:
    """For the chart: what the patient reported here over the last year, in one query."""

    patient_id: uuid.UUID
    reports: int  # in the window (at most TREND_MAX_REPORTS counted)
    latest_at: dt.datetime | None
    worst_last_week: int | None  # the highest severity reported in the last 7 days
    series: tuple[SymptomSeries, ...]  # the most recently reported symptoms first, at most SUMMARY_SYMPTOMS
    more: int  # symptoms not shown


@audit.reads_health_data
def symptom_summary(*, ctx: Ctx, patient_id: uuid.UUID) -> SymptomSummary:
    """The chart's summary of a patient's reported symptoms here (one query after the access check)."""
    action = "clinical.symptom_report.summary"
    access = require_access(ctx, action, patient_id)
    rows = _trend_rows(SymptomReport.objects.for_tenant(ctx).filter(patient_id=patient_id), days=TREND_DAYS)
    series = series_of(rows)
    week_ago = timezone.now() - dt.timedelta(days=7)
    recent = [r.severity for r in rows if r.reported_at >= week_ago]
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(rows), **_basis(access))
    return SymptomSummary(
        patient_id=patient_id,
        reports=len(rows),
        latest_at=rows[0].reported_at if rows else None,
        worst_last_week=max(recent) if recent else None,
        series=tuple(series[:SUMMARY_SYMPTOMS]),
        more=max(0, len(series) - SUMMARY_SYMPTOMS),
    )
