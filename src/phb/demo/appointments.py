"""Demo appointments: the demo doctors' weekly availability (weekdays 08:00-16:00, 20-minute slots,
inside their organization's opening hours) and about 2,000 appointments over the weeks around today
(none on a public holiday), in every status, each with the history of its status changes. Written in bulk (the booking service would take minutes); the rules still hold: one
appointment per slot, registered patients only, one appointment per patient, specialty and day, and
every status reached through the transitions the status machine allows."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from phb.accounts.models import User
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.organizations.models import Department
from phb.organizations.public import holiday_list
from phb.patients.models import PatientRegistration, RegistrationStatus
from phb.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    Priority,
    new_appointment_reference,
)
from phb.workforce import services as workforce_services
from phb.workforce.models import PractitionerProfile, WeeklyAvailability

S = AppointmentStatus


@dataclass(frozen=True)
class DemoPractitioner:
    email: str
    organization_code: str
    department_kind: str
    specialization: str
    licence_number: str
    fee: str


PRACTITIONERS = [
    DemoPractitioner(
        "doctor@unity.demo.phb.example",
        "unity-teaching",
        "internal_medicine",
        "internal medicine",
        "MDCN-DEMO-0001",
        "15000.00",
    ),
    DemoPractitioner(
        "surgeon@unity.demo.phb.example", "unity-teaching", "surgery", "general surgery", "MDCN-DEMO-0002", "25000.00"
    ),
    DemoPractitioner(
        "doctor@harmony.demo.phb.example",
        "harmony-clinic",
        "outpatients",
        "family medicine",
        "MDCN-DEMO-0003",
        "8000.00",
    ),
]
STARTS_AT, ENDS_AT, SLOT_MINUTES = dt.time(8, 0), dt.time(16, 0), 20
SLOTS_PER_DAY = 24
DAYS_BACK = 35  # calendar days of history
DAYS_AHEAD = 21
FILL = 0.72  # share of slots booked
COMPLAINTS = [
    "headache for three days",
    "follow-up of blood pressure",
    "cough and fever",
    "abdominal pain",
    "review of test results",
    "back pain after a fall",
    "dizziness when standing",
    "rash on the arms",
    "knee swelling",
    "routine check",
]
# Where each final status comes from: the path of statuses after booking (all allowed moves).
PATHS = {
    S.PENDING: [S.PENDING],
    S.CONFIRMED: [S.PENDING, S.CONFIRMED],
    S.CHECKED_IN: [S.PENDING, S.CONFIRMED, S.CHECKED_IN],
    S.IN_PROGRESS: [S.PENDING, S.CONFIRMED, S.CHECKED_IN, S.IN_PROGRESS],
    S.COMPLETED: [S.PENDING, S.CONFIRMED, S.CHECKED_IN, S.IN_PROGRESS, S.COMPLETED],
    S.REFERRED: [S.PENDING, S.CONFIRMED, S.CHECKED_IN, S.IN_PROGRESS, S.REFERRED],
    S.CANCELLED: [S.PENDING, S.CONFIRMED, S.CANCELLED],
    S.REJECTED: [S.PENDING, S.REJECTED],
    S.NO_SHOW: [S.PENDING, S.CONFIRMED, S.NO_SHOW],
    S.RESCHEDULED: [S.PENDING, S.CONFIRMED, S.RESCHEDULED],
}
REASONS = {
    S.CANCELLED: "the patient cannot come",
    S.REJECTED: "not seen in this department",
    S.RESCHEDULED: "the doctor is away that day",
    S.REFERRED: "needs a specialist opinion",
}
PAST = [(S.COMPLETED, 70), (S.NO_SHOW, 8), (S.CANCELLED, 9), (S.REFERRED, 4), (S.REJECTED, 3), (S.RESCHEDULED, 6)]
FUTURE = [(S.CONFIRMED, 55), (S.PENDING, 35), (S.CANCELLED, 7), (S.RESCHEDULED, 3)]
PRIORITIES = [(Priority.NORMAL, 85), (Priority.URGENT, 12), (Priority.EMERGENCY, 3)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def seed_appointments(ctx: Ctx, organizations: dict[str, Organization], *, target: int) -> int:
    """Profiles and availability for the demo doctors, then about `target` appointments (once: a
    second run finds them and adds nothing). Returns how many appointments were made."""
    rng = random.Random(2026)
    made = 0
    with transaction.atomic():
        profiles = [_profile(ctx, spec, organizations[spec.organization_code]) for spec in PRACTITIONERS]
        per_profile = max(target // len(profiles), 1)
        for spec, profile in zip(PRACTITIONERS, profiles, strict=True):
            org_ctx = ctx.for_organization(profile.organization_id)
            if Appointment.objects.for_tenant(org_ctx).filter(practitioner=profile).exists():
                continue
            made += _appointments(org_ctx, organizations[spec.organization_code], profile, per_profile, rng)
    return made


def _profile(ctx: Ctx, spec: DemoPractitioner, organization: Organization) -> PractitionerProfile:
    org_ctx = ctx.for_organization(organization.id)
    user = User.objects.get(email=spec.email)
    profile = PractitionerProfile.objects.for_tenant(org_ctx).filter(user=user).first()
    if profile is None:
        department = Department.objects.for_tenant(org_ctx).get(kind=spec.department_kind)
        profile = workforce_services.practitioner_profile_create(
            ctx=org_ctx,
            user_id=user.id,
            department_id=department.id,
            specialization=spec.specialization,
            licence_number=spec.licence_number,
            consultation_fee=spec.fee,
            languages=["en"],
        )
    if not WeeklyAvailability.objects.for_tenant(org_ctx).filter(practitioner=profile).exists():
        for weekday in range(5):
            workforce_services.availability_add(
                ctx=org_ctx,
                practitioner_id=profile.id,
                weekday=weekday,
                starts_at=STARTS_AT,
                ends_at=ENDS_AT,
                slot_minutes=SLOT_MINUTES,
                max_daily_appointments=SLOTS_PER_DAY,
            )
    return profile


def _appointments(
    ctx: Ctx, organization: Organization, profile: PractitionerProfile, target: int, rng: random.Random
) -> int:
    zone = ZoneInfo(organization.timezone)
    now = timezone.now()
    today = now.astimezone(zone).date()
    patients = sorted(
        PatientRegistration.objects.for_tenant(ctx)
        .filter(status=RegistrationStatus.APPROVED, patient__merged_into__isnull=True)
        .values_list("patient_id", flat=True)
    )
    if not patients:
        return 0
    first, last = today - dt.timedelta(days=DAYS_BACK), today + dt.timedelta(days=DAYS_AHEAD)
    # No appointment on a public holiday: the organization is closed.
    holidays = set(holiday_list(ctx=ctx, from_date=first, to_date=last).values_list("observed_on", flat=True))
    days = [
        first + dt.timedelta(days=d)
        for d in range((last - first).days + 1)
        if (first + dt.timedelta(days=d)).weekday() < 5 and first + dt.timedelta(days=d) not in holidays
    ]
    fill = min(target / max(len(days) * SLOTS_PER_DAY, 1), 1.0)
    references = set(Appointment.objects.for_tenant(ctx).values_list("reference", flat=True))
    appointments: list[Appointment] = []
    history: list[AppointmentTransition] = []
    for day in days:
        starts = [
            dt.datetime.combine(day, STARTS_AT, tzinfo=zone) + dt.timedelta(minutes=SLOT_MINUTES * i)
            for i in range(SLOTS_PER_DAY)
        ]
        chosen = sorted(rng.sample(starts, k=min(round(fill * SLOTS_PER_DAY), len(starts))))
        # One appointment per patient, specialty and day: each day's patients are distinct.
        people = rng.sample(patients, k=min(len(chosen), len(patients)))
        someone_in_progress = False
        for start_at, patient_id in zip(chosen, people, strict=False):
            end_at = start_at + dt.timedelta(minutes=SLOT_MINUTES)
            if end_at <= now - dt.timedelta(hours=1):
                status = _pick(rng, PAST)
            elif start_at > now + dt.timedelta(minutes=30):
                status = _pick(rng, FUTURE)
            elif not someone_in_progress and start_at <= now:
                status, someone_in_progress = S.IN_PROGRESS, True
            else:
                status = S.CHECKED_IN
            reference = new_appointment_reference()
            while reference in references:
                reference = new_appointment_reference()
            references.add(reference)
            appointment = Appointment(
                organization_id=organization.id,
                reference=reference,
                patient_id=patient_id,
                practitioner=profile,
                department_id=profile.department_id,
                specialization=profile.specialization,
                start_at=start_at,
                end_at=end_at,
                priority=_pick(rng, PRIORITIES),
                status=status,
                chief_complaint=rng.choice(COMPLAINTS),
                fee=profile.consultation_fee,
            )
            appointments.append(appointment)
            history += _history(appointment, now, rng)
    Appointment.objects.for_tenant(ctx).bulk_create(appointments, batch_size=500)
    AppointmentTransition.objects.for_tenant(ctx).bulk_create(history, batch_size=1000)
    return len(appointments)


def _history(appointment: Appointment, now: dt.datetime, rng: random.Random) -> list[AppointmentTransition]:
    """The status changes that led to the appointment's status, at plausible times, none in the future."""
    start = appointment.start_at
    booked = start - dt.timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 600))
    seen = start + dt.timedelta(minutes=rng.randint(0, 25))
    times = {
        S.PENDING: booked,
        S.CONFIRMED: booked + dt.timedelta(hours=rng.randint(1, 20)),
        S.CHECKED_IN: start - dt.timedelta(minutes=rng.randint(5, 30)),
        S.IN_PROGRESS: seen,
        S.COMPLETED: seen + dt.timedelta(minutes=rng.randint(8, 30)),
        S.REFERRED: seen + dt.timedelta(minutes=rng.randint(10, 30)),
        S.NO_SHOW: start + dt.timedelta(minutes=45),
        S.CANCELLED: start - dt.timedelta(hours=rng.randint(2, 20)),
        S.REJECTED: booked + dt.timedelta(hours=rng.randint(1, 20)),
        S.RESCHEDULED: start - dt.timedelta(hours=rng.randint(2, 20)),
    }
    path = PATHS[S(appointment.status)]
    rows = []
    previous = ""
    last = booked
    for status in path:
        at = min(max(times[status], last), now)
        rows.append(
            AppointmentTransition(
                organization_id=appointment.organization_id,
                appointment_id=appointment.id,
                from_status=previous,
                to_status=status,
                at=at,
                reason=REASONS.get(status, ""),
            )
        )
        previous, last = status, at
    return rows
