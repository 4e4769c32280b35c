import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from phb.accounts.models import Membership, User
from phb.demo import clinical as demo_clinical
from phb.demo import seed
from phb.demo.seed import DEMO_PASSWORD, NEAR_DUPLICATES, PATIENTS, USERS, seed_demo
from phb.kernel import tenancy
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.organizations.models import Department, OpeningHours, PublicHoliday
from phb.organizations.services import STANDARD_DEPARTMENTS, departments_ensure_standard
from phb.patients.models import DuplicateCandidate, Patient, PatientRegistration
from phb.scheduling import transitions
from phb.scheduling.models import OCCUPYING, Appointment, AppointmentStatus, AppointmentTransition
from phb.workforce.models import WeeklyAvailability

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture(autouse=True)
def small_population(request, monkeypatch):
    """Most tests here need the seed's organizations and people, not all two hundred of its patients."""
    if "full_population" not in request.keywords:
        monkeypatch.setattr(seed, "DEMO_POPULATION", 24)
        monkeypatch.setattr(seed, "DEMO_APPOINTMENTS", 90)


@pytest.mark.full_population
def test_the_demo_has_about_two_hundred_patients_over_both_facilities_with_some_at_both():
    seed_demo()
    system = Ctx.system(reason="test")
    by_code = {o.code: o.id for o in Organization.objects.for_platform(system)}
    registered = {
        code: set(
            PatientRegistration.objects.for_tenant(system.for_organization(by_code[code])).values_list(
                "patient_id", flat=True
            )
        )
        for code in ("unity-teaching", "harmony-clinic")
    }
    assert Patient.objects.count() >= 200
    assert len(registered["harmony-clinic"]) >= 50
    assert len(registered["unity-teaching"] & registered["harmony-clinic"]) >= 20
    queue = DuplicateCandidate.objects.for_tenant(system.for_organization(by_code["unity-teaching"]))
    assert queue.filter(status="open").exists()  # near-duplicates waiting for review
    appointments = Appointment.objects.for_system(system)
    assert 1800 <= appointments.count() <= 2200
    assert set(appointments.values_list("status", flat=True)) >= set(AppointmentStatus.values) - {
        "checked_in",
        "in_progress",
    }  # those two only while the demo doctors are at work today


def test_seed_creates_a_network_with_a_hospital_and_a_clinic_and_their_departments():
    made = seed_demo()
    assert made["organizations"] == 3
    orgs = {o.code: o for o in Organization.objects.for_platform(SYSTEM)}
    network = orgs["lagoon-health"]
    assert network.kind == "network"
    for code, kind in (("unity-teaching", "hospital"), ("harmony-clinic", "clinic")):
        assert orgs[code].kind == kind
        assert orgs[code].parent_id == network.id
        kinds = set(
            Department.objects.for_tenant(SYSTEM.for_organization(orgs[code].id)).values_list("kind", flat=True)
        )
        assert kinds == {k.value for k in STANDARD_DEPARTMENTS}
        assert len(kinds) == 12
    assert User.objects.filter(is_platform_operator=True).exists()
    assert Membership.objects.for_system(SYSTEM).count() == made["memberships"] > 0


def test_seed_is_idempotent():
    seed_demo()
    counts = (
        Organization.objects.for_platform(SYSTEM).count(),
        Department.objects.for_system(SYSTEM).count(),
        User.objects.count(),
        Membership.objects.for_system(SYSTEM).count(),
    )
    assert set(seed_demo().values()) == {0}
    call_command("seed_demo")
    assert counts == (
        Organization.objects.for_platform(SYSTEM).count(),
        Department.objects.for_system(SYSTEM).count(),
        User.objects.count(),
        Membership.objects.for_system(SYSTEM).count(),
    )


def test_demo_staff_sign_in_with_the_printed_authenticator_code(client, capsys):
    seed_demo()
    call_command("demo_code", "doctor@unity.demo.phb.example")
    code = capsys.readouterr().out.strip()
    from phb.demo.seed import DEMO_PASSWORD

    first = client.post("/accounts/sign-in/", {"email": "doctor@unity.demo.phb.example", "password": DEMO_PASSWORD})
    assert first["Location"] == "/accounts/mfa/"
    assert client.post("/accounts/mfa/", {"code": code}).status_code == 302
    assert client.get("/api/v1/auth/me/").json()["roles"] == ["doctor"]


