"""Kiosk pages. On the device, under `/kiosk/` (no staff session, no navigation, large touch targets):
the self check-in form and the waiting-room display. For hospital administrators, under
`/staff/scheduling/kiosks/`: register a kiosk, enrol this device as one, revoke a device, take a
kiosk out of service.

The device is known by its cookie alone (kiosks.COOKIE_NAME: HttpOnly, SameSite=Strict, Secure in
production, a year long, sent only to /kiosk/); the staff session that enrolled it ends there."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.organizations.models import Department
from phb.patients.public import staff_page
from phb.scheduling import forms, kiosks, policies
from phb.scheduling.models import Kiosk, KioskKind


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _kiosk(request: HttpRequest) -> Kiosk | None:
    return kiosks.kiosk_identify(token=request.COOKIES.get(kiosks.COOKIE_NAME, ""))


def _not_enrolled(request: HttpRequest) -> HttpResponse:
    response = render(request, "scheduling/kiosk/not_enrolled.html", status=403)
    if request.htmx:  # type: ignore[attr-defined]
        response["HX-Refresh"] = "true"  # a display polling in the background shows the page too
    return response


# --- on the device --------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def kiosk_home(request: HttpRequest) -> HttpResponse:
    """The self check-in form (a check-in kiosk) or the department's queue (a display)."""
    kiosk = _kiosk(request)
    if kiosk is None:
        return _not_enrolled(request)
    ctx = kiosks.kiosk_ctx(kiosk, _ctx(request))
    if kiosk.kind == KioskKind.DISPLAY:
        board = kiosks.display_board(ctx=ctx, kiosk=kiosk)
        return render(request, "scheduling/kiosk/display.html", {"kiosk": kiosk, "board": board})
    form = forms.KioskCheckInForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"kiosk": kiosk, "form": form, "paused": kiosks.paused_for(kiosk)}
    if request.method == "POST" and form.is_valid():
        try:
            ticket = kiosks.kiosk_check_in(
                ctx=ctx,
                kiosk=kiosk,
                reference=form.cleaned_data["reference"],
                birth_date=form.cleaned_data["birth_date"],
            )
        except ProblemError as exc:
            if exc.status not in (404, 409, 429):
                raise
            # SECURITY: an empty form again: what this person typed is not left for the next one.
            context.update(form=forms.KioskCheckInForm(), problem=exc.detail, paused=kiosks.paused_for(kiosk))
            return _check_in_page(request, context, status=429 if exc.status == 429 else 200)
        return render(request, "scheduling/kiosk/ticket.html", {"kiosk": kiosk, "ticket": ticket})
    return _check_in_page(request, context, status=400 if form.errors else 200)


def _check_in_page(request: HttpRequest, context: dict[str, Any], *, status: int) -> HttpResponse:
    form = context["form"]
    context["date_fields"] = [form["day"], form["month"], form["year"]]
    return render(request, "scheduling/kiosk/check_in.html", context, status=status)


@never_cache
def kiosk_display(request: HttpRequest) -> HttpResponse:
    """The display's board alone, which the display page fetches every few seconds (HTMX)."""
    kiosk = _kiosk(request)
    if kiosk is None or kiosk.kind != KioskKind.DISPLAY:
        return _not_enrolled(request)
    board = kiosks.display_board(ctx=kiosks.kiosk_ctx(kiosk, _ctx(request)), kiosk=kiosk)
    return render(request, "scheduling/kiosk/_board.html", {"kiosk": kiosk, "board": board})


# --- for hospital administrators ------------------------------------------------------------------------


def _departments(ctx: Ctx) -> list[tuple[str, str]]:
    rows = Department.objects.for_tenant(ctx).filter(is_active=True).values_list("id", "name").order_by("name")
    return [(str(i), n) for i, n in rows]


@staff_page(policies.KIOSK_MANAGE)
def kiosk_admin(request: HttpRequest) -> HttpResponse:
    """The organization's kiosks, and the form to register one."""
    ctx = _ctx(request)
    form = forms.KioskForm(request.POST if request.method == "POST" else None, departments=_departments(ctx))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            kiosk = kiosks.kiosk_create(
                ctx=ctx,
                name=data["name"],
                kind=data["kind"],
                department_id=uuid.UUID(data["department"]) if data["department"] else None,
                location=data["location"],
            )
        except ProblemError as exc:
            if exc.status not in (400, 409):
                raise
            errors = exc.extra.get("errors") or [{"field": None, "message": exc.detail}]
            for error in errors:
                field = error.get("field")
                form.add_error(field if field in form.fields else None, error.get("message") or exc.detail)
        else:
            messages.success(request, f"{kiosk.name} is registered. Open this page on the device to enrol it.")
            return redirect("scheduling_staff:kiosks")
    return render(
        request,
        "scheduling/staff/kiosks.html",
        {"form": form, "kiosks": list(kiosks.kiosk_list(ctx=ctx))},
        status=400 if form.errors else 200,
    )


@require_POST
@staff_page(policies.KIOSK_MANAGE)
def kiosk_enrol(request: HttpRequest, kiosk_id: uuid.UUID) -> HttpResponse:
    """Enrol the device this browser runs on as the kiosk, and sign the staff member out of it."""
    try:
        _kiosk_row, token = kiosks.kiosk_enrol(ctx=_ctx(request), kiosk_id=kiosk_id)
    except ProblemError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
        return redirect("scheduling_staff:kiosks")
    # SECURITY: a kiosk never runs on a staff login: whoever walks up to it next must not find one.
    logout(request)
    response = redirect("kiosk:home")
    response.set_cookie(
        kiosks.COOKIE_NAME,
        token,
        max_age=settings.KIOSK_COOKIE_DAYS * 24 * 3600,
        path=kiosks.COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


@require_POST
@staff_page(policies.KIOSK_MANAGE)
def kiosk_revoke(request: HttpRequest, kiosk_id: uuid.UUID) -> HttpResponse:
    kiosk = kiosks.kiosk_revoke(ctx=_ctx(request), kiosk_id=kiosk_id)
    messages.success(request, f"{kiosk.name}: its device is no longer enrolled.")
    return redirect("scheduling_staff:kiosks")


@require_POST
@staff_page(policies.KIOSK_MANAGE)
def kiosk_activate(request: HttpRequest, kiosk_id: uuid.UUID) -> HttpResponse:
    active = request.POST.get("active") == "1"
    kiosk = kiosks.kiosk_set_active(ctx=_ctx(request), kiosk_id=kiosk_id, active=active)
    messages.success(request, f"{kiosk.name} is {'in service' if active else 'out of service'}.")
    return redirect("scheduling_staff:kiosks")
