"""Daily privacy signals: unusual volume, after-hours access, unreviewed break-the-glass."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from phb.accounts import anomalies
from phb.accounts.models import AnomalyFlag, BreakGlassAccess
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.accounts.factories import UserFactory, staff_member, verified_client

pytestmark = pytest.mark.django_db
LAGOS = ZoneInfo("Africa/Lagos")
DAY = dt.date(2026, 3, 10)


def reads(org, user_id, *, day, hour, patients):
    at = dt.datetime.combine(day, dt.time(hour), LAGOS)
    AuditEvent.objects.for_system(Ctx.system(reason="test")).bulk_create(
        AuditEvent(
            occurred_at=at + dt.timedelta(seconds=i),
            actor_id=user_id,
            actor_kind="user",
            organization_id=org.id,
            patient_id=uuid.uuid4(),
            action="clinical.chart.read",
            outcome="success",
            purpose_of_use="TREAT",
        )
        for i in range(patients)
    )


def kinds(ctx):
    return {(f.kind, f.user_id) for f in AnomalyFlag.objects.for_tenant(ctx)}


def test_a_user_opening_far_more_records_than_usual_is_flagged(org_a):
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    usual, spree = uuid.uuid4(), uuid.uuid4()
    for back in range(1, 11):
        reads(org_a, spree, day=DAY - dt.timedelta(days=back), hour=10, patients=8)
        reads(org_a, usual, day=DAY - dt.timedelta(days=back), hour=10, patients=15)
    reads(org_a, usual, day=DAY, hour=10, patients=18)
    reads(org_a, spree, day=DAY, hour=10, patients=60)
    for uid in (usual, spree):
        UserFactory(id=uid)
    anomalies.flags_for_day(ctx=ctx, day=DAY)
    assert kinds(ctx) == {("unusual_volume", spree)}


def test_after_hours_access_in_the_organizations_time_zone_is_flagged(org_a):
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    night, day_shift = UserFactory(), UserFactory()
    reads(org_a, night.id, day=DAY, hour=23, patients=2)
    reads(org_a, day_shift.id, day=DAY, hour=9, patients=2)
    anomalies.flags_for_day(ctx=ctx, day=DAY)
    anomalies.flags_for_day(ctx=ctx, day=DAY)  # idempotent
    flags = AnomalyFlag.objects.for_tenant(ctx)
    assert [(f.kind, f.user_id, f.detail["accesses"]) for f in flags] == [("after_hours", night.id, 2)]


def test_unreviewed_break_the_glass_is_flagged_after_a_day(org_a):
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    doctor = UserFactory()
    access = BreakGlassAccess.objects.create(
        organization=org_a,
        user=doctor,
        patient_id=uuid.uuid4(),
        reason="collapsed in the car park",
        expires_at=timezone.now(),
    )
    BreakGlassAccess.objects.for_tenant(ctx).filter(id=access.id).update(
        created_at=dt.datetime.combine(DAY - dt.timedelta(days=2), dt.time(12), LAGOS)
    )
    anomalies.flags_for_day(ctx=ctx, day=DAY)
    assert kinds(ctx) == {("break_glass_unreviewed", doctor.id)}


def test_other_organizations_events_do_not_count(org_a, org_b):
    user = UserFactory()
    reads(org_b, user.id, day=DAY, hour=23, patients=3)
    ctx_a = Ctx.system(reason="test", organization_id=org_a.id)
    assert anomalies.flags_for_day(ctx=ctx_a, day=DAY) == []


def test_privacy_officers_list_their_flags(org_a, org_b):
    night = UserFactory()
    reads(org_a, night.id, day=DAY, hour=2, patients=1)
    reads(org_b, night.id, day=DAY, hour=2, patients=1)
    for org in (org_a, org_b):
        anomalies.flags_for_day(ctx=Ctx.system(reason="test", organization_id=org.id), day=DAY)
    officer, _ = staff_member(org_a, "privacy_officer")
    body = verified_client(officer).get("/api/v1/privacy/anomalies/").json()
    assert [(f["kind"], f["user"]) for f in body["results"]] == [("after_hours", str(night.id))]
    doctor, _ = staff_member(org_a, "doctor")
    assert verified_client(doctor).get("/api/v1/privacy/anomalies/").status_code == 403


def test_the_daily_run_covers_every_organization(org_a, org_b):
    assert anomalies.flag_yesterday_everywhere() == 0