def test_demo_patients_sign_in_without_a_second_factor(client):
    from phb.demo.seed import DEMO_PASSWORD, PATIENTS

    seed_demo()
    response = client.post("/accounts/sign-in/", {"email": PATIENTS[0][0], "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_demo_patients_have_records_registered_at_the_hospital(client):
    from phb.demo.seed import DEMO_PASSWORD, PATIENTS
    from phb.patients.models import Patient, PatientRegistration

    seed_demo()
    patient = Patient.objects.get(user__email=PATIENTS[0][0])
    unity = Organization.objects.for_platform(SYSTEM).get(code="unity-teaching")
    assert (
        PatientRegistration.objects.for_tenant(SYSTEM.for_organization(unity.id))
        .filter(patient=patient, status="approved")
        .exists()
    )
    client.post("/accounts/sign-in/", {"email": PATIENTS[0][0], "password": DEMO_PASSWORD})
    assert b"Health Point Number" in client.get("/patient/", follow=True).content


# --- further cases --------------------------------------------------------------------------------------
def row_counts() -> dict[str, int]:
    """Rows in every table, counted in SQL across all tenants (what a second run must leave alone)."""
    tables = sorted(
        {m._meta.db_table for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy}
    )
    counts = {}
    with tenancy.bound(organization_id=None, all_tenants=True), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def test_the_first_run_reports_what_it_made():
    made = seed_demo()
    assert made == {
        "organizations": 3,
        "departments": 2 * 12,  # the hospital's and the clinic's; a network has none
        "users": len(USERS),
        "memberships": sum(1 for u in USERS if u.organization_code),
        "patients": Patient.objects.count(),
        "appointments": Appointment.objects.for_system(SYSTEM).count(),
        "holidays": PublicHoliday.objects.for_system(SYSTEM).count(),
        "encounters": len(PATIENTS) * len(demo_clinical.VISITS),
        "prescriptions": 2 * len(PATIENTS) + 1,  # the first patient's aspirin too
    }
    # The demo's people, and a few of them recorded a second time, waiting in the duplicates queue.
    assert (
        len(PATIENTS) + seed.DEMO_POPULATION
        < made["patients"]
        <= len(PATIENTS) + seed.DEMO_POPULATION + NEAR_DUPLICATES
    )


def test_the_network_holds_the_hospital_and_the_clinic_and_has_no_departments_of_its_own():
    seed_demo()
    orgs = {o.code: o for o in Organization.objects.for_platform(SYSTEM)}
    assert set(orgs) == {"lagoon-health", "unity-teaching", "harmony-clinic"}
    network = orgs["lagoon-health"]
    assert network.parent_id is None
    assert {o.code for o in orgs.values() if o.parent_id == network.id} == {"unity-teaching", "harmony-clinic"}
    assert not Department.objects.for_tenant(SYSTEM.for_organization(network.id)).exists()
    assert {o.registration_number[:4] for o in orgs.values()} == {"NET-", "HSP-", "CLN-"}


@pytest.mark.parametrize("code", ["unity-teaching", "harmony-clinic"])
def test_each_facility_has_the_twelve_standard_departments(code):
    seed_demo()
    organization = Organization.objects.for_platform(SYSTEM).get(code=code)
    departments = list(Department.objects.for_tenant(SYSTEM.for_organization(organization.id)))
    assert len(departments) == 12
    assert sorted(d.kind for d in departments) == sorted(
        [
            "emergency",
            "surgery",
            "paediatrics",
            "obstetrics_gynaecology",
            "internal_medicine",
            "cardiology",
            "orthopaedics",
            "radiology",
            "laboratory",
            "pharmacy",
            "icu",
            "outpatients",
        ]
    )
    assert len({d.code for d in departments}) == 12
    assert all(d.is_active and d.name for d in departments)


def test_every_demo_user_has_their_membership_and_an_authenticator():
    seed_demo()
    orgs = {o.id: o.code for o in Organization.objects.for_platform(SYSTEM)}
    for spec in USERS:
        user = User.objects.get(email=spec.email)
        assert user.check_password(DEMO_PASSWORD)
        assert user.is_platform_operator == spec.platform_operator
        assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
        memberships = [(orgs[m.organization_id], m.roles) for m in Membership.objects.for_user(SYSTEM, user_id=user.id)]
        expected = [(spec.organization_code, list(spec.roles))] if spec.organization_code else []
        assert memberships == expected, spec.email


def test_a_second_run_creates_nothing_and_changes_no_row_count():
    seed_demo()
    before = row_counts()
    assert before["kernel_organization"] == 3
    assert seed_demo() == {
        "organizations": 0,
        "departments": 0,
        "users": 0,
        "memberships": 0,
        "patients": 0,
        "appointments": 0,
        "holidays": 0,
        "encounters": 0,
        "prescriptions": 0,
    }
    assert row_counts() == before


def test_the_command_seeds_an_empty_database_and_then_does_nothing():
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    assert "3 organizations" in first.getvalue()
    assert "24 departments" in first.getvalue()
    assert Organization.objects.for_platform(SYSTEM).count() == 3
    before = row_counts()
    second = io.StringIO()
    call_command("seed_demo", stdout=second)
    assert "0 organizations, 0 departments, 0 users, 0 memberships, 0 patients" in second.getvalue()
    assert row_counts() == before


def test_the_seed_fills_in_what_is_missing_without_duplicating_the_rest():
    seed_demo()
    unity = Organization.objects.for_platform(SYSTEM).get(code="unity-teaching")
    unity_ctx = SYSTEM.for_organization(unity.id)
    Department.objects.for_tenant(unity_ctx).filter(kind__in=["icu", "pharmacy"]).delete()
    User.objects.filter(email="nurse@unity.demo.phb.example").delete()
    made = seed_demo()
    assert made["departments"] == 2
    assert made["users"] == 1
    assert made["memberships"] == 1
    assert made["organizations"] == made["patients"] == 0
    assert Department.objects.for_tenant(unity_ctx).count() == 12
    assert departments_ensure_standard(ctx=unity_ctx) == []


# --- appointments ---------------------------------------------------------------------------------------


def test_the_demo_doctors_work_weekdays_from_eight_to_four_in_twenty_minute_slots():
    seed_demo()
    windows = list(WeeklyAvailability.objects.for_system(SYSTEM))
    assert len(windows) == 3 * 5
    assert {(w.weekday < 5, str(w.starts_at), str(w.ends_at), w.slot_minutes) for w in windows} == {
        (True, "08:00:00", "16:00:00", 20)
    }


def test_the_facilities_have_opening_hours_and_nigerias_known_public_holidays_until_the_end_of_next_year():
    seed_demo()
    next_year = timezone.now().year + 1
    for code in ("unity-teaching", "harmony-clinic"):
        organization = Organization.objects.for_platform(SYSTEM).get(code=code)
        ctx = SYSTEM.for_organization(organization.id)
        hours = list(OpeningHours.objects.for_tenant(ctx))
        assert {h.weekday for h in hours} >= set(range(5))
        # The doctors' windows (08:00-16:00) lie inside the opening hours.
        assert all(h.opens_at <= dt.time(8) and h.closes_at >= dt.time(16) for h in hours if h.weekday < 5)
        holidays = dict(PublicHoliday.objects.for_tenant(ctx).values_list("observed_on", "name"))
        assert min(holidays) >= timezone.now().date() - dt.timedelta(days=1)
        for month, day, name in ((1, 1, "New Year's Day"), (6, 12, "Democracy Day"), (10, 1, "Independence Day")):
            assert holidays[dt.date(next_year, month, day)] == name
        assert "Good Friday" in holidays.values()
        assert max(holidays) == dt.date(next_year, 12, 26)
    unity = Organization.objects.for_platform(SYSTEM).get(code="unity-teaching")
    assert OpeningHours.objects.for_tenant(SYSTEM.for_organization(unity.id)).filter(weekday=5).exists()


def test_no_demo_appointment_falls_on_a_public_holiday(monkeypatch):
    from phb.organizations import public as organizations

    # Holidays among the appointments' days: the next five days (at least three of them weekdays).
    today = timezone.now().date()
    coming = [(today + dt.timedelta(days=d), f"Holiday {d}") for d in range(1, 6)]
    monkeypatch.setattr(organizations, "nigerian_public_holidays", lambda year: coming)
    seed_demo()
    holidays = set(PublicHoliday.objects.for_system(SYSTEM).values_list("organization_id", "observed_on"))
    assert len(holidays) == 2 * 5
    zones = dict(Organization.objects.for_platform(SYSTEM).values_list("id", "timezone"))
    days = set()
    for a in Appointment.objects.for_system(SYSTEM).only("organization_id", "start_at"):
        days.add((a.organization_id, a.start_at.astimezone(ZoneInfo(zones[a.organization_id])).date()))
    assert max(day for _, day in days) > today + dt.timedelta(days=6)
    assert not days & holidays


def test_demo_appointments_keep_the_booking_rules_and_their_history():
    made = seed_demo()
    appointments = list(Appointment.objects.for_system(SYSTEM))
    assert made["appointments"] == len(appointments) > 60
    occupying = [(a.organization_id, a.practitioner_id, a.start_at) for a in appointments if a.status in OCCUPYING]
    assert len(occupying) == len(set(occupying))  # no double booking
    same_day = [(a.patient_id, a.specialization, a.start_at.date()) for a in appointments if a.status in OCCUPYING[:4]]
    assert len(same_day) == len(set(same_day))
    history: dict = {}
    for t in AppointmentTransition.objects.for_system(SYSTEM).order_by("at", "id"):
        history.setdefault(t.appointment_id, []).append(t)
    for a in appointments:
        steps = history[a.id]
        assert steps[0].from_status == ""
        assert steps[0].to_status == "pending"
        assert steps[-1].to_status == a.status
        for step in steps[1:]:
            allowed = transitions.find(step.from_status, step.to_status)
            assert allowed is not None, (step.from_status, step.to_status)
            assert step.reason or not allowed.reason_required
        assert all(s.at <= timezone.now() for s in steps)
    assert len({a.status for a in appointments}) >= 5


def test_demo_patients_have_clinical_histories_with_vitals_diagnoses_and_signed_notes():
    from phb.clinical.models import ClinicalNote, Diagnosis, Encounter, VitalSignsSet
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    seed_demo()
    patient = Patient.objects.get(user__email=PATIENTS[0][0])
    visits = len(demo_clinical.VISITS)
    assert Encounter.objects.for_system(SYSTEM).filter(patient=patient, status="finished").count() == visits
    assert VitalSignsSet.objects.for_system(SYSTEM).filter(patient=patient, news2_score__isnull=False).count() == visits
    assert Diagnosis.objects.for_system(SYSTEM).filter(patient=patient).count() == visits
    assert ClinicalNote.objects.for_system(SYSTEM).filter(patient=patient, status="signed").count() == visits
    assert seed_demo()["encounters"] == 0  # once


def test_demo_patients_have_signed_prescriptions_one_with_an_overridden_interaction():
    from phb.medications.models import Prescription, SafetyOverride
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    seed_demo()
    first = Patient.objects.get(user__email=PATIENTS[0][0])
    assert Prescription.objects.for_system(SYSTEM).filter(patient=first, status="signed").count() == 3
    (override,) = SafetyOverride.objects.for_system(SYSTEM).filter(patient=first)
    assert (override.rule, override.severity) == ("DDI-0001", "major")
    assert override.reason.startswith("Cardiology advice")
    for email, _ in PATIENTS[1:]:
        assert Prescription.objects.for_system(SYSTEM).filter(patient__user__email=email).count() == 2
    assert seed_demo()["prescriptions"] == 0  # once
