"""Patient portal pages: home (HPN and links), consents (give, withdraw), who accessed my record, and
exports of all my data (ask, follow the progress, download)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from phb.kernel.errors import ProblemError
from phb.patients import consents, exports, hpn, selectors
from phb.patients.models import ConsentKind, Patient


def _my_patient(request: HttpRequest) -> Patient | None:
    return Patient.objects.filter(user_id=request.user.pk).first()


def home(request: HttpRequest) -> HttpResponse:
    patient = _my_patient(request) if request.user.is_authenticated else None
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
