"""Workforce pages for staff: the practitioners list with the profile form (staff managers), a
practitioner's weekly schedule editor (windows and breaks, leave, closures: staff managers and the
practitioner themselves; others read it) and the organization's calendar (opening hours and public
holidays: administrators change it, staff read it).

Views parse the form, call one selector or service, and render; the services decide who may do what
(a refusal is the 403 page)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.models import Organization
from phb.organizations import public as organizations
from phb.organizations.models import Department
from phb.patients.public import staff_page
from phb.workforce import forms, policies, selectors, services

STAFF_MANAGE = policies.STAFF_MANAGE
STAFF_VIEW = policies.STAFF_VIEW
CALENDAR_MANAGE = "organizations.organization.update"
CLINICAL = "clinical.record.view"


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _htmx(request: HttpRequest) -> bool:
    return bool(request.htmx)  # type: ignore[attr-defined]


def _zone(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).get())


def _departments(ctx: Ctx) -> list[tuple[str, str]]:
    rows = Department.objects.for_tenant(ctx).filter(is_active=True).values_list("id", "name").order_by("name")
    return [(str(i), n) for i, n in rows]


def _problem(form: Any, exc: ProblemError, fields: dict[str, str] | None = None) -> None:
    """A service's refusal as form errors, on the field it names when the form has it."""
    if exc.status not in (400, 404, 409):
        raise exc
    errors = exc.extra.get("errors") or []
    for error in errors:
        name = (fields or {}).get(error.get("field", ""), error.get("field", ""))
        form.add_error(name if name in form.fields else None, error.get("message") or exc.detail)
    if not errors:
        form.add_error(None, exc.detail)


def _status(form: Any, request: HttpRequest) -> int:
    # An HTMX request gets its form errors with a 200: htmx swaps only successful responses.
    return 400 if form.errors and not _htmx(request) else 200


# --- practitioners ----------------------------------------------------------------------------------------


@staff_page(STAFF_MANAGE)
def practitioner_list(request: HttpRequest) -> HttpResponse:
    """Every practitioner (active first), and the form that makes a member of staff one."""
    ctx = _ctx(request)
    departments = _departments(ctx)
    data = request.POST if request.method == "POST" else None
    members = [(str(u), name) for u, name in selectors.staff_without_profile(ctx=ctx)]
    form = forms.PractitionerForm(data, departments=departments, members=members)
    if data is not None and form.is_valid():
        try:
            profile = services.practitioner_profile_create(
                ctx=ctx, user_id=uuid.UUID(form.cleaned_data["member"]), **form.profile_fields()
            )
        except ProblemError as exc:
            _problem(form, exc, {"user_id": "member", "department_id": "department"})
        else:
            messages.success(request, f"{profile.specialization}: practitioner added.")
            return redirect("workforce_staff:schedule", practitioner_id=profile.id)
    profiles = list(selectors.practitioner_list(ctx=ctx, active=None).select_related("user"))
    profiles.sort(key=lambda p: (not p.is_active, p.user.full_name))
    return render(
        request,
        "workforce/staff/practitioners.html",
        {"form": form, "profiles": profiles, "department_names": dict(departments)},
        status=_status(form, request),
    )


@staff_page(STAFF_MANAGE)
def practitioner_edit(request: HttpRequest, practitioner_id: uuid.UUID) -> HttpResponse:
    """One practitioner's profile form (a partial for HTMX), and its deactivation."""
    ctx = _ctx(request)
    profile = selectors.practitioner_get(ctx=ctx, practitioner_id=practitioner_id)
    data = request.POST if request.method == "POST" else None
    form = forms.PractitionerForm(
        data, departments=_departments(ctx), initial=forms.PractitionerForm.initial_for(profile)
    )
    if data is not None and form.is_valid():
        try:
            services.practitioner_profile_update(ctx=ctx, practitioner_id=profile.id, **form.profile_fields())
        except ProblemError as exc:
            _problem(form, exc, {"department_id": "department"})
        else:
            messages.success(request, "Profile saved.")
            return redirect("workforce_staff:practitioners")
    template = "workforce/staff/_practitioner_form.html" if _htmx(request) else "workforce/staff/practitioner.html"
    name = selectors.user_names([profile.user_id]).get(profile.user_id, "")
    return render(request, template, {"form": form, "profile": profile, "name": name}, status=_status(form, request))


@require_POST
@staff_page(STAFF_MANAGE)
def practitioner_activation(request: HttpRequest, practitioner_id: uuid.UUID) -> HttpResponse:
    ctx = _ctx(request)
    if request.POST.get("active") == "1":
        services.practitioner_profile_reactivate(ctx=ctx, practitioner_id=practitioner_id)
        messages.success(request, "The practitioner takes appointments again.")
    else:
        services.practitioner_profile_deactivate(ctx=ctx, practitioner_id=practitioner_id)
        messages.success(request, "The practitioner takes no more appointments; booked ones stay.")
    return redirect("workforce_staff:practitioners")


