"""Staff pages of prescribing: the "Prescriptions" panel of the encounter workspace (search a drug, the
structured dose, add it to the draft, check, override with reasons, sign), a prescription's page
(items, status, history, checks and overrides; replace, cancel), prescribers' repeat requests, and the
override report (with CSV). The patient's "My medications" is in `portal_views`.

Pages that open a record need the step-up window, like the API. URLs carry only opaque ids; what the
prescriber types travels in POST bodies (the drug search's words are a catalogue query, not about a
patient). Views parse, call one selector or service, and render or redirect."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from phb.accounts.step_up import check_session, med_access_required
from phb.clinical.public import encounter_for_prescribing
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError, ValidationFailed
from phb.medications import api, dosing, policies, repeats, selectors, services
from phb.medications.models import Frequency, PrescriptionStatus
from phb.patients.public import staff_page
from phb.terminology import public as terminology

VIEW = policies.VIEW
PRESCRIBE = policies.PRESCRIBE
ITEM_FORM_FIELDS = (
    "drug_code",
    "form",
    "strength",
    "dose_quantity",
    "dose_unit",
    "route",
    "frequency",
    "interval_hours",
    "duration_days",
    "quantity",
    "refills",
    "indication_code",
    "instructions",
)


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _step_up_for(request: HttpRequest, back: str) -> HttpResponse | None:
    """A POST whose step-up window closed goes to the step-up page, then back to `back`."""
    try:
        check_session(request)
    except ProblemError as exc:
        return redirect(f"/accounts/step-up/?{urlencode({'next': back, 'reason': exc.code})}")
    return None


def _errors(exc: ProblemError) -> list[str]:
    found = exc.extra.get("errors") or []
    return [f"{e.get('field', '')}: {e.get('message', '')}".lstrip(": ") for e in found] or [exc.detail]


def _item_from_post(request: HttpRequest) -> dict[str, Any] | None:
    """The item the form describes, or None when no drug was chosen (nothing to add)."""
    values = {name: request.POST.get(name, "").strip() for name in ITEM_FORM_FIELDS}
    if not values["drug_code"]:
        return None
    return {k: v for k, v in values.items() if v != ""}


# --- the drug search and the dose fields (HTMX pieces of the panel) -----------------------------------


@require_GET
@staff_page(VIEW)
def drug_search(request: HttpRequest) -> HttpResponse:
    """Drugs matching `?rx_q=` (the search box) as radio buttons named `drug_code`; choosing one loads
    its forms and strengths. Always 200: htmx swaps only successful responses."""
    text = request.GET.get("rx_q", request.GET.get("q", ""))
    drugs: list[Any] = []
    hint = ""
    if text.strip():
        try:
            drugs = terminology.drug_search(text, 10)
        except ProblemError as exc:
            if exc.status >= 500:
                raise
            hint = exc.detail
    return render(request, "medications/_drug_options.html", {"drugs": drugs, "hint": hint, "searched": bool(text)})


@require_GET
@staff_page(VIEW)
def dose_fields(request: HttpRequest) -> HttpResponse:
    """The form and strength choices of the chosen drug, its route and dose unit."""
    drug = None
    with contextlib.suppress(ProblemError):
        drug = terminology.drug_get(request.GET.get("drug_code", ""))
    return render(request, "medications/_dose_fields.html", {"drug": drug, "frequencies": Frequency.choices})


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


@require_GET
@staff_page(VIEW)
def dose_preview(request: HttpRequest) -> HttpResponse:
    """What the dose comes to: the label's directions, the quantity derived (or a prompt to give it)."""
    dose = _decimal(request.GET.get("dose_quantity", ""))
    frequency = request.GET.get("frequency", "")
    preview: dict[str, Any] = {}
    if dose is not None and frequency in Frequency.values:
        try:
            interval = int(request.GET.get("interval_hours") or 0) or None
            duration = int(request.GET.get("duration_days") or 0) or None
        except ValueError:
            interval = duration = None
        form_unit = ""
        try:
            drug = terminology.drug_get(request.GET.get("drug_code", ""))
            form = next((f for f in drug.forms if f.form == request.GET.get("form")), None)
            form_unit = form.unit if form else ""
        except ProblemError:
            pass
        unit = request.GET.get("dose_unit", "") or form_unit
        preview = {
            "directions": dosing.directions(
                dose_quantity=dose, dose_unit=unit, frequency=frequency, interval_hours=interval, duration_days=duration
            ),
            "supply": dosing.supply(
                dose_quantity=dose,
                dose_unit=unit,
                strength=request.GET.get("strength", ""),
                form_unit=form_unit,
                frequency=frequency,
                interval_hours=interval,
                duration_days=duration,
            ),
        }
    return render(request, "medications/_dose_preview.html", {"preview": preview})


