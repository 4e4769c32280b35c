"""Workforce services: profiles, weekly windows (with breaks, inside opening hours), leave and closures;
who may change what; bad input refused with a clear error and nothing written."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.organizations import services as organization_services
from phb.workforce import selectors, services
from phb.workforce.models import Closure, Leave, PractitionerProfile, WeeklyAvailability
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.organizations.factories import DepartmentFactory
from tests.workforce.factories import admin_ctx, ctx_of, practitioner, staff_ctx

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")
NINE, FIVE = dt.time(9, 0), dt.time(17, 0)


def _audit(action):
    return AuditEvent.objects.for_system(SYSTEM).filter(action=action)


@pytest.fixture
def admin(org_a):
    return admin_ctx(org_a)


@pytest.fixture
def member(org_a):
    user = UserFactory(full_name="Chidi Okafor")
    MembershipFactory(user=user, organization=org_a, roles=["doctor"])
    return user


def _create(admin, member, **fields):
    return services.practitioner_profile_create(
        ctx=admin,
        user_id=member.id,
        **{"specialization": "paediatrics", "licence_number": "MDCN-1", "consultation_fee": "7500.00", **fields},
    )


# --- profiles ----------------------------------------------------------------------------------------


def test_a_member_of_staff_becomes_a_practitioner_with_every_profile_field(org_a, admin, member):
    department = DepartmentFactory(organization=org_a)
    profile = _create(
        admin,
        member,
        department_id=department.id,
        licence_expires_on=dt.date(2028, 12, 31),
        qualifications=["MBBS", " FWACP "],
        years_of_experience=12,
        languages=["en", "ig"],
        offers_telemedicine=True,
    )
    stored = PractitionerProfile.objects.for_tenant(admin).get(id=profile.id)
    assert (stored.department_id, stored.specialization, stored.licence_number) == (
        department.id,
        "paediatrics",
        "MDCN-1",
    )
    assert stored.qualifications == ["MBBS", "FWACP"]
    assert (stored.years_of_experience, stored.languages, str(stored.consultation_fee)) == (12, ["en", "ig"], "7500.00")
    assert stored.offers_telemedicine
    assert stored.is_active
    assert _audit("workforce.practitioner.create").get().resource_id == str(profile.id)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"specialization": " "}, "specialization"),
        ({"licence_number": ""}, "licence_number"),
        ({"consultation_fee": "-1"}, "consultation_fee"),
        ({"consultation_fee": "12.345"}, "consultation_fee"),
        ({"consultation_fee": "lots"}, "consultation_fee"),
        ({"years_of_experience": 120}, "years_of_experience"),
        ({"languages": "en"}, "languages"),
        ({"qualifications": ["x" * 201]}, "qualifications"),
        ({"salary": 1}, "salary"),
    ],
)
def test_bad_profile_fields_are_refused_and_nothing_is_written(admin, member, fields, field):
    with pytest.raises(ValidationFailed) as err:
        _create(admin, member, **fields)
    assert err.value.extra["errors"][0]["field"] == field
    assert not PractitionerProfile.objects.for_tenant(admin).exists()


def test_a_profile_needs_a_member_here_a_department_here_and_only_one_profile(org_a, org_b, admin, member):
    outsider = UserFactory()
    MembershipFactory(user=outsider, organization=org_b, roles=["doctor"])
    with pytest.raises(ValidationFailed) as err:
        _create(admin, outsider)
    assert err.value.extra["errors"][0]["field"] == "user_id"
    with pytest.raises(ValidationFailed) as err:
        _create(admin, member, department_id=DepartmentFactory(organization=org_b).id)
    assert err.value.extra["errors"][0]["field"] == "department_id"
    _create(admin, member)
    with pytest.raises(Conflict) as err:
        _create(admin, member)
    assert err.value.code == "PROFILE_EXISTS"


def test_only_staff_managers_manage_profiles(org_a, member):
    with pytest.raises(Forbidden):
        _create(ctx_of(org_a, member, "doctor"), member)
    with pytest.raises(Forbidden):
        _create(staff_ctx(org_a, "receptionist"), member)


def test_update_changes_only_the_fields_given_and_the_department(org_a, admin, member):
    profile = _create(admin, member, languages=["en"])
    department = DepartmentFactory(organization=org_a)
    updated = services.practitioner_profile_update(
        ctx=admin, practitioner_id=profile.id, consultation_fee="9000", department_id=department.id
    )
    assert (str(updated.consultation_fee), updated.department_id, updated.languages) == (
        "9000.00",
        department.id,
        ["en"],
    )
    assert _audit("workforce.practitioner.update").get().detail["fields"] == ["consultation_fee", "department"]
    cleared = services.practitioner_profile_update(ctx=admin, practitioner_id=profile.id, department_id=None)
    assert cleared.department_id is None
    with pytest.raises(ValidationFailed):
        services.practitioner_profile_update(ctx=admin, practitioner_id=profile.id, specialization="")
    assert PractitionerProfile.objects.for_tenant(admin).get(id=profile.id).specialization == "paediatrics"


def test_deactivate_and_reactivate(admin, member):
    profile = _create(admin, member)
    assert services.practitioner_profile_deactivate(ctx=admin, practitioner_id=profile.id).is_active is False
    assert list(selectors.practitioner_list(ctx=admin)) == []
    assert list(selectors.practitioner_list(ctx=admin, active=False)) == [profile]
    assert services.practitioner_profile_reactivate(ctx=admin, practitioner_id=profile.id).is_active is True
    assert (
        _audit("workforce.practitioner.deactivate").count() == _audit("workforce.practitioner.reactivate").count() == 1
    )


def test_another_organizations_practitioner_is_not_found(org_a, org_b):
    theirs = practitioner(org_b, weekdays=[])
    mine = admin_ctx(org_a)
    for call in (
        lambda: selectors.practitioner_get(ctx=mine, practitioner_id=theirs.id),
        lambda: services.practitioner_profile_update(ctx=mine, practitioner_id=theirs.id, specialization="x"),
        lambda: services.practitioner_profile_deactivate(ctx=mine, practitioner_id=theirs.id),
        lambda: services.availability_add(ctx=mine, practitioner_id=theirs.id, weekday=0, starts_at=NINE, ends_at=FIVE),
        lambda: services.leave_add(
            ctx=mine, practitioner_id=theirs.id, starts_on=dt.date(2030, 1, 1), ends_on=dt.date(2030, 1, 1)
        ),
    ):
        with pytest.raises(NotFound):
            call()


# --- weekly windows --------------------------------------------------------------------------------------


def _window(ctx, doctor, **fields):
    return services.availability_add(
        ctx=ctx, practitioner_id=doctor.id, **{"weekday": 0, "starts_at": NINE, "ends_at": FIVE, **fields}
    )


def test_a_window_with_a_break_is_stored_and_audited(org_a, admin):
    doctor = practitioner(org_a, weekdays=[])
    window = _window(admin, doctor, break_starts_at=dt.time(12, 0), break_ends_at=dt.time(13, 0), slot_minutes=20)
    assert str(window) == "Monday 09:00-17:00 (break 12:00-13:00)"
    assert _audit("workforce.availability.create").get().detail["practitioner"] == str(doctor.id)


def test_overlapping_windows_are_refused_and_two_windows_a_day_are_allowed(org_a, admin):
    doctor = practitioner(org_a, weekdays=[])
    _window(admin, doctor, ends_at=dt.time(12, 0))
    with pytest.raises(Conflict) as err:
        _window(admin, doctor, starts_at=dt.time(11, 0), ends_at=dt.time(14, 0))
    assert err.value.code == "AVAILABILITY_OVERLAPS"
    _window(admin, doctor, starts_at=dt.time(13, 0), ends_at=FIVE)
    _window(admin, doctor, weekday=1, starts_at=dt.time(11, 0), ends_at=dt.time(14, 0))
    assert WeeklyAvailability.objects.for_tenant(admin).filter(practitioner=doctor).count() == 3


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"weekday": 7}, "weekday"),
        ({"ends_at": dt.time(8, 0)}, "ends_at"),
        ({"ends_at": dt.time(9, 10), "slot_minutes": 15}, "ends_at"),
        ({"slot_minutes": 3}, "slot_minutes"),
        ({"max_daily_appointments": 0}, "max_daily_appointments"),
        ({"break_starts_at": dt.time(12, 0)}, "break_ends_at"),
        ({"break_starts_at": dt.time(13, 0), "break_ends_at": dt.time(12, 0)}, "break_ends_at"),
        ({"break_starts_at": dt.time(9, 0), "break_ends_at": dt.time(10, 0)}, "break_starts_at"),
        ({"break_starts_at": dt.time(16, 0), "break_ends_at": dt.time(18, 0)}, "break_starts_at"),
    ],
)
def test_bad_windows_are_refused(org_a, admin, fields, field):
    doctor = practitioner(org_a, weekdays=[])
    with pytest.raises(ValidationFailed) as err:
        _window(admin, doctor, **fields)
    assert err.value.extra["errors"][0]["field"] == field
    assert not WeeklyAvailability.objects.for_tenant(admin).exists()


def test_a_window_outside_the_opening_hours_is_refused_once_they_are_set(org_a, admin):
    doctor = practitioner(org_a, weekdays=[])
    _window(admin, doctor, starts_at=dt.time(6, 0), ends_at=dt.time(8, 0))  # no opening hours: not bounded
    organization_services.opening_hours_set(
        ctx=admin, hours=[(w, dt.time(8, 0), dt.time(18, 0)) for w in range(5)] + [(5, dt.time(9), dt.time(13))]
    )
    for fields in (
        {"weekday": 1, "starts_at": dt.time(7, 0), "ends_at": dt.time(12, 0)},
        {"weekday": 1, "starts_at": dt.time(16, 0), "ends_at": dt.time(19, 0)},
        {"weekday": 5, "starts_at": dt.time(9, 0), "ends_at": dt.time(14, 0)},
        {"weekday": 6, "starts_at": dt.time(9, 0), "ends_at": dt.time(12, 0)},
    ):
        with pytest.raises(ValidationFailed) as err:
            _window(admin, doctor, **fields)
        assert err.value.code == "OUTSIDE_OPENING_HOURS"
    assert "closed" in str(err.value.detail)
    _window(admin, doctor, weekday=5, starts_at=dt.time(9, 0), ends_at=dt.time(13, 0))


def test_update_and_remove_a_window(org_a, admin):
    doctor = practitioner(org_a, weekdays=[])
    first = _window(admin, doctor, ends_at=dt.time(12, 0))
    second = _window(admin, doctor, starts_at=dt.time(13, 0))
    with pytest.raises(Conflict):
        services.availability_update(ctx=admin, practitioner_id=doctor.id, window_id=second.id, starts_at=dt.time(11))
    moved = services.availability_update(
        ctx=admin, practitioner_id=doctor.id, window_id=first.id, ends_at=dt.time(12, 30), slot_minutes=10
    )
    assert (moved.ends_at, moved.slot_minutes) == (dt.time(12, 30), 10)
    with pytest.raises(ValidationFailed):
        services.availability_update(ctx=admin, practitioner_id=doctor.id, window_id=first.id, colour="red")
    services.availability_remove(ctx=admin, practitioner_id=doctor.id, window_id=first.id)
    assert list(WeeklyAvailability.objects.for_tenant(admin).values_list("id", flat=True)) == [second.id]
    other = practitioner(org_a, weekdays=[])
    with pytest.raises(NotFound):  # a window is reached through its own practitioner only
        services.availability_remove(ctx=admin, practitioner_id=other.id, window_id=second.id)
    assert _audit("workforce.availability.delete").count() == 1


def test_a_doctor_keeps_their_own_schedule_and_not_a_colleagues(org_a):
    user = UserFactory()
    mine = practitioner(org_a, weekdays=[], user=user)
    colleague = practitioner(org_a, weekdays=[])
    me = ctx_of(org_a, user, "doctor")
    _window(me, mine)
    services.leave_add(ctx=me, practitioner_id=mine.id, starts_on=dt.date(2030, 1, 7), ends_on=dt.date(2030, 1, 8))
    for call in (
        lambda: _window(me, colleague),
        lambda: services.leave_add(
            ctx=me, practitioner_id=colleague.id, starts_on=dt.date(2030, 1, 7), ends_on=dt.date(2030, 1, 8)
        ),
        lambda: services.closure_add(
            ctx=me,
            practitioner_id=colleague.id,
            starts_at=dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC),
            ends_at=dt.datetime(2030, 1, 7, 10, tzinfo=dt.UTC),
        ),
        lambda: services.practitioner_profile_update(ctx=me, practitioner_id=mine.id, consultation_fee="1"),
    ):
        with pytest.raises(Forbidden):
            call()
    assert not WeeklyAvailability.objects.for_tenant(me).filter(practitioner=colleague).exists()


# --- leave and closures --------------------------------------------------------------------------------


def test_leave_is_recorded_and_cancelled_and_bad_leave_refused(org_a, admin):
    doctor = practitioner(org_a, weekdays=[])
    leave = services.leave_add(
        ctx=admin, practitioner_id=doctor.id, starts_on=dt.date(2030, 3, 2), ends_on=dt.date(2030, 3, 6), reason="rest"
    )
    with pytest.raises(Conflict) as err:
        services.leave_add(
            ctx=admin, practitioner_id=doctor.id, starts_on=dt.date(2030, 3, 6), ends_on=dt.date(2030, 3, 9)
        )
    assert err.value.code == "LEAVE_OVERLAPS"
    with pytest.raises(ValidationFailed) as err:
        services.leave_add(
            ctx=admin, practitioner_id=doctor.id, starts_on=dt.date(2030, 4, 2), ends_on=dt.date(2030, 4, 1)
        )
    assert err.value.extra["errors"][0]["field"] == "ends_on"
    with pytest.raises(ValidationFailed):
        services.leave_add(
            ctx=admin,
            practitioner_id=doctor.id,
            starts_on=dt.date(2030, 5, 1),
            ends_on=dt.date(2030, 5, 1),
            reason="x" * 201,
        )
    assert selectors.leave_list(ctx=admin, practitioner_id=doctor.id) == [leave]
    services.leave_remove(ctx=admin, practitioner_id=doctor.id, leave_id=leave.id)
    assert not Leave.objects.for_tenant(admin).exists()
    with pytest.raises(NotFound):
        services.leave_remove(ctx=admin, practitioner_id=doctor.id, leave_id=leave.id)


def test_closures_are_recorded_and_bad_ones_refused(org_a, admin):
    doctor = practitioner(org_a, weekdays=[])
    lagos = ZoneInfo("Africa/Lagos")
    noon = dt.datetime(2030, 3, 4, 12, 0, tzinfo=lagos)
    closure = services.closure_add(
        ctx=admin, practitioner_id=doctor.id, starts_at=noon, ends_at=noon + dt.timedelta(hours=2), reason="theatre"
    )
    cases = [
        ({"starts_at": noon, "ends_at": noon - dt.timedelta(minutes=1)}, ValidationFailed, "ends_at"),
        (
            {"starts_at": noon.replace(tzinfo=None), "ends_at": noon + dt.timedelta(hours=1)},
            ValidationFailed,
            "starts_at",
        ),
        ({"starts_at": noon, "ends_at": noon + dt.timedelta(days=32)}, ValidationFailed, "ends_at"),
        ({"starts_at": noon + dt.timedelta(hours=1), "ends_at": noon + dt.timedelta(hours=3)}, Conflict, None),
    ]
    for fields, error, field in cases:
        with pytest.raises(error) as err:
            services.closure_add(ctx=admin, practitioner_id=doctor.id, **fields)
        if field:
            assert err.value.extra["errors"][0]["field"] == field
        else:
            assert err.value.code == "CLOSURE_OVERLAPS"
    assert selectors.closure_list(ctx=admin, practitioner_id=doctor.id) == [closure]
    assert selectors.closure_list(ctx=admin, practitioner_id=doctor.id, from_at=noon + dt.timedelta(hours=2)) == []
    services.closure_remove(ctx=admin, practitioner_id=doctor.id, closure_id=closure.id)
    assert not Closure.objects.for_tenant(admin).exists()
    assert _audit("workforce.closure.create").count() == _audit("workforce.closure.delete").count() == 1
