"""Staff pages of the patient registry: reception (search, a patient's page, edit, walk-in registration
with the master patient index's warnings) and the organization administrator's queues (registrations
to decide, possible duplicates to merge or dismiss, recent merges to undo).

Views parse the form, call one selector or service, and render; health data travels in POST bodies,
never in URLs (only record ids do)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from phb.kernel.errors import ProblemError
from phb.patients import forms, hpn, merge, selectors, services

View = Callable[..., HttpResponse]


def staff_page(*permissions: str) -> Callable[[View], View]:
    """A page for signed-in staff holding any of `permissions` at their active organization.

    SECURITY: the session middleware already sends staff who have not passed their second factor to
    it, and such staff hold no permission in their context; anyone else (patients, other roles) is
    refused here before the view runs."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            ctx = request.ctx  # type: ignore[attr-defined]
            if not request.user.is_verified() or not any(ctx.has_perm(p) for p in permissions):  # type: ignore[union-attr]
                return render(request, "403.html", status=403)
            try:
                return view(request, *args, **kwargs)
            except ProblemError as exc:
                if exc.status == 404:
                    raise Http404 from exc
                if exc.status == 403:
                    return render(request, "403.html", status=403)
                if exc.status >= 500:
                    raise
                # A refusal no form of the page could show (the state changed meanwhile, ...).
                return render(request, "patients/staff/problem.html", {"problem": exc}, status=exc.status)

        return wrapped

    return decorator


VIEW_PATIENTS = ("patients.demographics.view", "clinical.record.view")


def _status(form: Any, *, htmx: bool = False) -> int:
    # An HTMX request gets its form errors with a 200: htmx swaps only successful responses.
    return 400 if form.errors and not htmx else 200


# --- reception --------------------------------------------------------------------------------------


@staff_page(*VIEW_PATIENTS)
def patient_search(request: HttpRequest) -> HttpResponse:
    """Search by name, HPN, MRN, phone, date of birth or identifier (POST: none of it in the URL)."""
    form = forms.PatientSearchForm(request.POST if request.method == "POST" else None)
    results = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            results = selectors.patient_search(
                ctx=request.ctx,  # type: ignore[attr-defined]
                q=data["q"],
                hpn_number=data["hpn"],
                mrn=data["mrn"],
                phone=data["phone"],
                birth_date=data["birth_date"],
                identifier_kind=data["identifier_kind"],
                identifier=data["identifier"],
            )
        except ProblemError as exc:
            if exc.status != 400:
                raise
            forms.show_problem(form, exc)
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    context = {
        "form": form,
        "results": results,
        "can_register": request.ctx.has_perm("patients.registration.manage"),  # type: ignore[attr-defined]
    }
    template = "patients/staff/_search.html" if htmx else "patients/staff/search.html"
    return render(request, template, context, status=_status(form, htmx=htmx))


