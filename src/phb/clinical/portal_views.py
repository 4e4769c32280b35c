"""The clinical record in the patient portal: report a symptom and follow one's symptoms over time;
read one's active care plans. Both open the medical record, so both ask for a fresh second factor
first (the step-up window). Views parse the form, call one service or selector, and render; health
data travels in POST bodies, never in URLs (only record ids do)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from phb.accounts.step_up import med_access_required
from phb.clinical import care_plans, symptoms
from phb.clinical.forms import SymptomReportForm
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.models import Organization
from phb.patients.models import RegistrationStatus
from phb.patients.public import my_patient, my_registrations


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _hospital_names(ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    system = Ctx.system(reason="the names of a patient's hospitals")
    return dict(Organization.objects.for_platform(system).filter(id__in=ids).values_list("id", "name"))


@login_required
@med_access_required
def my_symptoms(request: HttpRequest) -> HttpResponse:
    """Report a symptom to a hospital where one is registered; one's symptoms over time, and reports."""
    ctx = _ctx(request)
    if my_patient(ctx) is None:
        return redirect("patients:onboarding")
    hospitals = [(str(o.id), o.name) for r, o in my_registrations(ctx=ctx) if r.status == RegistrationStatus.APPROVED]
    form = SymptomReportForm(request.POST or None, request.FILES or None, hospitals=hospitals)
    if request.method == "POST" and hospitals and form.is_valid():
        try:
            symptoms.symptom_report_create(ctx=ctx, **form.service_arguments())
        except ProblemError as exc:
            if exc.status != 400:
                raise
            for error in exc.extra.get("errors") or [{"field": "", "message": exc.detail}]:
                name = SymptomReportForm.FIELDS.get(error.get("field", ""), error.get("field", ""))
                form.add_error(name if name in form.fields else None, error.get("message") or exc.detail)
        else:
            messages.success(request, "Your symptom was recorded; your care team will see it.")
            return redirect("clinical_portal:symptoms")
    reports = symptoms.my_symptom_reports(ctx=ctx, limit=50)
    trends = symptoms.my_symptom_trends(ctx=ctx)
    names = _hospital_names({r.organization_id for r in reports})
    return render(
        request,
        "clinical/portal/symptoms.html",
        {
            "form": form,
            "has_hospital": bool(hospitals),
            "trends": trends,
            "rows": [
                {
                    "r": r,
                    "symptom": symptoms.symptom_name(r.symptom_code) if r.symptom_code else "",
                    "associated": [symptoms.symptom_name(a) for a in r.associated_symptoms],
                    "hospital": names.get(r.organization_id, ""),
                }
                for r in reports
            ],
        },
        status=400 if form.errors else 200,
    )


@login_required
@med_access_required
def my_symptom_photo(request: HttpRequest, report_id: uuid.UUID) -> HttpResponse:
    """The photo of one of one's own reports (anyone else's does not exist)."""
    try:
        photo = symptoms.my_symptom_photo(ctx=_ctx(request), report_id=report_id)
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        raise
    if photo is None:
        raise Http404
    response = HttpResponse(photo, content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@med_access_required
def my_care_plans(request: HttpRequest) -> HttpResponse:
    """One's active care plans at every hospital, read-only."""
    ctx = _ctx(request)
    if my_patient(ctx) is None:
        return redirect("patients:onboarding")
    plans = care_plans.my_care_plans(ctx=ctx)
    names = _hospital_names({p.organization_id for p in plans})
    return render(
        request,
        "clinical/portal/care_plans.html",
        {"rows": [{"plan": p, "hospital": names.get(p.organization_id, "")} for p in plans]},
    )
