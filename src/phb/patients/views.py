"""Patient portal pages: home (HPN and links), onboarding, profile, my hospitals, consents (give,
withdraw), who accessed my record, and exports of all my data (ask, follow the progress, download)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from phb.kernel.errors import ProblemError
from phb.kernel.models import Organization
from phb.patients import consents, exports, forms, hpn, portal, selectors
from phb.patients.models import ConsentKind, Patient


def _my_patient(request: HttpRequest) -> Patient | None:
    return portal.my_patient(request.ctx)  # type: ignore[attr-defined]


def home(request: HttpRequest) -> HttpResponse:
    patient = _my_patient(request) if request.user.is_authenticated else None
    if (
        request.user.is_authenticated
        and not request.ctx.member_of
        and (patient is None or patient.onboarded_at is None)
    ):  # type: ignore[attr-defined]
        return redirect("patients:onboarding")  # a patient's first visit: their details, preferences, hospital
    return render(
        request, "patients/home.html", {"patient": patient, "hpn": hpn.display(patient.hpn) if patient else ""}
    )


@login_required
def consent_list(request: HttpRequest) -> HttpResponse:
    patient = _my_patient(request)
    if patient is None:
        raise Http404
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        try:
            consents.consent_grant(ctx=request.ctx, patient_id=patient.id, kind=kind, version="2026-01")  # type: ignore[attr-defined]
        except ProblemError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Your consent was recorded.")
        return redirect("patients:consents")
    return render(
        request,
        "patients/consents.html",
        {
            "consents": consents.consent_list(ctx=request.ctx, patient_id=patient.id),  # type: ignore[attr-defined]
            "kinds": [
                (k.value, k.label)
                for k in ConsentKind
                if k not in (ConsentKind.TERMS, ConsentKind.DATA_PROCESSING, ConsentKind.PRIVACY)
            ],
        },
    )


@login_required
@require_POST
def consent_withdraw(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    try:
        consents.consent_withdraw(ctx=request.ctx, consent_id=consent_id)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Your consent was withdrawn.")
    return redirect("patients:consents")


@login_required
def access_log(request: HttpRequest) -> HttpResponse:
    patient = _my_patient(request)
    if patient is None:
        raise Http404
    events = selectors.access_log(ctx=request.ctx, patient_id=patient.id)[:200]  # type: ignore[attr-defined]
    return render(request, "patients/access_log.html", {"events": events})


@login_required
def export_list(request: HttpRequest) -> HttpResponse:
    """Ask for an export; the list of exports polls itself (HTMX) while one is being prepared."""
    patient = _my_patient(request)
    if patient is None:
        raise Http404
    ctx = request.ctx  # type: ignore[attr-defined]
    if request.method == "POST":
        try:
            exports.export_request(ctx=ctx, patient_id=patient.id)
        except ProblemError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "We are preparing your export. It stays here for 24 hours once ready.")
        return redirect("patients:exports")
    rows = list(exports.export_list(ctx=ctx, patient_id=patient.id)[:20])
    context = {"exports": rows, "polling": any(e.in_progress for e in rows)}
    template = "patients/_export_rows.html" if request.htmx else "patients/exports.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
def export_download(request: HttpRequest, export_id: uuid.UUID, fmt: str) -> HttpResponse:
    try:
        file = exports.export_download(ctx=request.ctx, export_id=export_id, fmt=fmt)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status in (400, 404):
            raise Http404 from exc
        messages.error(request, exc.detail)
        return redirect("patients:exports")
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _directory(exclude: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset()) -> list[tuple[str, str]]:
    """The public directory of hospitals and clinics, as form choices."""
    rows = Organization.objects.accepting_patients().exclude(id__in=exclude).order_by("name")
    return [(str(o.id), f"{o.name} ({o.get_kind_display()}, {o.city})" if o.city else o.name) for o in rows]


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    """One form for a patient's first visit; once done, the portal stops asking."""
    ctx = request.ctx  # type: ignore[attr-defined]
    patient = portal.my_patient(ctx)
    if patient is not None and patient.onboarded_at is not None:
        return redirect("patients:home")
    form = forms.OnboardingForm(
        request.POST if request.method == "POST" else None, has_record=patient is not None, organizations=_directory()
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["primary_organization"]
        try:
            portal.onboarding_complete(
                ctx=ctx,
                **form.details(),
                preferences=form.preferences(),
                history=form.history(),
                emergency_contact=form.emergency_contact(),
                primary_organization_id=uuid.UUID(chosen) if chosen else None,
            )
        except ProblemError as exc:
            if exc.status not in (400, 409):
                raise
            forms.show_problem(form, exc, forms.OnboardingForm.SERVICE_FIELDS)
        else:
            messages.success(request, "Welcome to PHB. Your details are saved.")
            return redirect("patients:home")
    return render(
        request,
        "patients/onboarding.html",
        {"form": form, "patient": patient, "hpn": hpn.display(patient.hpn) if patient else ""},
        status=400 if form.errors else 200,
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """My details; the contact details can be corrected here (names and birth date at a reception desk)."""
    ctx = request.ctx  # type: ignore[attr-defined]
    patient = portal.my_patient(ctx)
    if patient is None:
        return redirect("patients:onboarding")
    form = forms.ProfileForm(request.POST if request.method == "POST" else None, instance=patient)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        try:
            portal.profile_update(ctx=ctx, **changes)
        except ProblemError as exc:
            if exc.status != 400:
                raise
            forms.show_problem(form, exc)
        else:
            messages.success(request, "Your details were saved." if changes else "Nothing was changed.")
            return redirect("patients:profile")
    if form.errors:
        patient.refresh_from_db()  # the page shows what is on record, the form what was typed
    return render(
        request,
        "patients/profile.html",
        {
            "patient": patient,
            "hpn": hpn.display(patient.hpn),
            "contacts": list(patient.emergency_contacts.order_by("-is_next_of_kin", "name")),
            "form": form,
        },
        status=400 if form.errors else 200,
    )


@login_required
def hospitals(request: HttpRequest) -> HttpResponse:
    """The hospitals and clinics I am registered with (or asked to be), and asking another one."""
    ctx = request.ctx  # type: ignore[attr-defined]
    if portal.my_patient(ctx) is None:
        return redirect("patients:onboarding")
    rows = portal.my_registrations(ctx=ctx)
    choices = _directory(exclude={organization.id for _, organization in rows})
    form = forms.RegistrationRequestForm(request.POST if request.method == "POST" else None, organizations=choices)
    if request.method == "POST" and form.is_valid():
        try:
            portal.registration_request(ctx=ctx, organization_id=uuid.UUID(form.cleaned_data["organization"]))
        except ProblemError as exc:
            if exc.status not in (400, 409):
                raise
            forms.show_problem(form, exc, {"organization_id": "organization"})
        else:
            messages.success(request, "Your request was sent. The hospital will review it.")
            return redirect("patients:hospitals")
    return render(
        request,
        "patients/hospitals.html",
        {"rows": rows, "form": form, "can_request": bool(choices)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def hospital_set_primary(request: HttpRequest, registration_id: uuid.UUID) -> HttpResponse:
    try:
        portal.registration_set_primary(ctx=request.ctx, registration_id=registration_id)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Your main hospital was changed.")
    return redirect("patients:hospitals")