# --- the panel's writes -------------------------------------------------------------------------------


def _back_to_encounter(encounter_id: uuid.UUID) -> str:
    return reverse("clinical_staff:encounter", args=[encounter_id]) + "#panel-prescriptions"


def _draft_items(ctx: Ctx, prescription_id: uuid.UUID) -> list[dict[str, Any]]:
    prescription = selectors.prescription_get(ctx=ctx, prescription_id=prescription_id)
    return [services.item_as_input(i) for i in prescription.item_list]  # type: ignore[attr-defined]


@require_POST
@staff_page(VIEW)
def encounter_prescribe(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    """Add the item of the form to one's draft for this encounter (made on the first item), then, as
    asked, check it."""
    back = _back_to_encounter(encounter_id)
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    ctx = _ctx(request)
    encounter = encounter_for_prescribing(ctx, encounter_id)
    panel = selectors.encounter_prescriptions(ctx=ctx, encounter=encounter)
    draft = panel["draft"]
    new_item = _item_from_post(request)
    flags = {"pregnant": request.POST.get("pregnant") == "1", "lactating": request.POST.get("lactating") == "1"}
    try:
        if new_item is not None:
            if draft is None:
                draft = services.prescription_create(
                    ctx=ctx, patient_id=encounter.patient_id, encounter_id=encounter.id, items=[new_item], **flags
                )
            else:
                services.prescription_update(
                    ctx=ctx, prescription_id=draft.id, items=[*_draft_items(ctx, draft.id), new_item], **flags
                )
        elif draft is None:
            raise ValidationFailed.field("drug_code", "search for a drug and choose one", code="required")
        if request.POST.get("action") == "check":
            _checked(request, services.prescription_check(ctx=ctx, prescription_id=draft.id, **flags).alerts)
        else:
            messages.success(request, "Added to the draft prescription.")
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        for line in _errors(exc):
            messages.error(request, line)
    return redirect(back)


def _checked(request: HttpRequest, alerts: list[dict[str, Any]]) -> None:
    if alerts:
        messages.warning(request, f"The check found {len(alerts)} alert(s): read them before signing.")
    else:
        messages.success(request, "The check found no alert.")


def _overrides_from_post(request: HttpRequest) -> dict[str, str]:
    """Override reasons as posted: `override_key_<n>` names the alert `override_reason_<n>` answers."""
    out = {}
    for name, key in request.POST.items():
        if name.startswith("override_key_"):
            out[key] = request.POST.get("override_reason_" + name.removeprefix("override_key_"), "")
    return out


def _back(request: HttpRequest, prescription_id: uuid.UUID) -> str:
    fallback = reverse("medications_staff:prescription", args=[prescription_id])
    target = request.POST.get("next", "")
    return target if target.startswith("/staff/") and "//" not in target else fallback


@require_POST
@staff_page(VIEW)
def prescription_check(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    back = _back(request, prescription_id)
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    try:
        check = services.prescription_check(
            ctx=_ctx(request),
            prescription_id=prescription_id,
            pregnant=request.POST.get("pregnant") == "1",
            lactating=request.POST.get("lactating") == "1",
        )
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        messages.error(request, exc.detail)
    else:
        _checked(request, check.alerts)
    return redirect(back)


@require_POST
@staff_page(VIEW)
def prescription_sign(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """Sign with the override reasons typed against each contraindicated or major alert."""
    back = _back(request, prescription_id)
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    try:
        prescription = services.prescription_sign(
            ctx=_ctx(request),
            prescription_id=prescription_id,
            overrides=_overrides_from_post(request),
            pregnant=request.POST.get("pregnant") == "1",
            lactating=request.POST.get("lactating") == "1",
        )
    except ProblemError as exc:
        if exc.status not in (400, 409, 422):
            raise
        if exc.code == "OVERRIDE_REASON_REQUIRED":
            messages.error(request, "Not signed: give a reason for each contraindicated or major alert.")
        else:
            for line in _errors(exc):
                messages.error(request, line)
        return redirect(back)
    messages.success(request, f"Prescription {prescription.number} signed.")
    return redirect(back)


@require_POST
@staff_page(VIEW)
def prescription_add_item(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """Add an item to one's draft from its own page (a replacement, a draft outside an encounter)."""
    back = _back(request, prescription_id)
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    ctx = _ctx(request)
    new_item = _item_from_post(request)
    try:
        if new_item is None:
            raise ValidationFailed.field("drug_code", "search for a drug and choose one", code="required")
        services.prescription_update(
            ctx=ctx, prescription_id=prescription_id, items=[*_draft_items(ctx, prescription_id), new_item]
        )
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        for line in _errors(exc):
            messages.error(request, line)
    else:
        messages.success(request, "Added to the draft prescription.")
    return redirect(back)


@require_POST
@staff_page(VIEW)
def prescription_remove_item(request: HttpRequest, prescription_id: uuid.UUID, position: int) -> HttpResponse:
    back = _back(request, prescription_id)
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    ctx = _ctx(request)
    items = _draft_items(ctx, prescription_id)
    kept = [entry for i, entry in enumerate(items) if i != position]
    try:
        if kept:
            services.prescription_update(ctx=ctx, prescription_id=prescription_id, items=kept)
        else:
            services.prescription_cancel(ctx=ctx, prescription_id=prescription_id, reason="emptied")
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        messages.error(request, exc.detail)
    return redirect(back)


@require_POST
@staff_page(VIEW)
def prescription_cancel(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    back = _back(request, prescription_id)
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    try:
        services.prescription_cancel(
            ctx=_ctx(request), prescription_id=prescription_id, reason=request.POST.get("reason", "")
        )
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        for line in _errors(exc):
            messages.error(request, line)
    else:
        messages.success(request, "Prescription cancelled.")
    return redirect(back)


@require_POST
@staff_page(VIEW)
def prescription_replace(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """Start a replacement: a draft copy to change, check and sign (which cancels this one)."""
    back = reverse("medications_staff:prescription", args=[prescription_id])
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    try:
        draft = services.prescription_replace(ctx=_ctx(request), prescription_id=prescription_id)
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        messages.error(request, exc.detail)
        return redirect(back)
    messages.success(request, "A replacement draft: change it, check it and sign it; this one is then cancelled.")
    return redirect("medications_staff:prescription", draft.id)


# --- pages --------------------------------------------------------------------------------------------


@staff_page(VIEW)
@med_access_required
def prescription_page(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """A prescription: items with directions, status, history, checks and overrides; replace, cancel."""
    ctx = _ctx(request)
    prescription = selectors.prescription_get(ctx=ctx, prescription_id=prescription_id)
    latest = prescription.check_list[0] if prescription.check_list else None  # type: ignore[attr-defined]
    return render(
        request,
        "medications/prescription.html",
        {
            "p": prescription,
            "items": [(i, selectors.directions(i)) for i in prescription.item_list],  # type: ignore[attr-defined]
            "check": latest,
            "can_prescribe": policies.can_prescribe(ctx),
            "is_draft": prescription.status == PrescriptionStatus.DRAFT,
            "replaceable": prescription.status in ("signed", "partially_dispensed"),
            "frequencies": Frequency.choices,
            "here": request.path,
        },
    )


@staff_page(PRESCRIBE)
@med_access_required
def repeat_requests_page(request: HttpRequest) -> HttpResponse:
    """The repeat requests of the prescriptions I signed, waiting for a decision."""
    rows = selectors.repeat_request_list(ctx=_ctx(request))
    return render(
        request,
        "medications/repeat_requests.html",
        {"rows": [(r, [(i, selectors.directions(i)) for i in r.prescription.item_list]) for r in rows]},
    )


@require_POST
@staff_page(PRESCRIBE)
def repeat_request_decide(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    back = reverse("medications_staff:repeat-requests")
    if (step_up := _step_up_for(request, back)) is not None:
        return step_up
    ctx = _ctx(request)
    try:
        if request.POST.get("decision") == "approve":
            decided = repeats.repeat_request_approve(
                ctx=ctx, request_id=request_id, overrides=_overrides_from_post(request)
            )
            messages.success(request, f"Approved: prescription {decided.new_prescription.number} is signed.")  # type: ignore[union-attr]
        else:
            repeats.repeat_request_refuse(ctx=ctx, request_id=request_id, reason=request.POST.get("reason", ""))
            messages.success(request, "Refused; the patient will be told why.")
    except ProblemError as exc:
        if exc.status not in (400, 409, 422):
            raise
        if exc.code == "OVERRIDE_REASON_REQUIRED":
            alerts = exc.extra.get("alerts", [])
            messages.error(
                request,
                "Not approved: the repeat raises "
                + "; ".join(f"{a['severity']}: {a['title']}" for a in alerts)
                + ". Write a new prescription from the encounter to override with a reason.",
            )
        else:
            for line in _errors(exc):
                messages.error(request, line)
    return redirect(back)


@staff_page(*policies.REPORT)
def override_report_page(request: HttpRequest) -> HttpResponse:
    """Overrides of safety alerts in the organization, filtered by period, prescriber and severity;
    `?format=csv` downloads them."""
    ctx = _ctx(request)
    params = request.GET
    try:
        since, until = api.report_period(params.get("since"), params.get("until"))
        rows = selectors.override_report(
            ctx=ctx,
            since=since,
            until=until,
            prescriber_id=api.report_prescriber(params.get("prescriber")),
            severity=params.get("severity", ""),
        )
    except ValidationFailed as exc:
        return render(
            request,
            "medications/overrides.html",
            {
                "rows": [],
                "errors": _errors(exc),
                "params": params,
                "severities": selectors.SEVERITIES,
                "since": params.get("since", ""),
                "until": params.get("until", ""),
            },
            status=400,
        )
    if params.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="medication-overrides.csv"'
        response["Cache-Control"] = "no-store"
        writer = csv.writer(response)
        writer.writerow(
            [
                "overridden_at",
                "prescription",
                "prescriber",
                "severity",
                "kind",
                "rule",
                "alert",
                "drugs",
                "reason",
                "knowledge_version",
            ]
        )
        for o in rows:
            writer.writerow(
                [
                    o.overridden_at.isoformat(),
                    o.prescription.number,
                    o.overridden_by.full_name,
                    o.severity,
                    o.kind,
                    o.rule,
                    o.title,
                    " + ".join(o.drugs),
                    _csv_safe(o.reason),
                    o.knowledge_version,
                ]
            )
        return response
    prescribers = sorted({(o.overridden_by_id, o.overridden_by.full_name) for o in rows}, key=lambda p: p[1])
    return render(
        request,
        "medications/overrides.html",
        {
            "rows": rows,
            "params": params,
            "severities": selectors.SEVERITIES,
            "prescribers": prescribers,
            "since": since.date().isoformat(),
            "until": (until - dt.timedelta(days=1)).date().isoformat(),
            "csv_query": urlencode({**{k: v for k, v in params.items() if k != "format"}, "format": "csv"}),
        },
    )


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