@staff_page(*VIEW_PATIENTS)
def patient_detail(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    ctx = request.ctx  # type: ignore[attr-defined]
    patient, registration = selectors.patient_open(ctx=ctx, patient_id=patient_id)
    if patient.id != patient_id:  # a merged record opens its survivor
        return redirect("patients_staff:patient", patient.id)
    return render(
        request,
        "patients/staff/patient.html",
        {
            "patient": patient,
            "hpn": hpn.display(patient.hpn),
            "registration": registration,
            "contacts": list(patient.emergency_contacts.order_by("-is_next_of_kin", "name")),
            "can_edit": registration is not None and ctx.has_perm("patients.demographics.update"),
            "can_open_chart": ctx.has_perm("clinical.record.view"),
        },
    )


@staff_page("patients.demographics.update")
def patient_edit(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    ctx = request.ctx  # type: ignore[attr-defined]
    patient, _ = selectors.patient_open(ctx=ctx, patient_id=patient_id)
    form = forms.DemographicsForm(request.POST if request.method == "POST" else None, instance=patient)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        try:
            services.patient_update(ctx=ctx, patient_id=patient.id, **changes)
        except ProblemError as exc:
            if exc.status != 400:
                raise
            forms.show_problem(form, exc)
        else:
            messages.success(request, "The patient's details were saved." if changes else "Nothing was changed.")
            return redirect("patients_staff:patient", patient.id)
    return render(
        request,
        "patients/staff/edit.html",
        {"form": form, "patient_id": patient.id, "hpn": hpn.display(patient.hpn)},
        status=_status(form),
    )


@staff_page("patients.registration.manage")
def walk_in(request: HttpRequest) -> HttpResponse:
    """Register a new patient at the desk. When the master patient index finds records that may be the
    same person, the form comes back with them: register one of them here (with proof), or confirm
    this is someone else. A certain match can only be registered."""
    form = forms.WalkInForm(request.POST if request.method == "POST" else None)
    candidates: list[dict[str, Any]] = []
    exists = False
    if request.method == "POST" and form.is_valid():
        confirmed = request.POST.get("confirmed_distinct") == "1"
        try:
            registration = services.walk_in_register(
                ctx=request.ctx,  # type: ignore[attr-defined]
                confirmed_distinct=confirmed,
                **form.demographics(),
            )
        except services.PatientExists as exc:
            candidates, exists = exc.extra.get("candidates", []), True
        except services.PossibleDuplicate as exc:
            candidates = exc.extra.get("candidates", [])
        except ProblemError as exc:
            if exc.status != 400:
                raise
            forms.show_problem(form, exc)
        else:
            messages.success(request, f"The patient is registered here with MRN {registration.mrn}.")
            return redirect("patients_staff:patient", registration.patient_id)
    return render(
        request,
        "patients/staff/walk_in.html",
        {"form": form, "candidates": candidates, "exists": exists, "proof": forms.ProofForm()},
        status=409 if candidates else _status(form),
    )


@staff_page("patients.registration.manage")
def register_existing(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Register here a record that already exists, once the patient at the desk gives its HPN or date
    of birth (nothing of the record is shown before that)."""
    form = forms.ProofForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.registration_create(
                ctx=request.ctx,  # type: ignore[attr-defined]
                patient_id=patient_id,
                at_desk=True,
                proof_hpn=form.cleaned_data["proof_hpn"],
                proof_birth_date=form.cleaned_data["proof_birth_date"],
            )
        except ProblemError as exc:
            if exc.status == 409 and exc.code == "CONFLICT":  # already registered here: just open it
                return redirect("patients_staff:patient", patient_id)
            if exc.status not in (400, 409):
                raise
            forms.show_problem(form, exc, {"proof_hpn": "proof_hpn"} if exc.code == "PROOF_MISMATCH" else {})
        else:
            messages.success(request, "The patient's existing record is now registered here.")
            return redirect("patients_staff:patient", patient_id)
    return render(
        request, "patients/staff/register_existing.html", {"form": form, "patient_id": patient_id}, status=_status(form)
    )


# --- organization administration ---------------------------------------------------------------------


def _registrations_page(request: HttpRequest, *, form: Any = None, failed: uuid.UUID | None = None) -> HttpResponse:
    pending = list(selectors.registrations_pending(ctx=request.ctx))  # type: ignore[attr-defined]
    return render(
        request,
        "patients/staff/registrations.html",
        {"pending": pending, "failed_form": form, "failed": failed},
        status=400 if form is not None else 200,
    )


@staff_page("patients.registration.approve")
def registrations(request: HttpRequest) -> HttpResponse:
    return _registrations_page(request)


@require_POST
@staff_page("patients.registration.approve")
def registration_decide(request: HttpRequest, registration_id: uuid.UUID) -> HttpResponse:
    form = forms.DecisionForm(request.POST)
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.registration_decide(
                ctx=request.ctx,  # type: ignore[attr-defined]
                registration_id=registration_id,
                approve=approve,
                reason=form.cleaned_data["reason"],
            )
        except ProblemError as exc:
            if exc.status == 409:  # decided meanwhile: it has left the queue
                messages.error(request, exc.detail)
                return redirect("patients_staff:registrations")
            if exc.status != 400:
                raise
            forms.show_problem(form, exc)
        else:
            messages.success(request, "The registration was approved." if approve else "The registration was rejected.")
            return redirect("patients_staff:registrations")
    return _registrations_page(request, form=form, failed=registration_id)


@staff_page("patients.patient.merge")
def duplicates(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "patients/staff/duplicates.html",
        {"candidates": list(selectors.duplicates_open(ctx=request.ctx)[:100])},  # type: ignore[attr-defined]
    )


@staff_page("patients.patient.merge")
def duplicate_detail(request: HttpRequest, candidate_id: uuid.UUID) -> HttpResponse:
    pair = selectors.duplicate_compare(ctx=request.ctx, candidate_id=candidate_id)  # type: ignore[attr-defined]
    records = []
    for patient in (pair.candidate.patient, pair.candidate.other):
        registration = pair.registrations.get(patient.id)
        records.append({"patient": patient, "registration": registration, "hpn": hpn.display(patient.hpn)})
    return render(
        request,
        "patients/staff/duplicate.html",
        {
            "candidate": pair.candidate,
            "records": records,
            "mergeable": all(r["registration"] is not None for r in records),
        },
    )


@require_POST
@staff_page("patients.patient.merge")
def duplicate_merge(request: HttpRequest, candidate_id: uuid.UUID) -> HttpResponse:
    ctx = request.ctx  # type: ignore[attr-defined]
    pair = selectors.duplicate_compare(ctx=ctx, candidate_id=candidate_id)
    ids = {
        str(pair.candidate.patient_id): pair.candidate.other_id,
        str(pair.candidate.other_id): pair.candidate.patient_id,
    }
    survivor = request.POST.get("survivor", "")
    if survivor not in ids:
        messages.error(request, "Choose which record to keep.")
        return redirect("patients_staff:duplicate", candidate_id)
    try:
        merge.patient_merge(ctx=ctx, survivor_id=uuid.UUID(survivor), merged_id=ids[survivor])
    except ProblemError as exc:
        if exc.status not in (400, 409):
            raise
        messages.error(request, exc.detail)
        return redirect("patients_staff:duplicate", candidate_id)
    messages.success(request, f"The records were merged. You can undo this for {merge.UNDO_DAYS} days.")
    return redirect("patients_staff:merges")


@require_POST
@staff_page("patients.patient.merge")
def duplicate_dismiss(request: HttpRequest, candidate_id: uuid.UUID) -> HttpResponse:
    try:
        merge.duplicate_dismiss(ctx=request.ctx, candidate_id=candidate_id)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Marked as two different people.")
    return redirect("patients_staff:duplicates")


@staff_page("patients.patient.merge")
def merges(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "patients/staff/merges.html",
        {"merges": selectors.merges_recent(ctx=request.ctx), "now": timezone.now()},  # type: ignore[attr-defined]
    )


@require_POST
@staff_page("patients.patient.merge")
def merge_undo(request: HttpRequest, merge_id: uuid.UUID) -> HttpResponse:
    try:
        merge.patient_merge_undo(ctx=request.ctx, merge_id=merge_id)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, "The merge was undone: the two records are separate again.")
    return redirect("patients_staff:merges")
