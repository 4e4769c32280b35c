"""Scheduling pages. Staff: reception (today's calendar, the week of a department, walk-in booking,
check-in), the live queue of any day, a doctor's day, and the appointments list with its CSV export.
Patients: book, see, reschedule and cancel their own appointments. (Kiosks: kiosk_views.)

Views parse the form, call one selector or service, and render. Health data travels in POST bodies,
never in URLs (only record ids do); every read of it goes through an audited selector."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from phb.accounts.models import User
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.models import Organization
from phb.organizations.models import Department
from phb.patients.models import RegistrationStatus
from phb.patients.public import my_patient, my_registrations, patient_search, staff_page
from phb.scheduling import forms, selectors, services, slots, transitions
from phb.scheduling.models import AppointmentStatus
from phb.workforce.public import PractitionerProfile

MANAGE = transitions.MANAGE
CLINICAL = "clinical.record.view"
SLOT_DAYS = 7
MAX_SLOTS = 60
RETURN_TO = {
    "reception": "scheduling_staff:reception",
    "day": "scheduling_staff:day",
    "queue": "scheduling_staff:queue",
}


def _ctx(request: HttpRequest) -> Ctx:
    return request.ctx  # type: ignore[attr-defined,no-any-return]


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _today(ctx: Ctx) -> dt.date:
    return timezone.now().astimezone(slots.organization_zone(ctx)).date()


def _practitioners(ctx: Ctx, department_id: uuid.UUID | None = None) -> list[tuple[str, str]]:
    """(profile id, "Name — specialization") of the organization's active practitioners."""
    profiles = PractitionerProfile.objects.for_tenant(ctx).filter(is_active=True)
    if department_id:
        profiles = profiles.filter(department_id=department_id)
    rows = list(profiles.values_list("id", "user_id", "specialization"))
    names = dict(User.objects.filter(id__in=[u for _, u, _ in rows]).values_list("id", "full_name"))
    return sorted(((str(p), f"{names.get(u, '')} — {s}") for p, u, s in rows), key=lambda c: c[1])


def _departments(ctx: Ctx) -> list[tuple[str, str]]:
    return [
        (str(i), n)
        for i, n in Department.objects.for_tenant(ctx).filter(is_active=True).values_list("id", "name").order_by("name")
    ]


