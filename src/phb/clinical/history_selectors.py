"""Reads of a patient's allergies and intolerances, "no known allergies", history, social history and
immunizations, and the compact summaries a chart shows of them. Every read is audited, a refused one
too.

As for the rest of the record, a patient is readable by a clinician with a care relationship here (or
break-the-glass access); anyone else is answered "not found". Rows entered in error are left out,
unless asked for. Each summary reads its rows in one or two queries after the access check, however
long the record."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When

from phb.clinical import policies
from phb.clinical.history_services import WARNING_VERIFICATION
from phb.clinical.models import (
    AllergyClinicalStatus,
    AllergyIntolerance,
    HistoryEntry,
    HistoryKind,
    Immunization,
    NoKnownAllergies,
    SocialHistory,
)
from phb.clinical.services import require_access
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed

MAX_ROWS = 500
SUMMARY_IMMUNIZATIONS = 50
_SEVERITY_RANK = {"mild": 1, "moderate": 2, "severe": 3}


def _basis(access: policies.Access) -> dict[str, bool]:
    return {"break_glass": True} if access.break_glass else {}


def _one(ctx: Ctx, action: str, model: Any, entry_id: uuid.UUID, what: str) -> Any:
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    entry = model.objects.for_tenant(ctx).filter(id=entry_id).first()
    if entry is None:
        raise audit.denied(ctx, action, NotFound(f"no such {what}"), resource_id=str(entry_id))
    access = require_access(ctx, action, entry.patient_id)
    audit.record(ctx, action, target=entry, patient_id=entry.patient_id, read=True, **_basis(access))
    return entry


def _active_first() -> Case:
    return Case(
        When(clinical_status=AllergyClinicalStatus.ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
    )


# --- allergies ----------------------------------------------------------------------------------------


@audit.reads_health_data
def allergy_list(
    *, ctx: Ctx, patient_id: uuid.UUID, include_entered_in_error: bool = False
) -> list[AllergyIntolerance]:
    """A patient's allergies and intolerances here: active ones first, then by substance."""
    action = "clinical.allergy.list"
    access = require_access(ctx, action, patient_id)
    allergies = AllergyIntolerance.objects.for_tenant(ctx).filter(patient_id=patient_id)
    if not include_entered_in_error:
        allergies = allergies.filter(entered_in_error_at__isnull=True)
    found = list(allergies.order_by(_active_first(), "substance_display", "-asserted_on", "id")[:MAX_ROWS])
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


@audit.reads_health_data
def allergy_get(*, ctx: Ctx, allergy_id: uuid.UUID) -> AllergyIntolerance:
    """One allergy of a patient one may read (one entered in error too: it says so)."""
    return _one(ctx, "clinical.allergy.read", AllergyIntolerance, allergy_id, "allergy")  # type: ignore[no-any-return]