# --- a practitioner's schedule -----------------------------------------------------------------------------


@staff_page(CLINICAL, STAFF_MANAGE)
def my_schedule(request: HttpRequest) -> HttpResponse:
    """The signed-in practitioner's own schedule."""
    profile = selectors.practitioner_of_user(ctx=_ctx(request))
    if profile is None:
        return render(request, "workforce/staff/no_profile.html", status=404)
    return redirect("workforce_staff:schedule", practitioner_id=profile.id)


def _schedule_page(
    request: HttpRequest, practitioner_id: uuid.UUID, *, status: int = 200, **forms_given: Any
) -> HttpResponse:
    ctx = _ctx(request)
    zone = _zone(ctx)
    now = timezone.now()
    schedule = selectors.practitioner_schedule(
        ctx=ctx, practitioner_id=practitioner_id, today=now.astimezone(zone).date(), now=now
    )
    hours = organizations.opening_hours_list(ctx=ctx)
    return render(
        request,
        "workforce/staff/schedule.html",
        {
            "schedule": schedule,
            "name": selectors.user_names([schedule.profile.user_id]).get(schedule.profile.user_id, ""),
            "can_edit": policies.can_manage_schedule(ctx, schedule.profile),
            "zone": zone,
            "opening_hours": list(hours),
            "window_form": forms_given.get("window_form") or forms.WindowForm(),
            "leave_form": forms_given.get("leave_form") or forms.LeaveForm(),
            "closure_form": forms_given.get("closure_form") or forms.ClosureForm(),
        },
        status=status,
    )


@staff_page(STAFF_VIEW, STAFF_MANAGE)
def schedule(request: HttpRequest, practitioner_id: uuid.UUID) -> HttpResponse:
    """A practitioner's weekly windows, leave and closures, with the forms that change them."""
    return _schedule_page(request, practitioner_id)


def _back(practitioner_id: uuid.UUID) -> HttpResponse:
    return redirect("workforce_staff:schedule", practitioner_id=practitioner_id)


@require_POST
@staff_page(STAFF_VIEW, STAFF_MANAGE)
def window_add(request: HttpRequest, practitioner_id: uuid.UUID) -> HttpResponse:
    form = forms.WindowForm(request.POST)
    if form.is_valid():
        try:
            services.availability_add(ctx=_ctx(request), practitioner_id=practitioner_id, **form.window())
        except ProblemError as exc:
            _problem(form, exc)
        else:
            messages.success(request, "Window added.")
            return _back(practitioner_id)
    return _schedule_page(request, practitioner_id, status=400, window_form=form)


@staff_page(STAFF_VIEW, STAFF_MANAGE)
def window_edit(request: HttpRequest, practitioner_id: uuid.UUID, window_id: uuid.UUID) -> HttpResponse:
    """A window's form in place of its row (HTMX), and its change."""
    ctx = _ctx(request)
    windows = {w.id: w for w in selectors.availability_list(ctx=ctx, practitioner_id=practitioner_id)}
    window = windows.get(window_id)
    if window is None:
        raise Http404
    initial = {name: getattr(window, name) for name in (*forms.WindowForm.FIELDS, "max_daily_appointments")}
    data = request.POST if request.method == "POST" else None
    form = forms.WindowForm(data, initial=initial, prefix=f"w{window.id.hex[:8]}")
    if data is not None and form.is_valid():
        try:
            services.availability_update(ctx=ctx, practitioner_id=practitioner_id, window_id=window.id, **form.window())
        except ProblemError as exc:
            _problem(form, exc)
        else:
            messages.success(request, "Window changed.")
            return _back(practitioner_id)
    context = {"form": form, "window": window, "practitioner_id": practitioner_id}
    return render(request, "workforce/staff/_window_form.html", context, status=_status(form, request))


@require_POST
@staff_page(STAFF_VIEW, STAFF_MANAGE)
def window_remove(request: HttpRequest, practitioner_id: uuid.UUID, window_id: uuid.UUID) -> HttpResponse:
    services.availability_remove(ctx=_ctx(request), practitioner_id=practitioner_id, window_id=window_id)
    messages.success(request, "Window removed; appointments already booked in it stay.")
    return _back(practitioner_id)


@require_POST
@staff_page(STAFF_VIEW, STAFF_MANAGE)
def leave_add(request: HttpRequest, practitioner_id: uuid.UUID) -> HttpResponse:
    form = forms.LeaveForm(request.POST)
    if form.is_valid():
        try:
            services.leave_add(ctx=_ctx(request), practitioner_id=practitioner_id, **form.cleaned_data)
        except ProblemError as exc:
            _problem(form, exc)
        else:
            messages.success(request, "Leave recorded; appointments already booked on those days stay.")
            return _back(practitioner_id)
    return _schedule_page(request, practitioner_id, status=400, leave_form=form)