def _slot_choices(free: list[slots.Slot], zone: Any, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    out = []
    for s in free[:MAX_SLOTS]:
        label = s.start_at.astimezone(zone).strftime("%a %d %b %H:%M")
        if names is not None:
            label += f" · {names.get(str(s.practitioner_id), '').split(' — ')[0]}"
        out.append((f"{s.practitioner_id}|{s.start_at.isoformat()}", label))
    return out


def _parse_slot(value: str) -> tuple[uuid.UUID, dt.datetime] | None:
    pid, _, start = value.partition("|")
    try:
        start_at = dt.datetime.fromisoformat(start)
    except ValueError:
        return None
    practitioner_id = _uuid(pid)
    if practitioner_id is None or timezone.is_naive(start_at):
        return None
    return practitioner_id, start_at


def _problem(form: Any, exc: ProblemError, fields: dict[str, str]) -> None:
    errors = exc.extra.get("errors") or []
    for error in errors:
        name = fields.get(error.get("field", ""), error.get("field", ""))
        form.add_error(name if name in form.fields else None, error.get("message") or exc.detail)
    if not errors:
        form.add_error(None, exc.detail)


# --- reception ----------------------------------------------------------------------------------------


@staff_page(MANAGE)
def reception(request: HttpRequest) -> HttpResponse:
    """Today's calendar of the organization (or one department), by practitioner, with check-in."""
    ctx = _ctx(request)
    department_id = _uuid(request.GET.get("department"))
    appointments = list(selectors.appointment_list(ctx=ctx, on_date=_today(ctx), department_id=department_id))
    names = dict(_practitioners(ctx))
    columns: dict[str, list[Any]] = {}
    for a in appointments:
        columns.setdefault(names.get(str(a.practitioner_id), "Department queue"), []).append(a)
    return render(
        request,
        "scheduling/staff/reception.html",
        {
            "columns": sorted(columns.items()),
            "departments": _departments(ctx),
            "department": str(department_id or ""),
            "today": _today(ctx),
            "zone": slots.organization_zone(ctx),
            "can_check_in": (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED),
        },
    )


@staff_page(MANAGE)
def week(request: HttpRequest) -> HttpResponse:
    """Reception's week, Monday to Sunday, of one department (or one of its practitioners): each
    practitioner's appointments and free slots by day; a free slot opens the walk-in booking form on it."""
    ctx = _ctx(request)
    departments = _departments(ctx)
    chosen = request.GET.get("department") or (departments[0][0] if departments else "")
    department_id = _uuid(chosen) if chosen in dict(departments) else None
    practitioners = _practitioners(ctx, department_id) if department_id else []
    names = dict(practitioners)
    practitioner_id = _uuid(request.GET.get("practitioner")) if request.GET.get("practitioner") in names else None
    zone = slots.organization_zone(ctx)
    today = _today(ctx)
    anchor = _date(request.GET.get("week")) or today
    monday = anchor - dt.timedelta(days=anchor.weekday())
    days = [monday + dt.timedelta(days=i) for i in range(7)]
    rows: dict[str, dict[dt.date, list[dict[str, Any]]]] = {}
    if department_id is not None:
        for pid in [practitioner_id] if practitioner_id else [uuid.UUID(p) for p in names]:
            rows[str(pid)] = {d: [] for d in days}
        appointments = selectors.appointment_list(
            ctx=ctx, department_id=department_id, practitioner_id=practitioner_id, from_date=days[0], to_date=days[-1]
        )
        for a in appointments:
            local = a.start_at.astimezone(zone)
            row = rows.setdefault(str(a.practitioner_id or ""), {d: [] for d in days})
            row[local.date()].append({"at": local, "time": f"{local:%H:%M}", "appointment": a})
        free = slots.slots_free(
            ctx=ctx,
            start_date=days[0],
            end_date=days[-1],
            practitioner_id=practitioner_id,
            department_id=None if practitioner_id else department_id,
        )
        for slot in free:
            local = slot.start_at.astimezone(zone)
            value = f"{slot.practitioner_id}|{slot.start_at.isoformat()}"
            rows.setdefault(str(slot.practitioner_id), {d: [] for d in days})[local.date()].append(
                {"at": local, "time": f"{local:%H:%M}", "slot": value}
            )
    everyone = dict(_practitioners(ctx)) if department_id is not None else {}
    grid = [
        {
            "name": everyone.get(key, "").split(" — ")[0] if key else "Department queue",
            "practitioner": key,
            "cells": [{"day": d, "items": sorted(cells[d], key=lambda item: item["at"])} for d in days],
        }
        for key, cells in sorted(rows.items(), key=lambda kv: (kv[0] == "", names.get(kv[0], "")))
    ]
    return render(
        request,
        "scheduling/staff/week.html",
        {
            "grid": grid,
            "days": days,
            "today": today,
            "departments": departments,
            "department": str(department_id or ""),
            "practitioners": practitioners,
            "practitioner": str(practitioner_id or ""),
            "previous_week": (days[0] - dt.timedelta(days=7)).isoformat(),
            "next_week": (days[0] + dt.timedelta(days=7)).isoformat(),
            "this_week": today.isoformat(),
            "inactive": (
                AppointmentStatus.CANCELLED,
                AppointmentStatus.RESCHEDULED,
                AppointmentStatus.REJECTED,
                AppointmentStatus.NO_SHOW,
                AppointmentStatus.REFERRED,
            ),
        },
    )


@staff_page(MANAGE)
def book(request: HttpRequest) -> HttpResponse:
    """Walk-in booking: the patient by MRN (or from the search), a practitioner, one of their free times."""
    ctx = _ctx(request)
    data = request.POST if request.method == "POST" else None
    practitioners = _practitioners(ctx)
    chosen = _uuid((data or request.GET).get("practitioner"))
    zone = slots.organization_zone(ctx)
    free: list[slots.Slot] = []
    # A free slot chosen in the week view (or posted) anchors the days offered, so that it is among them.
    wanted = _parse_slot((data or request.GET).get("slot") or "")
    if chosen and str(chosen) in dict(practitioners):
        first = _today(ctx)
        if wanted is not None and wanted[0] == chosen:
            first = max(first, wanted[1].astimezone(zone).date())
        free = slots.slots_free(
            ctx=ctx, practitioner_id=chosen, start_date=first, end_date=first + dt.timedelta(days=SLOT_DAYS - 1)
        )
    initial = {
        "patient": _uuid(request.GET.get("patient")),
        "practitioner": str(chosen or ""),
        "slot": request.GET.get("slot", ""),
    }
    form = forms.WalkInBookingForm(data, initial=initial, practitioners=practitioners, slots=_slot_choices(free, zone))
    refresh = bool(data and data.get("refresh"))
    if data is not None and not refresh and form.is_valid():
        appointment = _walk_in_book(ctx, form)
        if appointment is not None:
            messages.success(request, f"Booked: {appointment.reference}.")
            return redirect("scheduling_staff:reception")
    if refresh:
        form.errors.clear()
    status = 400 if form.errors and not request.htmx else 200  # type: ignore[attr-defined]
    template = "scheduling/staff/_book_form.html" if request.htmx else "scheduling/staff/book.html"  # type: ignore[attr-defined]
    return render(request, template, {"form": form}, status=status)


def _walk_in_book(ctx: Ctx, form: forms.WalkInBookingForm) -> Any:
    data = form.cleaned_data
    slot = _parse_slot(data["slot"])
    if slot is None:
        form.add_error("slot", "choose a free time")
        return None
    patient_id = data["patient"]
    if data["mrn"]:
        found = [f for f in patient_search(ctx=ctx, mrn=data["mrn"].strip()) if f.registration is not None]
        if len(found) != 1:
            form.add_error("mrn", "no patient registered here has this MRN")
            return None
        patient_id = found[0].patient.id
    try:
        return services.appointment_book(
            ctx=ctx,
            patient_id=patient_id,
            practitioner_id=slot[0],
            start_at=slot[1],
            priority=data["priority"],
            chief_complaint=data["chief_complaint"],
        )
    except ProblemError as exc:
        if exc.status not in (400, 404, 409):
            raise
        _problem(form, exc, {"start_at": "slot", "practitioner_id": "practitioner", "patient_id": "mrn"})
        return None


@require_POST
@staff_page(MANAGE)
def check_in(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    try:
        appointment = services.appointment_check_in(ctx=_ctx(request), appointment_id=appointment_id)
    except ProblemError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{appointment.reference} is checked in.")
    return redirect(RETURN_TO.get(request.POST.get("back", ""), "scheduling_staff:reception"))


# --- queue and the doctor's day -------------------------------------------------------------------------


@staff_page(MANAGE, CLINICAL)
def queue(request: HttpRequest) -> HttpResponse:
    """The live queue of a day (today unless `day` names another), for the organization, a department or
    a practitioner, with each patient's ticket; it refreshes itself."""
    ctx = _ctx(request)
    department_id = _uuid(request.GET.get("department"))
    practitioner_id = _uuid(request.GET.get("practitioner"))
    day = _date(request.GET.get("day")) or _today(ctx)
    entries = selectors.queue(ctx=ctx, department_id=department_id, practitioner_id=practitioner_id, day=day)
    context = {
        "entries": entries,
        "day": day,
        "is_today": day == _today(ctx),
        "names": dict(_practitioners(ctx)),
        "departments": _departments(ctx),
        "practitioners": _practitioners(ctx),
        "department": str(department_id or ""),
        "practitioner": str(practitioner_id or ""),
        "zone": slots.organization_zone(ctx),
        "updated_at": timezone.now(),
    }
    template = "scheduling/staff/_queue.html" if request.htmx else "scheduling/staff/queue.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@staff_page(CLINICAL)
def my_day(request: HttpRequest) -> HttpResponse:
    """A practitioner's appointments of today, with the buttons to start and complete them."""
    ctx = _ctx(request)
    profile = PractitionerProfile.objects.for_tenant(ctx).filter(user_id=ctx.actor_id, is_active=True).first()
    appointments = []
    if profile is not None:
        appointments = list(selectors.appointment_list(ctx=ctx, practitioner_id=profile.id, on_date=_today(ctx)))
    return render(
        request,
        "scheduling/staff/day.html",
        {
            "profile": profile,
            "appointments": appointments,
            "zone": slots.organization_zone(ctx),
            "today": _today(ctx),
            "waiting": selectors.queue(ctx=ctx, practitioner_id=profile.id) if profile else [],
            # Booked to the department's queue with no practitioner named: any of its doctors may take them.
            "unassigned": (
                selectors.pending_queue(ctx=ctx, department_id=profile.department_id, unassigned_only=True, limit=50)
                if profile and profile.department_id
                else []
            ),
        },
    )


@require_POST
@staff_page(CLINICAL)
def act(request: HttpRequest, appointment_id: uuid.UUID, action: str) -> HttpResponse:
    """Accept an appointment, start or complete a consultation (the status machine decides whether it may)."""
    if action not in ("accept", "start", "complete"):
        raise Http404
    try:
        if action == "accept":
            appointment = services.appointment_accept(ctx=_ctx(request), appointment_id=appointment_id)
        else:
            appointment = services.appointment_transition(
                ctx=_ctx(request), appointment_id=appointment_id, to_status=transitions.ACTIONS[action]
            )
    except ProblemError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{appointment.reference}: {appointment.get_status_display().lower()}.")
    return redirect(RETURN_TO.get(request.POST.get("back", ""), "scheduling_staff:day"))


# --- the appointments list and its export -----------------------------------------------------------------


@staff_page(MANAGE)
def appointment_admin_list(request: HttpRequest) -> HttpResponse:
    """Every appointment, filtered; `export=csv` streams the same rows as a CSV file (audited)."""
    ctx = _ctx(request)
    form = forms.AdminFilterForm(request.GET or None, departments=_departments(ctx), practitioners=_practitioners(ctx))
    if request.GET and not form.is_valid():
        return render(request, "scheduling/staff/appointments.html", {"form": form, "rows": []}, status=400)
    data = form.cleaned_data if request.GET else {}
    appointments = selectors.appointment_list(
        ctx=ctx,
        status=data.get("status", ""),
        department_id=_uuid(data.get("department")),
        practitioner_id=_uuid(data.get("practitioner")),
        priority=data.get("priority", ""),
        from_date=data.get("from_date"),
        to_date=data.get("to_date"),
    )
    names = dict(_practitioners(ctx))
    departments = dict(_departments(ctx))
    if request.GET.get("export") == "csv":
        audit.record(ctx, "scheduling.appointment.export", read=True, **{k: str(v or "") for k, v in data.items()})
        response = StreamingHttpResponse(
            _csv_rows(appointments, names, departments, slots.organization_zone(ctx)), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="appointments.csv"'
        response["Cache-Control"] = "no-store"
        return response
    return render(
        request,
        "scheduling/staff/appointments.html",
        {
            "form": form,
            "rows": list(appointments[:200]),
            "names": names,
            "department_names": departments,
            "zone": slots.organization_zone(ctx),
            "query": request.GET.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(appointments: Any, names: dict[str, str], departments: dict[str, str], zone: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [
            "reference",
            "start",
            "end",
            "status",
            "priority",
            "type",
            "department",
            "practitioner",
            "patient_hpn",
            "patient",
        ]
    )
    for a in appointments.iterator(chunk_size=500):
        yield writer.writerow(
            [
                a.reference,
                a.start_at.astimezone(zone).isoformat(),
                a.end_at.astimezone(zone).isoformat(),
                a.status,
                a.priority,
                a.kind,
                departments.get(str(a.department_id), ""),
                names.get(str(a.practitioner_id), "").split(" — ")[0],
                a.patient.hpn,
                f"{a.patient.given_name} {a.patient.family_name}",
            ]
        )


# --- the patient portal ---------------------------------------------------------------------------------


def _changeable(appointment: Any, now: dt.datetime) -> bool:
    """Whether the patient may still cancel or move it online (the services decide; this hides buttons)."""
    cutoff = appointment.start_at - dt.timedelta(hours=settings.SCHEDULING_CANCEL_CUTOFF_HOURS)
    return appointment.status in (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED) and cutoff > now


@login_required
def my_appointments(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    if my_patient(ctx) is None:
        return redirect("patients:onboarding")
    appointments = selectors.my_appointments(ctx=ctx)
    system = Ctx.system(reason="the names of a patient's hospitals")
    hospitals = {
        i: (name, ZoneInfo(zone))
        for i, name, zone in Organization.objects.for_platform(system)
        .filter(id__in={a.organization_id for a in appointments})
        .values_list("id", "name", "timezone")
    }
    now = timezone.now()
    rows = [
        {
            "a": a,
            "hospital": hospitals[a.organization_id][0] if a.organization_id in hospitals else "",
            "zone": hospitals[a.organization_id][1] if a.organization_id in hospitals else dt.UTC,
            "cancellable": _changeable(a, now),
        }
        for a in appointments
    ]
    return render(request, "scheduling/portal/appointments.html", {"rows": rows})


@login_required
@require_POST
def my_appointment_cancel(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    try:
        services.appointment_cancel_mine(
            ctx=_ctx(request),
            appointment_id=appointment_id,
            reason=request.POST.get("reason", "").strip()[:1000] or "cancelled by the patient",
        )
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        if exc.status != 409:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Your appointment was cancelled.")
    return redirect("scheduling_portal:appointments")


@login_required
def my_appointment_reschedule(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Move one's own appointment to another free time of the same practitioner, or of anyone in its
    department, up to the same cut-off as cancelling (the service enforces both)."""
    ctx = _ctx(request)
    if my_patient(ctx) is None:
        return redirect("patients:onboarding")
    appointment = next((a for a in selectors.my_appointments(ctx=ctx) if a.id == appointment_id), None)
    if appointment is None:
        raise Http404  # SECURITY: someone else's appointment does not exist for this patient
    if not _changeable(appointment, timezone.now()):
        messages.error(
            request,
            "This appointment can no longer be changed online "
            f"(until {settings.SCHEDULING_CANCEL_CUTOFF_HOURS} hours before). Please call the hospital.",
        )
        return redirect("scheduling_portal:appointments")
    data = request.POST if request.method == "POST" else None
    source = data or request.GET
    # SECURITY: a system context reads only what a public timetable shows (names and free times of the
    # appointment's department); the appointment itself was read as the patient's own, above.
    system = Ctx.system(reason="a patient chooses a new time", organization_id=appointment.organization_id)
    names = dict(_practitioners(system, appointment.department_id))
    current = str(appointment.practitioner_id or "")
    choices = [(current, f"{names.get(current, '').split(' — ')[0]} (as now)")] if current in names else []
    choices.append(("", "Anyone in the department"))
    wanted = source.get("practitioner", current)
    practitioner_id = _uuid(wanted) if wanted and wanted == current else None
    today = _today(system)
    free = slots.slots_free(
        ctx=system,
        practitioner_id=practitioner_id,
        department_id=None if practitioner_id else appointment.department_id,
        start_date=today,
        end_date=today + dt.timedelta(days=13),
    )
    url = reverse("scheduling_portal:reschedule", args=[appointment.id])
    form = forms.RescheduleForm(
        data,
        initial={"practitioner": wanted},
        practitioners=choices,
        slots=_slot_choices(free, slots.organization_zone(system), None if practitioner_id else names),
        url=url,
    )
    refresh = bool(data and data.get("refresh"))
    if data is not None and not refresh and form.is_valid():
        moved = _portal_reschedule(ctx, form, appointment.id)
        if moved is not None:
            messages.success(
                request,
                f"Your appointment is moved to {moved.start_at.astimezone(slots.organization_zone(system)):%A %d %B, %H:%M} "
                f"({moved.reference}).",
            )
            return redirect("scheduling_portal:appointments")
    if refresh:
        form.errors.clear()
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    template = "scheduling/portal/_reschedule_form.html" if htmx else "scheduling/portal/reschedule.html"
    return render(
        request,
        template,
        {"form": form, "appointment": appointment, "url": url, "zone": slots.organization_zone(system)},
        status=400 if form.errors and not htmx else 200,
    )


def _portal_reschedule(ctx: Ctx, form: forms.RescheduleForm, appointment_id: uuid.UUID) -> Any:
    slot = _parse_slot(form.cleaned_data.get("slot") or "")
    if slot is None:
        form.add_error("slot", "choose a time")
        return None
    try:
        return services.appointment_reschedule(
            ctx=ctx,
            appointment_id=appointment_id,
            new_start=slot[1],
            practitioner_id=slot[0],
            reason="moved by the patient",
            as_patient=True,
        )
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        if exc.status not in (400, 403, 409):
            raise
        _problem(form, exc, {"start_at": "slot", "practitioner_id": "practitioner", "department_id": "practitioner"})
        return None


@login_required
def my_appointment_book(request: HttpRequest) -> HttpResponse:
    """Choose a hospital, a department, a practitioner or the first available, then a time."""
    ctx = _ctx(request)
    if my_patient(ctx) is None:
        return redirect("patients:onboarding")
    data = request.POST if request.method == "POST" else None
    hospitals = [(str(o.id), o.name) for r, o in my_registrations(ctx=ctx) if r.status == RegistrationStatus.APPROVED]
    source = data or request.GET
    hospital_id = _uuid(source.get("hospital")) if source.get("hospital") in dict(hospitals) else None
    departments: list[tuple[str, str]] = []
    practitioners: list[tuple[str, str]] = []
    free: list[slots.Slot] = []
    department_id = practitioner_id = None
    names: dict[str, str] = {}
    zone = None
    if hospital_id:
        # SECURITY: a system context reads only what a public timetable shows: departments, names and
        # free times of one hospital where the patient is registered; never another patient's data.
        system = Ctx.system(reason="a patient chooses a time to book", organization_id=hospital_id)
        departments = _departments(system)
        department_id = _uuid(source.get("department")) if source.get("department") in dict(departments) else None
        if department_id:
            practitioners = _practitioners(system, department_id)
            names = dict(practitioners)
            practitioner_id = _uuid(source.get("practitioner")) if source.get("practitioner") in names else None
            zone = slots.organization_zone(system)
            today = _today(system)
            free = slots.slots_free(
                ctx=system,
                practitioner_id=practitioner_id,
                department_id=None if practitioner_id else department_id,
                start_date=today,
                end_date=today + dt.timedelta(days=13),
            )
    form = forms.PortalBookingForm(
        data,
        initial={k: source.get(k, "") for k in ("hospital", "department", "practitioner")},
        hospitals=hospitals,
        departments=departments,
        practitioners=practitioners,
        slots=_slot_choices(free, zone, names) if zone else [],
    )
    refresh = bool(data and data.get("refresh"))
    if data is not None and not refresh and form.is_valid():
        appointment = _portal_book(ctx, form, hospital_id, department_id)
        if appointment is not None:
            messages.success(
                request, f"Your appointment {appointment.reference} is booked; the hospital will confirm it."
            )
            return redirect("scheduling_portal:appointments")
    if refresh:
        form.errors.clear()
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    template = "scheduling/portal/_book_form.html" if htmx else "scheduling/portal/book.html"
    return render(
        request,
        template,
        {"form": form, "has_hospital": bool(hospitals)},
        status=400 if form.errors and not htmx else 200,
    )


def _portal_book(
    ctx: Ctx, form: forms.PortalBookingForm, hospital_id: uuid.UUID | None, department_id: uuid.UUID | None
) -> Any:
    data = form.cleaned_data
    slot = _parse_slot(data.get("slot") or "")
    if hospital_id is None or department_id is None:
        form.add_error("department", "choose a department")
        return None
    if slot is None:
        form.add_error("slot", "choose a time")
        return None
    try:
        return services.appointment_book_by_patient(
            ctx=ctx,
            organization_id=hospital_id,
            practitioner_id=slot[0],
            department_id=department_id,
            start_at=slot[1],
            chief_complaint=data["chief_complaint"],
        )
    except ProblemError as exc:
        if exc.status not in (400, 404, 409):
            raise
        _problem(form, exc, {"start_at": "slot", "practitioner_id": "practitioner", "department_id": "department"})
        return None