@audit.reads_health_data
def no_known_allergies_list(*, ctx: Ctx, patient_id: uuid.UUID) -> list[NoKnownAllergies]:
    """The patient's "no known allergies" statements, newest first: at most the first is current."""
    action = "clinical.no_known_allergies.list"
    access = require_access(ctx, action, patient_id)
    found = list(
        NoKnownAllergies.objects.for_tenant(ctx)
        .filter(patient_id=patient_id)
        .order_by("-asserted_at", "-id")[:MAX_ROWS]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


@audit.reads_health_data
def active_allergies(*, ctx: Ctx, patient_id: uuid.UUID) -> list[AllergyIntolerance]:
    """The allergies that should stop a prescriber: active, not refuted, not entered in error; high
    criticality first. For `clinical.public.active_allergies`."""
    action = "clinical.allergy.active"
    access = require_access(ctx, action, patient_id)
    found = list(
        AllergyIntolerance.objects.for_tenant(ctx)
        .filter(
            patient_id=patient_id,
            clinical_status=AllergyClinicalStatus.ACTIVE,
            verification_status__in=WARNING_VERIFICATION,
            entered_in_error_at__isnull=True,
        )
        .annotate(high=Case(When(criticality="high", then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("high", "substance_display", "id")
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


def _coded(system: str, code: str, display: str, text: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display, "text": text}


def _label(system: str, code: str, display: str, text: str) -> str:
    return text or display or code


@audit.reads_health_data
def allergy_summary(*, ctx: Ctx, patient_id: uuid.UUID) -> dict[str, Any]:
    """The chart's allergy section as plain data, from two queries: `status` ("allergies",
    "no_known_allergies" or "not_recorded": nobody asked), the current "no known allergies" (who,
    when), and the active allergies (substance, criticality, statuses, the worst reaction severity and
    the manifestations), high criticality first."""
    action = "clinical.allergy.summary"
    access = require_access(ctx, action, patient_id)
    summary = _allergy_summary_data(ctx=ctx, patient_id=patient_id)
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(summary["allergies"]), **_basis(access))
    return summary


def _allergy_summary_data(*, ctx: Ctx, patient_id: uuid.UUID) -> dict[str, Any]:
    """`allergy_summary` for a caller that has checked the care relationship and audits the read itself
    (the chart: one audit event for the whole summary)."""
    rows = list(
        AllergyIntolerance.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, clinical_status=AllergyClinicalStatus.ACTIVE, entered_in_error_at__isnull=True)
        .exclude(verification_status__in=["refuted", "entered-in-error"])
        .order_by("substance_display", "id")
    )
    statement = (
        NoKnownAllergies.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, retired_at__isnull=True)
        .values("id", "asserted_at", "asserted_by_id")
        .first()
    )
    allergies = []
    for a in rows:
        severities = [r.get("severity") for r in a.reactions if r.get("severity")]
        allergies.append(
            {
                "id": str(a.id),
                "substance": _coded(a.substance_system, a.substance_code, a.substance_display, a.substance_text),
                "label": _label(a.substance_system, a.substance_code, a.substance_display, a.substance_text),
                "type": a.type,
                "category": a.category,
                "criticality": a.criticality,
                "verification_status": a.verification_status,
                "highest_severity": max(severities, key=_SEVERITY_RANK.__getitem__) if severities else "",
                "manifestations": [_label(**r["manifestation"]) for r in a.reactions],
            }
        )
    allergies.sort(key=lambda a: a["criticality"] != "high")
    status = "allergies" if allergies else "no_known_allergies" if statement else "not_recorded"
    return {
        "status": status,
        "no_known_allergies": (
            {
                "id": str(statement["id"]),
                "asserted_at": statement["asserted_at"].isoformat(),
                "asserted_by_id": str(statement["asserted_by_id"]),
            }
            if statement
            else None
        ),
        "allergies": allergies,
    }


# --- history --------------------------------------------------------------------------------------------


@audit.reads_health_data
def history_list(*, ctx: Ctx, patient_id: uuid.UUID, kind: str = "") -> QuerySet[HistoryEntry]:
    """A patient's medical, surgical and family history here (or one `kind` of it)."""
    action = "clinical.history.list"
    if kind and kind not in HistoryKind.values:
        raise ValidationFailed.field("kind", "medical, surgical or family", code="invalid_choice")
    access = require_access(ctx, action, patient_id)
    entries = HistoryEntry.objects.for_tenant(ctx).filter(patient_id=patient_id, entered_in_error_at__isnull=True)
    if kind:
        entries = entries.filter(kind=kind)
    audit.record(ctx, action, patient_id=patient_id, read=True, kind=kind, **_basis(access))
    return entries.order_by("kind", "-created_at", "-id")


@audit.reads_health_data
def history_entry_get(*, ctx: Ctx, entry_id: uuid.UUID) -> HistoryEntry:
    """One line of a patient's history."""
    return _one(ctx, "clinical.history.read", HistoryEntry, entry_id, "history entry")  # type: ignore[no-any-return]


@audit.reads_health_data
def social_history_list(*, ctx: Ctx, patient_id: uuid.UUID) -> list[SocialHistory]:
    """The versions of a patient's social history, the current (latest) first."""
    action = "clinical.social_history.list"
    access = require_access(ctx, action, patient_id)
    found = list(
        SocialHistory.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, entered_in_error_at__isnull=True)
        .order_by("-recorded_on", "-created_at", "-id")[:MAX_ROWS]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


def _history_line(e: HistoryEntry) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": str(e.id),
        "concept": _coded(e.code_system, e.code, e.code_display, e.text),
        "label": _label(e.code_system, e.code, e.code_display, e.text),
    }
    if e.kind == HistoryKind.MEDICAL:
        line.update(onset_on=e.onset_on, resolved_on=e.resolved_on)
    elif e.kind == HistoryKind.SURGICAL:
        line.update(performed_on=e.performed_on)
    else:
        line.update(relationship=e.relationship, onset_age=e.onset_age, relative_deceased=e.relative_deceased)
    return line


@audit.reads_health_data
def history_summary(*, ctx: Ctx, patient_id: uuid.UUID) -> dict[str, Any]:
    """The chart's history section as plain data, from two queries: medical (ongoing first), surgical
    (latest first), family history, and the current social history (or None)."""
    action = "clinical.history.summary"
    access = require_access(ctx, action, patient_id)
    entries = list(
        HistoryEntry.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, entered_in_error_at__isnull=True)
        .order_by("-created_at", "-id")[:MAX_ROWS]
    )
    social = (
        SocialHistory.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, entered_in_error_at__isnull=True)
        .order_by("-recorded_on", "-created_at", "-id")
        .first()
    )
    by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in HistoryKind.values}
    for entry in entries:
        by_kind[entry.kind].append(_history_line(entry))
    by_kind[HistoryKind.MEDICAL].sort(key=lambda line: line["resolved_on"] is not None)
    by_kind[HistoryKind.SURGICAL].sort(
        key=lambda line: (line["performed_on"] is not None, line["performed_on"] or dt.date.min), reverse=True
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(entries), **_basis(access))
    return {
        **by_kind,
        "social": None
        if social is None
        else {
            "id": str(social.id),
            "recorded_on": social.recorded_on,
            "tobacco": social.tobacco,
            "tobacco_pack_years": social.tobacco_pack_years,
            "alcohol": social.alcohol,
            "alcohol_units_per_week": social.alcohol_units_per_week,
            "other_substances": social.other_substances,
            "occupation": social.occupation,
            "living_situation": social.living_situation,
        },
    }


