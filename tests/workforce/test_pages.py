"""Workforce pages: the practitioners list and profile form, a practitioner's schedule editor, the
organization's calendar. Happy paths, the missing role's 403, another organization's 404, form errors
with a 400, a doctor refused a colleague's schedule, and the navigation links."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from phb.kernel.context import Ctx
from phb.organizations.models import OpeningHours, PublicHoliday
from phb.workforce.models import Closure, Leave, PractitionerProfile, WeeklyAvailability
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.organizations.factories import DepartmentFactory
from tests.workforce.factories import practitioner

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")
BASE = "/staff/workforce"


def staff_client(org, *roles, user=None):
    user = user or UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return verified_client(user, Client())


@pytest.fixture
def world(org_a):
    doctor_user = UserFactory(full_name="Ada Obi")
    return {
        "doctor": practitioner(org_a, weekdays=[0], user=doctor_user),
        "colleague": practitioner(org_a, weekdays=[1], specialization="ent"),
        "admin": staff_client(org_a, "hospital_admin"),
        "desk": staff_client(org_a, "receptionist"),
        "clinician": verified_client(doctor_user, Client()),
    }


def _rows(model):
    return model.objects.for_system(SYSTEM)


def test_the_admin_lists_practitioners_and_adds_one(org_a, world):
    page = world["admin"].get(f"{BASE}/practitioners/")
    assert page.status_code == 200
    assert "Ada Obi" in page.content.decode()
    member = UserFactory(full_name="Bisi Ade")
    MembershipFactory(user=member, organization=org_a, roles=["doctor"])
    department = DepartmentFactory(organization=org_a)
    form = {
        "member": str(member.id),
        "department": str(department.id),
        "specialization": "dermatology",
        "licence_number": "MDCN-9",
        "qualifications": "MBBS, FMCP",
        "years_of_experience": "4",
        "languages": "en, ha",
        "consultation_fee": "6000",
        "offers_telemedicine": "on",
    }
    response = world["admin"].post(f"{BASE}/practitioners/", form)
    assert response.status_code == 302
    profile = _rows(PractitionerProfile).get(user=member)
    assert (profile.qualifications, profile.languages, profile.offers_telemedicine) == (
        ["MBBS", "FMCP"],
        ["en", "ha"],
        True,
    )
    assert response["Location"] == f"{BASE}/practitioners/{profile.id}/schedule/"


def test_the_profile_form_shows_its_errors_with_a_400(org_a, world):
    response = world["admin"].post(f"{BASE}/practitioners/", {"specialization": "", "consultation_fee": "-5"})
    assert response.status_code == 400
    assert b"field-error" in response.content
    edit = f"{BASE}/practitioners/{world['doctor'].id}/"
    partial = world["admin"].get(edit, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b"<html" not in partial.content
    response = world["admin"].post(
        edit,
        {
            "specialization": "cardiology",
            "licence_number": "L-1",
            "years_of_experience": "3",
            "consultation_fee": "100",
        },
    )
    assert response.status_code == 302
    assert str(_rows(PractitionerProfile).get(id=world["doctor"].id).consultation_fee) == "100.00"


def test_deactivate_and_reactivate_from_the_list(world):
    url = f"{BASE}/practitioners/{world['colleague'].id}/activation/"
    assert world["admin"].post(url, {"active": "0"}).status_code == 302
    assert _rows(PractitionerProfile).get(id=world["colleague"].id).is_active is False
    world["admin"].post(url, {"active": "1"})
    assert _rows(PractitionerProfile).get(id=world["colleague"].id).is_active is True


def test_a_doctor_edits_their_own_schedule(world):
    doctor, client = world["doctor"], world["clinician"]
    assert client.get(f"{BASE}/my-schedule/")["Location"] == f"{BASE}/practitioners/{doctor.id}/schedule/"
    page = client.get(f"{BASE}/practitioners/{doctor.id}/schedule/")
    assert page.status_code == 200
    assert b"Add hours" in page.content
    window = {
        "weekday": "2",
        "starts_at": "09:00",
        "ends_at": "17:00",
        "break_starts_at": "12:00",
        "break_ends_at": "13:00",
        "slot_minutes": "20",
        "max_daily_appointments": "18",
    }
    assert client.post(f"{BASE}/practitioners/{doctor.id}/windows/", window).status_code == 302
    added = _rows(WeeklyAvailability).get(practitioner=doctor, weekday=2)
    assert (added.break_starts_at, added.slot_minutes) == (dt.time(12), 20)
    overlapping = client.post(
        f"{BASE}/practitioners/{doctor.id}/windows/",
        {**window, "starts_at": "16:00", "ends_at": "18:00", "break_starts_at": "", "break_ends_at": ""},
    )
    assert overlapping.status_code == 400
    assert b"overlaps" in overlapping.content
    edit = f"{BASE}/practitioners/{doctor.id}/windows/{added.id}/"
    assert b"<tr" in client.get(edit, HTTP_HX_REQUEST="true").content
    prefix = f"w{added.id.hex[:8]}-"
    changed = {prefix + k: v for k, v in {**window, "ends_at": "16:00"}.items()}
    assert client.post(edit, changed).status_code == 302
    assert _rows(WeeklyAvailability).get(id=added.id).ends_at == dt.time(16)
    assert client.post(f"{edit}remove/").status_code == 302
    assert (
        client.post(
            f"{BASE}/practitioners/{doctor.id}/leave/",
            {"starts_on": "2030-01-07", "ends_on": "2030-01-09", "reason": "rest"},
        ).status_code
        == 302
    )
    leave = _rows(Leave).get(practitioner=doctor)
    bad_leave = client.post(
        f"{BASE}/practitioners/{doctor.id}/leave/", {"starts_on": "2030-02-07", "ends_on": "2030-02-01"}
    )
    assert bad_leave.status_code == 400
    assert b"ends before it starts" in bad_leave.content
    closure = {"on": "2030-01-14", "starts_at": "12:00", "ends_at": "14:00", "reason": "audit"}
    assert client.post(f"{BASE}/practitioners/{doctor.id}/closures/", closure).status_code == 302
    stored = _rows(Closure).get(practitioner=doctor)
    assert stored.ends_at - stored.starts_at == dt.timedelta(hours=2)
    backwards = client.post(f"{BASE}/practitioners/{doctor.id}/closures/", {**closure, "ends_at": "11:00"})
    assert backwards.status_code == 400
    assert b"the closure ends before it starts" in backwards.content
    assert client.post(f"{BASE}/practitioners/{doctor.id}/leave/{leave.id}/remove/").status_code == 302
    assert client.post(f"{BASE}/practitioners/{doctor.id}/closures/{stored.id}/remove/").status_code == 302
    assert not _rows(Leave).exists()
    assert not _rows(Closure).exists()


def test_a_doctor_reads_a_colleagues_schedule_but_cannot_change_it(world):
    colleague, client = world["colleague"], world["clinician"]
    page = client.get(f"{BASE}/practitioners/{colleague.id}/schedule/")
    assert page.status_code == 200
    assert b"Add hours" not in page.content
    window = {
        "weekday": "3",
        "starts_at": "09:00",
        "ends_at": "12:00",
        "slot_minutes": "15",
        "max_daily_appointments": "5",
    }
    assert client.post(f"{BASE}/practitioners/{colleague.id}/windows/", window).status_code == 403
    theirs = _rows(WeeklyAvailability).get(practitioner=colleague)
    assert client.post(f"{BASE}/practitioners/{colleague.id}/windows/{theirs.id}/remove/").status_code == 403
    assert (
        client.post(
            f"{BASE}/practitioners/{colleague.id}/leave/", {"starts_on": "2030-01-07", "ends_on": "2030-01-07"}
        ).status_code
        == 403
    )
    assert _rows(WeeklyAvailability).filter(practitioner=colleague).count() == 1
    assert client.get(f"{BASE}/practitioners/").status_code == 403  # the list is the staff managers'


def test_another_organizations_practitioner_is_not_found(world, org_b):
    theirs = practitioner(org_b, weekdays=[0])
    window = _rows(WeeklyAvailability).get(practitioner=theirs)
    admin = world["admin"]
    assert admin.get(f"{BASE}/practitioners/{theirs.id}/").status_code == 404
    assert admin.get(f"{BASE}/practitioners/{theirs.id}/schedule/").status_code == 404
    assert admin.post(f"{BASE}/practitioners/{theirs.id}/activation/", {"active": "0"}).status_code == 404
    assert admin.post(f"{BASE}/practitioners/{theirs.id}/windows/{window.id}/remove/").status_code == 404
    assert admin.get(f"{BASE}/practitioners/{world['doctor'].id}/windows/{window.id}/").status_code == 404
    assert _rows(PractitionerProfile).get(id=theirs.id).is_active


def test_the_calendar_page_sets_opening_hours_and_holidays(world):
    admin = world["admin"]
    assert admin.get(f"{BASE}/calendar/").status_code == 200
    hours = {f"opens_{d}_1": "08:00" for d in range(5)} | {f"closes_{d}_1": "17:00" for d in range(5)}
    hours |= {"opens_0_2": "18:00", "closes_0_2": "20:00"}
    assert admin.post(f"{BASE}/calendar/opening-hours/", hours).status_code == 302
    assert _rows(OpeningHours).count() == 6
    half = admin.post(f"{BASE}/calendar/opening-hours/", {"opens_2_1": "08:00"})
    assert half.status_code == 400
    overlapping = admin.post(f"{BASE}/calendar/opening-hours/", {**hours, "opens_0_2": "16:00"})
    assert overlapping.status_code == 400
    assert b"overlap" in overlapping.content
    assert _rows(OpeningHours).count() == 6
    assert (
        admin.post(f"{BASE}/calendar/holidays/", {"observed_on": "2030-10-01", "name": "Independence Day"}).status_code
        == 302
    )
    again = admin.post(f"{BASE}/calendar/holidays/", {"observed_on": "2030-10-01", "name": "Independence Day"})
    assert again.status_code == 400
    assert b"already a holiday" in again.content
    assert admin.post(f"{BASE}/calendar/holidays/", {"known": "1"}).status_code == 302
    names = set(_rows(PublicHoliday).values_list("name", flat=True))
    assert {"Christmas Day", "Good Friday", "Independence Day"} <= names
    holiday = _rows(PublicHoliday).get(observed_on=dt.date(2030, 10, 1))
    assert admin.post(f"{BASE}/calendar/holidays/{holiday.id}/remove/").status_code == 302


def test_staff_read_the_calendar_and_only_administrators_change_it(world, org_b):
    desk = world["desk"]
    page = desk.get(f"{BASE}/calendar/")
    assert page.status_code == 200
    assert b"Save opening hours" not in page.content
    assert desk.post(f"{BASE}/calendar/holidays/", {"observed_on": "2030-10-01", "name": "x"}).status_code == 403
    assert (
        desk.post(f"{BASE}/calendar/opening-hours/", {"opens_0_1": "08:00", "closes_0_1": "09:00"}).status_code == 403
    )
    theirs = PublicHoliday.objects.create(organization_id=org_b.id, observed_on=dt.date(2030, 1, 1), name="New Year")
    assert world["admin"].post(f"{BASE}/calendar/holidays/{theirs.id}/remove/").status_code == 404
    patient = Client()
    patient.force_login(UserFactory())
    assert patient.get(f"{BASE}/calendar/").status_code == 403


def test_the_navigation_links_the_pages_by_role(world):
    admin_page = world["admin"].get(f"{BASE}/calendar/").content.decode()
    assert f'href="{BASE}/practitioners/"' in admin_page
    assert f'href="{BASE}/calendar/"' in admin_page
    clinician_page = world["clinician"].get(f"{BASE}/my-schedule/", follow=True).content.decode()
    assert f'href="{BASE}/my-schedule/"' in clinician_page
    assert f'href="{BASE}/practitioners/"' not in clinician_page
