"""Staff pages of the clinical record: a patient's chart (summary sections, a vitals trend drawn on the
server, timelines a page at a time), break-the-glass to open a chart outside one's care relationships,
and the encounter workspace (vital signs, diagnoses with an ICD-10-CM type-ahead, the SOAP note from the
department's template, signing, finishing). Patients: their own medical record (`portal`).

Pages that open a record need the step-up window, like the API. URLs carry only opaque ids (and the
name of a vital or a period); everything else travels in POST bodies. Views parse, call one selector or
service, and render."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from phb.accounts.public import break_glass_start
from phb.accounts.step_up import check_session, med_access_required
from phb.clinical import chart, diagnoses, policies, portal, services, vitals
from phb.clinical.models import DiagnosisCategory, DiagnosisSeverity, NoteStatus
from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound, ProblemError, ValidationFailed
from phb.patients.public import staff_page

VIEW = policies.VIEW
FORM_VITALS = (
    "systolic_bp",
    "diastolic_bp",
    "heart_rate",
    "respiratory_rate",
    "temperature",
    "spo2",
    "consciousness",
    "weight",
    "height",
    "blood_glucose",
    "pain_score",
)
SOAP = ("subjective", "objective", "assessment", "plan")


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _field_errors(exc: ProblemError) -> dict[str, str]:
    errors = exc.extra.get("errors") or []
    out: dict[str, str] = {}
    for e in errors:
        out.setdefault(str(e.get("field", "")), str(e.get("message", "")))
    return out or {"": exc.detail}


def _step_up_for(request: HttpRequest, back: str) -> HttpResponse | None:
    """A POST whose step-up window closed goes to the step-up page, then back to `back` (a page)."""
    try:
        check_session(request)
    except ProblemError as exc:
        return redirect(f"/accounts/step-up/?{urlencode({'next': back, 'reason': exc.code})}")
    return None


# --- the chart ----------------------------------------------------------------------------------------


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return -1  # refused by the selector with a clear error


@staff_page(VIEW)
@med_access_required
def chart_page(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The chart: summary sections first, then the vitals trend and the timelines."""
    vital = request.GET.get("vital", "heart_rate")
    days = _int(request.GET.get("period"), 365)
    try:
        data = chart.chart_open(ctx=_ctx(request), patient_id=patient_id, vital=vital, days=days)
    except NotFound:
        # SECURITY: no care relationship and no such patient look the same; a clinician may declare
        # an emergency (break the glass), which is time-limited, audited and reviewed.
        return render(request, "clinical/chart_not_found.html", {"patient_id": patient_id}, status=404)
    return render(
        request,
        "clinical/chart.html",
        {
            "chart": data,
            "patient": data.patient,
            "trend": data.trend,
            "trend_vitals": [(v, chart.TREND_LABELS[v]) for v in chart.TREND_VITALS],
            "periods": [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("1825", "5 years")],
            "timelines": [(kind, *data.timelines[kind], 1) for kind in chart.TIMELINES],
        },
    )