# --- immunizations --------------------------------------------------------------------------------------


@audit.reads_health_data
def immunization_list(*, ctx: Ctx, patient_id: uuid.UUID) -> list[Immunization]:
    """A patient's vaccinations here, latest first."""
    action = "clinical.immunization.list"
    access = require_access(ctx, action, patient_id)
    found = list(
        Immunization.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, entered_in_error_at__isnull=True)
        .order_by("-occurred_on", "-created_at", "-id")[:MAX_ROWS]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


@audit.reads_health_data
def immunization_get(*, ctx: Ctx, immunization_id: uuid.UUID) -> Immunization:
    """One vaccination record."""
    return _one(ctx, "clinical.immunization.read", Immunization, immunization_id, "immunization")  # type: ignore[no-any-return]


@audit.reads_health_data
def immunization_summary(*, ctx: Ctx, patient_id: uuid.UUID) -> dict[str, Any]:
    """The chart's immunization section as plain data, from one query: the latest vaccinations (at most
    50; `more` says whether there are older ones), given and not given."""
    action = "clinical.immunization.summary"
    access = require_access(ctx, action, patient_id)
    rows = list(
        Immunization.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, entered_in_error_at__isnull=True)
        .order_by("-occurred_on", "-created_at", "-id")[: SUMMARY_IMMUNIZATIONS + 1]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(rows), **_basis(access))
    return {
        "immunizations": [
            {
                "id": str(i.id),
                "vaccine": _coded(i.vaccine_system, i.vaccine_code, i.vaccine_display, i.vaccine_text),
                "label": _label(i.vaccine_system, i.vaccine_code, i.vaccine_display, i.vaccine_text),
                "status": i.status,
                "not_done_reason": i.not_done_reason,
                "occurred_on": i.occurred_on,
                "dose_number": i.dose_number,
                "reported": i.reported,
            }
            for i in rows[:SUMMARY_IMMUNIZATIONS]
        ],
        "more": len(rows) > SUMMARY_IMMUNIZATIONS,
    }