@require_POST
@staff_page(STAFF_VIEW, STAFF_MANAGE)
def leave_remove(request: HttpRequest, practitioner_id: uuid.UUID, leave_id: uuid.UUID) -> HttpResponse:
    services.leave_remove(ctx=_ctx(request), practitioner_id=practitioner_id, leave_id=leave_id)
    messages.success(request, "Leave cancelled.")
    return _back(practitioner_id)


@require_POST
@staff_page(STAFF_VIEW, STAFF_MANAGE)
def closure_add(request: HttpRequest, practitioner_id: uuid.UUID) -> HttpResponse:
    ctx = _ctx(request)
    form = forms.ClosureForm(request.POST)
    if form.is_valid():
        starts_at, ends_at = form.span(_zone(ctx))
        try:
            services.closure_add(
                ctx=ctx,
                practitioner_id=practitioner_id,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=form.cleaned_data["reason"],
            )
        except ProblemError as exc:
            _problem(form, exc)
        else:
            messages.success(request, "Closure recorded; appointments already booked in it stay.")
            return _back(practitioner_id)
    return _schedule_page(request, practitioner_id, status=400, closure_form=form)


@require_POST
@staff_page(STAFF_VIEW, STAFF_MANAGE)
def closure_remove(request: HttpRequest, practitioner_id: uuid.UUID, closure_id: uuid.UUID) -> HttpResponse:
    services.closure_remove(ctx=_ctx(request), practitioner_id=practitioner_id, closure_id=closure_id)
    messages.success(request, "Closure cancelled.")
    return _back(practitioner_id)


# --- the organization's calendar ------------------------------------------------------------------------


def _calendar_page(request: HttpRequest, *, status: int = 200, **forms_given: Any) -> HttpResponse:
    ctx = _ctx(request)
    today = timezone.now().astimezone(_zone(ctx)).date()
    hours = list(organizations.opening_hours_list(ctx=ctx))
    per_day: dict[int, int] = {}
    for row in hours:
        per_day[row.weekday] = per_day.get(row.weekday, 0) + 1
    return render(
        request,
        "workforce/staff/calendar.html",
        {
            "hours_form": forms_given.get("hours_form")
            or forms.OpeningHoursForm(initial=forms.OpeningHoursForm.initial_for(hours)),
            "holiday_form": forms_given.get("holiday_form") or forms.HolidayForm(),
            "holidays": list(organizations.holiday_list(ctx=ctx, from_date=today)),
            "more_than_two": any(n > 2 for n in per_day.values()),
            "can_edit": organizations.can_manage_calendar(ctx),
            "next_year": today.year + 1,
        },
        status=status,
    )


@staff_page(STAFF_VIEW, CALENDAR_MANAGE)
def calendar(request: HttpRequest) -> HttpResponse:
    """The organization's weekly opening hours and its coming public holidays."""
    return _calendar_page(request)


@require_POST
@staff_page(STAFF_VIEW, CALENDAR_MANAGE)
def opening_hours_save(request: HttpRequest) -> HttpResponse:
    form = forms.OpeningHoursForm(request.POST)
    if form.is_valid():
        try:
            organizations.opening_hours_set(ctx=_ctx(request), hours=form.hours())
        except ProblemError as exc:
            _problem(form, exc)
        else:
            messages.success(request, "Opening hours saved.")
            return redirect("workforce_staff:calendar")
    return _calendar_page(request, status=400, hours_form=form)


@require_POST
@staff_page(STAFF_VIEW, CALENDAR_MANAGE)
def holiday_add(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    if request.POST.get("known"):
        year = timezone.now().astimezone(_zone(ctx)).year + 1
        today = timezone.now().astimezone(_zone(ctx)).date()
        known = organizations.nigerian_public_holidays(year - 1) + organizations.nigerian_public_holidays(year)
        added = organizations.holidays_add_known(ctx=ctx, holidays=known, from_date=today)
        messages.success(request, f"{len(added)} public holidays added.")
        return redirect("workforce_staff:calendar")
    form = forms.HolidayForm(request.POST)
    if form.is_valid():
        try:
            organizations.holiday_add(ctx=ctx, **form.cleaned_data)
        except ProblemError as exc:
            _problem(form, exc)
        else:
            messages.success(request, "Holiday added.")
            return redirect("workforce_staff:calendar")
    return _calendar_page(request, status=400, holiday_form=form)


@require_POST
@staff_page(STAFF_VIEW, CALENDAR_MANAGE)
def holiday_remove(request: HttpRequest, holiday_id: uuid.UUID) -> HttpResponse:
    organizations.holiday_remove(ctx=_ctx(request), holiday_id=holiday_id)
    messages.success(request, "Holiday removed.")
    return redirect("workforce_staff:calendar")