@staff_page(VIEW)
@med_access_required
def chart_trend(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The trend chart alone (the chart page's selector swaps it in)."""
    trend = chart.vitals_trend(
        ctx=_ctx(request),
        patient_id=patient_id,
        vital=request.GET.get("vital", "heart_rate"),
        days=_int(request.GET.get("period"), 365),
    )
    return render(request, "clinical/chart/_trend.html", {"trend": trend, "patient": {"id": patient_id}})


@staff_page(VIEW)
@med_access_required
def chart_timeline(request: HttpRequest, patient_id: uuid.UUID, kind: str) -> HttpResponse:
    """A page of a timeline."""
    if kind not in chart.TIMELINES:
        raise Http404
    page = _int(request.GET.get("page"), 1)
    rows, more = chart.chart_timeline(ctx=_ctx(request), patient_id=patient_id, kind=kind, page=page)
    return render(
        request,
        "clinical/chart/_timeline.html",
        {"kind": kind, "rows": rows, "more": more, "page": page, "patient": {"id": patient_id}},
    )


@staff_page(VIEW)
def chart_break_glass(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Declare an emergency to open a chart outside one's care relationships: a reason, then the chart."""
    error = ""
    if request.method == "POST":
        try:
            break_glass_start(ctx=_ctx(request), patient_id=patient_id, reason=request.POST.get("reason", ""))
        except ProblemError as exc:
            if exc.status != 400:
                raise
            error = _field_errors(exc).get("reason") or exc.detail
        else:
            messages.warning(request, "Emergency access is open, recorded and will be reviewed.")
            return redirect("clinical_staff:chart", patient_id)
    return render(
        request,
        "clinical/chart_not_found.html",
        {"patient_id": patient_id, "error": error, "asked": True},
        status=400 if error else 200,
    )


# --- the encounter workspace --------------------------------------------------------------------------


@staff_page(VIEW)
def appointment_encounter(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """From the day's list: the encounter an in-progress appointment started. The start's event makes
    it within seconds; a click faster than that makes it here (the same idempotent service)."""
    ctx = _ctx(request)
    try:
        encounter_id = chart.encounter_for_appointment(ctx=ctx, appointment_id=appointment_id)
    except NotFound:
        if not services.encounter_for_started_appointment_ensure(ctx=ctx, appointment_id=appointment_id):
            raise
        encounter_id = chart.encounter_for_appointment(ctx=ctx, appointment_id=appointment_id)
    return redirect("clinical_staff:encounter", encounter_id)


def _workspace(request: HttpRequest, encounter_id: uuid.UUID, *, status: int = 200, **extra: Any) -> HttpResponse:
    ctx = _ctx(request)
    space = chart.encounter_workspace(ctx=ctx, encounter_id=encounter_id)
    note = space.draft
    sections = [
        (
            name,
            name.capitalize(),
            getattr(note, name) if note else extra.get("note_values", {}).get(name, ""),
            (space.template.sections.get(name, "") if space.template else ""),
        )
        for name in SOAP
    ]
    context = {
        "space": space,
        "encounter": space.encounter,
        "patient": space.patient,
        "open": space.encounter.status in ("planned", "in_progress"),
        "can_write": policies.can_update(ctx),
        "vital_fields": [
            (name, vitals.BY_NAME[name].display, vitals.BY_NAME[name].unit, vitals.BY_NAME[name].coded)
            for name in FORM_VITALS
        ],
        "categories": DiagnosisCategory.choices,
        "severities": DiagnosisSeverity.choices,
        "sections": sections,
        "vital_errors": {},
        "vital_values": {},
        "diagnosis_errors": {},
        "note_errors": {},
        # Panels of apps above clinical (prescriptions, ...), registered with chart.register_encounter_panel.
        "panels": [(p, p.fn(ctx=ctx, encounter=space.encounter)) for p in chart.encounter_panels()],
        **extra,
    }
    return render(request, "clinical/encounter.html", context, status=status)


@staff_page(VIEW)
@med_access_required
def encounter_page(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    return _workspace(request, encounter_id)


def _back(encounter_id: uuid.UUID) -> str:
    return reverse("clinical_staff:encounter", args=[encounter_id])


@require_POST
@staff_page(VIEW)
def encounter_vitals(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    """Record a set of vital signs for the encounter's patient; a critical value raises the alert."""
    if (step_up := _step_up_for(request, _back(encounter_id))) is not None:
        return step_up
    ctx = _ctx(request)
    space = chart.encounter_workspace(ctx=ctx, encounter_id=encounter_id)
    values = {name: request.POST.get(name, "").strip() for name in FORM_VITALS}
    oxygen = request.POST.get("oxygen", "air")
    try:
        vital_set = services.vital_signs_record(
            ctx=ctx,
            patient_id=space.encounter.patient_id,
            encounter_id=encounter_id,
            values=values,
            on_supplemental_oxygen=oxygen == "oxygen",
            hypercapnic_respiratory_failure=request.POST.get("scale2") == "1",
        )
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        return _workspace(request, encounter_id, status=400, vital_errors=_field_errors(exc), vital_values=values)
    critical = [o for o in vital_set.prefetched if o.interpretation in vitals.CRITICAL]  # type: ignore[attr-defined]
    if critical or vital_set.news2_response == "high":
        messages.error(request, "Critical values: a critical alert was raised to the responsible clinician.")
    else:
        messages.success(request, "Vital signs recorded.")
    return redirect(_back(encounter_id))


@require_POST
@staff_page(VIEW)
def encounter_diagnosis(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    """Add a diagnosis chosen with the ICD-10-CM type-ahead."""
    if (step_up := _step_up_for(request, _back(encounter_id))) is not None:
        return step_up
    ctx = _ctx(request)
    space = chart.encounter_workspace(ctx=ctx, encounter_id=encounter_id)
    try:
        code = request.POST.get("diagnosis_code", "").strip()
        if not code:
            raise ValidationFailed.field("code", "search for a diagnosis and choose one", code="required")
        diagnoses.diagnosis_add(
            ctx=ctx,
            patient_id=space.encounter.patient_id,
            encounter_id=encounter_id,
            system="icd10-cm",
            code=code,
            category=request.POST.get("category", DiagnosisCategory.ENCOUNTER_DIAGNOSIS),
            severity=request.POST.get("severity", ""),
            onset_date=request.POST.get("onset_date", ""),
            note=request.POST.get("note", ""),
        )
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        return _workspace(request, encounter_id, status=400, diagnosis_errors=_field_errors(exc))
    messages.success(request, "Diagnosis added.")
    return redirect(_back(encounter_id))


@require_POST
@staff_page(VIEW)
def encounter_note(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    """Save the SOAP note as a draft, or save and sign it."""
    if (step_up := _step_up_for(request, _back(encounter_id))) is not None:
        return step_up
    ctx = _ctx(request)
    space = chart.encounter_workspace(ctx=ctx, encounter_id=encounter_id)
    content = {name: request.POST.get(name, "") for name in SOAP}
    try:
        if space.draft is not None:
            note = services.note_update(ctx=ctx, note_id=space.draft.id, **content)
        else:
            note = services.note_create(
                ctx=ctx,
                patient_id=space.encounter.patient_id,
                encounter_id=encounter_id,
                template_id=space.template.id if space.template else None,
                **content,
            )
        if request.POST.get("action") == "sign":
            note = services.note_sign(ctx=ctx, note_id=note.id)
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        return _workspace(request, encounter_id, status=400, note_errors=_field_errors(exc), note_values=content)
    messages.success(request, "Note signed." if note.status == NoteStatus.SIGNED else "Draft saved.")
    return redirect(_back(encounter_id))


@require_POST
@staff_page(VIEW)
def encounter_finish(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    if (step_up := _step_up_for(request, _back(encounter_id))) is not None:
        return step_up
    try:
        services.encounter_finish(ctx=_ctx(request), encounter_id=encounter_id)
    except ProblemError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, "The encounter is finished.")
    return redirect(_back(encounter_id))


# --- the patient's medical record (portal) ----------------------------------------------------------


@login_required
@med_access_required
def my_record(request: HttpRequest) -> HttpResponse:
    """The signed-in patient's medical record at every hospital: encounters, vital signs, diagnoses and
    signed notes."""
    try:
        record = portal.my_medical_record(ctx=_ctx(request))
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "clinical/portal/record.html", {"record": record})
