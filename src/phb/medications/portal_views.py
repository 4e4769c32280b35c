"""The patient's "My medications" in the portal: current medications at every hospital with their
directions and whether they are ready at the pharmacy, asking for a repeat, today's doses to mark
taken, missed or skipped, and adherence per medication. It opens the medical record, so it asks for a
fresh second factor first (the step-up window). Views parse the form, call one service or selector,
and render or redirect; nothing about health travels in a URL."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from phb.accounts.step_up import med_access_required
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.medications import adherence, repeats, selectors, services
from phb.patients.public import my_patient


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


@login_required
@med_access_required
def my_medications(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    if my_patient(ctx) is None:
        return redirect("patients:onboarding")
    rows = selectors.my_medications(ctx=ctx)
    doses = selectors.my_doses(ctx=ctx)
    overall = selectors.my_adherence(ctx=ctx, days=30)
    return render(
        request,
        "medications/portal/my_medications.html",
        {"rows": rows, "doses": doses, "overall": overall.total, "reasons": repeats.REASONS},
    )


def _refusal(request: HttpRequest, exc: ProblemError) -> None:
    if exc.status == 404:
        raise Http404 from exc
    if exc.status not in (400, 409):
        raise exc
    messages.error(request, exc.detail)


@require_POST
@login_required
@med_access_required
def my_repeat_request(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """Ask for a repeat of one of one's prescriptions."""
    try:
        repeats.repeat_request_create(
            ctx=_ctx(request), prescription_id=prescription_id, note=request.POST.get("note", "")
        )
    except ProblemError as exc:
        _refusal(request, exc)
    else:
        messages.success(request, "Your request was sent; you will be told when your prescriber has decided.")
    return redirect("medications_portal:home")


@require_POST
@login_required
@med_access_required
def my_dose_mark(request: HttpRequest, dose_id: uuid.UUID) -> HttpResponse:
    """Mark one of one's doses taken, missed or skipped."""
    status = request.POST.get("status", "")
    try:
        adherence.dose_mark(ctx=_ctx(request), dose_id=dose_id, status=status)
    except ProblemError as exc:
        _refusal(request, exc)
    else:
        messages.success(request, f"Dose marked {status}.")
    return redirect("medications_portal:home")


@require_POST
@login_required
@med_access_required
def my_pharmacy_choose(request: HttpRequest, prescription_id: uuid.UUID) -> HttpResponse:
    """Choose where to collect one of one's prescriptions (empty: any pharmacy of the hospital)."""
    raw = request.POST.get("pharmacy", "")
    try:
        department_id = uuid.UUID(raw) if raw else None
    except ValueError:
        messages.error(request, "Choose one of the pharmacies listed.")
        return redirect("medications_portal:home")
    try:
        services.prescription_nominate_pharmacy(
            ctx=_ctx(request), prescription_id=prescription_id, pharmacy_department_id=department_id
        )
    except ProblemError as exc:
        _refusal(request, exc)
    else:
        messages.success(request, "Your choice of pharmacy is saved; it will prepare your medicines.")
    return redirect("medications_portal:home")
