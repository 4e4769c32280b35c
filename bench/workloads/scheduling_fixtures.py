"""The 1,000,000 appointments the scheduling workloads share (`appointment_day_list`, `free_slots`,
`booking_throughput`, `slot_contention`).

At the patient workloads' own organization (`patient_fixtures`, whose 80,000 registered patients are the
appointments' patients): 200 doctors in 4 departments, each seeing patients Monday to Friday 08:00-16:00
in 15-minute slots (32 a day), and 1,000,000 appointments over the 104 weeks from Monday 5 January 2026:
about 9.6 of the 32 slots of each doctor's day, in every status (the demo's mix, with the same paths of
status changes, `phb.demo.appointments`), each with its history. Written once with COPY (the booking
service would take hours); the rules still hold: one appointment per doctor and start, a day's patients
all different. The encrypted text fields hold one ciphertext per distinct value, encrypted once (the
ring is the bench's fixed one). Bookings made by the workloads go after the fixture's last day, from
`BOOKING_FROM`, and are deleted before and after each workload that makes them.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import time
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bench.workloads import patient_fixtures

PRACTITIONERS = 200
DEPARTMENTS = (("cardiology", "bench-cardiology"), ("paediatrics", "bench-paediatrics"), ("surgery", "bench-surgery"))
DEPARTMENTS += (("outpatients", "bench-outpatients"),)
APPOINTMENTS = 1_000_000
FIRST_DAY = dt.date(2026, 1, 5)  # a Monday
WEEKS = 104
STARTS_AT, ENDS_AT, SLOT_MINUTES = dt.time(8, 0), dt.time(16, 0), 15
SLOTS_PER_DAY = 32
BOOKING_FROM = FIRST_DAY + dt.timedelta(weeks=WEEKS)  # the workloads book from here on
SEED = 20261201
CHUNK_DAYS = 20
EMAIL = "bench-doctor-{:03d}@scheduling.bench.phb.example"
DESK_EMAIL = "bench-desk@scheduling.bench.phb.example"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class Fixture:
    organization_id: uuid.UUID
    zone: ZoneInfo
    desk_user_id: uuid.UUID
    department_ids: list[uuid.UUID]
    practitioner_ids: list[uuid.UUID]  # by number; practitioner i works in department i % 4
    patient_ids: list[uuid.UUID]  # registered (approved) at the organization
    days: list[dt.date]  # the fixture's working days

    def ctx(self, *roles: str) -> object:
        from phb.accounts.roles import permissions_for
        from phb.kernel.context import Ctx

        return Ctx(
            actor_id=self.desk_user_id,
            organization_id=self.organization_id,
            roles=frozenset(roles or ("receptionist",)),
            permissions=permissions_for(list(roles or ("receptionist",))),
            ip="127.0.0.1",
        )


def reference(n: int) -> str:
    """`APT-` and `n` in 8 Crockford base-32 digits: distinct for every n below 32^8."""
    digits = []
    for _ in range(8):
        n, r = divmod(n, 32)
        digits.append(_CROCKFORD[r])
    return "APT-" + "".join(reversed(digits))


def working_days() -> list[dt.date]:
    days = (FIRST_DAY + dt.timedelta(days=d) for d in range(WEEKS * 7))
    return [d for d in days if d.weekday() < 5]


@functools.cache
def ensure_appointments(dsn: str) -> Fixture:
    """Staff, departments, availability and appointments, each created when missing."""
    from phb.scheduling.models import Appointment

    patients = patient_fixtures.ensure_patients()
    fixture = _ensure_staff(patients.home)
    present = Appointment.objects.for_system(_system()).filter(
        organization_id=fixture.organization_id,
        practitioner_id__in=fixture.practitioner_ids,
        start_at__lt=dt.datetime.combine(BOOKING_FROM, dt.time.min, tzinfo=fixture.zone),
    )
    count = present.count()
    if count == 0:
        started = time.perf_counter()
        _copy(dsn, fixture)
        print(f"scheduling fixture: {APPOINTMENTS:,} appointments in {time.perf_counter() - started:.0f} s", flush=True)
    elif count != APPOINTMENTS:
        raise RuntimeError(f"{count} bench appointments instead of {APPOINTMENTS}: drop the bench database")
    return fixture


def _system() -> object:
    from phb.kernel.context import Ctx

    return Ctx.system(reason="bench fixtures")


def _ensure_staff(organization_id: uuid.UUID) -> Fixture:
    from django.db import transaction

    from phb.accounts.models import Membership, User
    from phb.kernel.models import Organization
    from phb.organizations.models import Department
    from phb.patients.models import PatientRegistration, RegistrationStatus
    from phb.workforce.models import PractitionerProfile, WeeklyAvailability

    system = _system()
    emails = [EMAIL.format(i) for i in range(PRACTITIONERS)]
    with transaction.atomic():
        known = set(User.objects.filter(email__in=[*emails, DESK_EMAIL]).values_list("email", flat=True))
        User.objects.bulk_create(
            [
                User(email=email, full_name=f"Bench Doctor {i:03d}" if email != DESK_EMAIL else "Bench Desk")
                for i, email in enumerate([*emails, DESK_EMAIL])
                if email not in known
            ]
        )
        users = dict(User.objects.filter(email__in=[*emails, DESK_EMAIL]).values_list("email", "id"))
        departments = Department.objects.for_system(system)
        codes = {code for _, code in DEPARTMENTS}
        have = set(departments.filter(organization_id=organization_id, code__in=codes).values_list("code", flat=True))
        departments.bulk_create(
            [
                Department(organization_id=organization_id, name=f"Bench {kind}", kind=kind, code=code)
                for kind, code in DEPARTMENTS
                if code not in have
            ]
        )
        by_code = dict(departments.filter(organization_id=organization_id, code__in=codes).values_list("code", "id"))
        department_ids = [by_code[code] for _, code in DEPARTMENTS]
        memberships = Membership.objects.for_system(system)
        members = set(memberships.filter(organization_id=organization_id).values_list("user_id", flat=True))
        memberships.bulk_create(
            [
                Membership(
                    organization_id=organization_id,
                    user_id=users[email],
                    roles=["receptionist"] if email == DESK_EMAIL else ["doctor"],
                    department_id=None if email == DESK_EMAIL else department_ids[i % len(DEPARTMENTS)],
                )
                for i, email in enumerate([*emails, DESK_EMAIL])
                if users[email] not in members
            ]
        )
        membership_of = dict(
            memberships.filter(organization_id=organization_id, user_id__in=[users[e] for e in emails]).values_list(
                "user_id", "id"
            )
        )
        profiles = PractitionerProfile.objects.for_system(system)
        with_profile = set(profiles.filter(organization_id=organization_id).values_list("user_id", flat=True))
        profiles.bulk_create(
            [
                PractitionerProfile(
                    organization_id=organization_id,
                    membership_id=membership_of[users[email]],
                    user_id=users[email],
                    department_id=department_ids[i % len(DEPARTMENTS)],
                    specialization=DEPARTMENTS[i % len(DEPARTMENTS)][0],
                    licence_number=f"MDCN-BENCH-{i:03d}",
                    consultation_fee="5000.00",
                    languages=["en"],
                )
                for i, email in enumerate(emails)
                if users[email] not in with_profile
            ]
        )
        profile_of = dict(
            profiles.filter(organization_id=organization_id, user_id__in=[users[e] for e in emails]).values_list(
                "user_id", "id"
            )
        )
        practitioner_ids = [profile_of[users[email]] for email in emails]
        windows = WeeklyAvailability.objects.for_system(system)
        with_windows = set(
            windows.filter(practitioner_id__in=practitioner_ids).values_list("practitioner_id", flat=True)
        )
        windows.bulk_create(
            [
                WeeklyAvailability(
                    organization_id=organization_id,
                    practitioner_id=pid,
                    weekday=weekday,
                    starts_at=STARTS_AT,
                    ends_at=ENDS_AT,
                    slot_minutes=SLOT_MINUTES,
                    max_daily_appointments=SLOTS_PER_DAY,
                )
                for pid in practitioner_ids
                if pid not in with_windows
                for weekday in range(5)
            ]
        )
    zone = ZoneInfo(
        Organization.objects.for_platform(system).values_list("timezone", flat=True).get(id=organization_id)
    )
    patient_ids = sorted(
        PatientRegistration.objects.for_system(system)
        .filter(organization_id=organization_id, status=RegistrationStatus.APPROVED)
        .values_list("patient_id", flat=True)
    )
    return Fixture(
        organization_id=organization_id,
        zone=zone,
        desk_user_id=users[DESK_EMAIL],
        department_ids=department_ids,
        practitioner_ids=practitioner_ids,
        patient_ids=patient_ids,
        days=working_days(),
    )


def _copy(dsn: str, fixture: Fixture) -> None:
    """COPY the appointments and their histories, day by day, in one transaction."""
    import psycopg
    from django.utils import timezone

    from phb.demo.appointments import COMPLAINTS, FUTURE, PAST, PATHS, PRIORITIES, REASONS
    from phb.kernel.ids import uuid7
    from phb.scheduling.models import Appointment

    def sealed(field: str, value: str) -> str:
        return Appointment._meta.get_field(field).get_prep_value(value)

    empty_notes, empty_url = sealed("notes", ""), sealed("meeting_url", "")
    complaints = [sealed("chief_complaint", c) for c in COMPLAINTS]
    rng = random.Random(SEED)
    now = timezone.now()
    org = fixture.organization_id
    step = dt.timedelta(minutes=SLOT_MINUTES)
    per_day = APPOINTMENTS / (len(fixture.days) * PRACTITIONERS)
    slot_starts = range(SLOTS_PER_DAY)
    n = 0  # appointments written so far
    cell = 0  # practitioner-days seen so far
    patient = 0  # position in the rotation of patients: a day's ~1,900 patients are all different
    patients = fixture.patient_ids
    statuses = {kind: ([s for s, _ in weights], [w for _, w in weights]) for kind, weights in (("past", PAST),)}
    statuses["future"] = ([s for s, _ in FUTURE], [w for _, w in FUTURE])
    priorities = ([p for p, _ in PRIORITIES], [w for _, w in PRIORITIES])
    appointment_columns = (
        "id, created_at, updated_at, organization_id, reference, patient_id, practitioner_id, department_id, "
        "specialization, start_at, end_at, kind, priority, status, chief_complaint, symptoms, notes, fee, "
        "booked_by_id, rescheduled_to_id, referred_from_id, meeting_url"
    )
    transition_columns = (
        "id, created_at, updated_at, organization_id, appointment_id, from_status, to_status, actor_id, at, reason"
    )
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for chunk in range(0, len(fixture.days), CHUNK_DAYS):  # a month's histories at a time in memory
            history: list[tuple] = []
            with cur.copy(f"COPY scheduling_appointment ({appointment_columns}) FROM STDIN") as appointments_copy:
                for day in fixture.days[chunk : chunk + CHUNK_DAYS]:
                    opens = dt.datetime.combine(day, STARTS_AT, tzinfo=fixture.zone)
                    for i, pid in enumerate(fixture.practitioner_ids):
                        cell += 1
                        k = round(cell * per_day) - n
                        department = fixture.department_ids[i % len(DEPARTMENTS)]
                        specialization = DEPARTMENTS[i % len(DEPARTMENTS)][0]
                        for slot in sorted(rng.sample(slot_starts, k)):
                            start_at = opens + slot * step
                            kind = "past" if start_at + step <= now else "future"
                            status = rng.choices(*statuses[kind])[0]
                            booked_at = start_at - dt.timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 600))
                            appointment_id = uuid7()
                            appointments_copy.write_row(
                                (
                                    appointment_id, booked_at, booked_at, org, reference(n),
                                    patients[patient % len(patients)], pid, department, specialization, start_at,
                                    start_at + step, "in_person", rng.choices(*priorities)[0], status,
                                    complaints[n % len(complaints)], None, empty_notes, "5000.00",
                                    fixture.desk_user_id, None, None, empty_url,
                                )
                            )  # fmt: skip
                            history += _history(appointment_id, status, booked_at, start_at, now, PATHS, REASONS)
                            n += 1
                            patient += 1
            with cur.copy(f"COPY scheduling_appointmenttransition ({transition_columns}) FROM STDIN") as copy:
                for appointment_id, from_status, to_status, at, reason in history:
                    copy.write_row((uuid7(), at, at, org, appointment_id, from_status, to_status, None, at, reason))
        conn.commit()
        cur.execute("ANALYZE scheduling_appointment")
        cur.execute("ANALYZE scheduling_appointmenttransition")
        conn.commit()
    if n != APPOINTMENTS:
        raise RuntimeError(f"wrote {n} appointments instead of {APPOINTMENTS}")


def _history(
    appointment_id: uuid.UUID,
    status: str,
    booked_at: dt.datetime,
    start_at: dt.datetime,
    now: dt.datetime,
    paths: dict,
    reasons: dict,
) -> list[tuple]:
    """The status changes that led to `status`, at fixed offsets from the booking and the start."""
    times = {
        "pending": booked_at,
        "confirmed": booked_at + dt.timedelta(hours=6),
        "checked_in": start_at - dt.timedelta(minutes=15),
        "in_progress": start_at + dt.timedelta(minutes=5),
        "completed": start_at + dt.timedelta(minutes=20),
        "referred": start_at + dt.timedelta(minutes=20),
        "no_show": start_at + dt.timedelta(minutes=45),
        "cancelled": start_at - dt.timedelta(hours=8),
        "rejected": booked_at + dt.timedelta(hours=6),
        "rescheduled": start_at - dt.timedelta(hours=8),
    }
    rows, previous, last = [], "", booked_at
    for step in paths[status]:
        at = min(max(times[step], last), now)
        rows.append((appointment_id, previous, str(step), at, reasons.get(step, "")))
        previous, last = str(step), at
    return rows


def delete_bookings(dsn: str, fixture: Fixture) -> None:
    """Remove what the workloads booked (from `BOOKING_FROM` on) with its history and reminders."""
    import psycopg

    since = dt.datetime.combine(BOOKING_FROM, dt.time.min, tzinfo=fixture.zone)
    booked = (
        "SELECT id FROM scheduling_appointment WHERE organization_id = %(org)s "
        "AND practitioner_id = ANY(%(ids)s) AND start_at >= %(since)s"
    )
    args = {"org": fixture.organization_id, "ids": fixture.practitioner_ids, "since": since}
    with psycopg.connect(dsn) as conn:
        for table in (
            "scheduling_appointmenttransition",
            "scheduling_appointmentreminder",
            "scheduling_idempotencykey",
        ):
            conn.execute(f"DELETE FROM {table} WHERE appointment_id IN ({booked})", args)
        conn.execute(
            "DELETE FROM scheduling_appointment WHERE organization_id = %(org)s "
            "AND practitioner_id = ANY(%(ids)s) AND start_at >= %(since)s",
            args,
        )


def booking_slots(fixture: Fixture, *, first_day: dt.date, days: int) -> list[tuple[uuid.UUID, dt.datetime]]:
    """Every slot of every doctor on the working days from `first_day`, by time, then by doctor: slots
    next to each other are different doctors'."""
    out = []
    day = first_day
    seen = 0
    while seen < days:
        if day.weekday() < 5:
            opens = dt.datetime.combine(day, STARTS_AT, tzinfo=fixture.zone)
            for slot in range(SLOTS_PER_DAY):
                out += [(pid, opens + dt.timedelta(minutes=SLOT_MINUTES * slot)) for pid in fixture.practitioner_ids]
            seen += 1
        day += dt.timedelta(days=1)
    return out
