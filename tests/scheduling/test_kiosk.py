"""The self check-in kiosk: enrolment from the staff page (the cookie, the hash, the staff session
ended), checking in by reference and date of birth through the desk's check-in (audited with the kiosk
as the actor), one answer for every mismatch, the pause after repeated failures, revoked and inactive
kiosks, another organization's appointment, and nothing about the patient on the screen."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.test import Client

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.scheduling import kiosks, selectors, services
from phb.scheduling.models import AppointmentTransition, Kiosk, KioskKind, QueueTicket
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.kernel.factories import OrganizationFactory
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import admin_ctx, desk_ctx, practitioner, tomorrow
from tests.scheduling.frontdesk import SYSTEM, book_today, enrolled_kiosk, kiosk_client, status_of

pytestmark = pytest.mark.django_db


def staff_client(org, *roles):
    user = UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return verified_client(user, Client())


def _form(appointment, *, reference=None, birth_date=None):
    born = birth_date or appointment.patient.birth_date
    return {
        "reference": appointment.reference if reference is None else reference,
        "day": born.day,
        "month": born.month,
        "year": born.year,
    }


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


@pytest.fixture
def clinic(org_a):
    department = DepartmentFactory(organization=org_a, code="cardiology", name="Cardiology")
    doctor = practitioner(org_a, department=department)
    appointment = book_today(org_a, doctor, chief_complaint="crushing chest pain")
    kiosk, token = enrolled_kiosk(org_a)
    return {
        "org": org_a,
        "department": department,
        "doctor": doctor,
        "appointment": appointment,
        "kiosk": kiosk,
        "client": kiosk_client(token),
    }


def _events(**filters):
    return AuditEvent.objects.for_system(SYSTEM).filter(**filters)


# --- enrolment ------------------------------------------------------------------------------------------


def test_an_administrator_registers_and_enrols_a_device_which_is_then_no_staff_session(org_a, org_b, settings):
    DepartmentFactory(organization=org_a, code="outpatients", name="Outpatients")
    admin = staff_client(org_a, "hospital_admin")
    assert admin.get("/staff/scheduling/kiosks/").status_code == 200
    created = admin.post("/staff/scheduling/kiosks/", {"name": "Entrance 1", "kind": "check_in", "location": "Hall"})
    assert created.status_code == 302
    kiosk = Kiosk.objects.for_system(SYSTEM).get(organization=org_a, name="Entrance 1")
    assert not kiosk.is_enrolled
    assert b"Entrance 1" in admin.get("/staff/scheduling/kiosks/").content

    enrolled = admin.post(f"/staff/scheduling/kiosks/{kiosk.id}/enrol/")
    assert enrolled.status_code == 302
    assert enrolled["Location"] == "/kiosk/"
    cookie = enrolled.cookies[kiosks.COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/kiosk/"
    assert int(cookie["max-age"]) == settings.KIOSK_COOKIE_DAYS * 86400
    assert not cookie["secure"]  # Secure follows SESSION_COOKIE_SECURE, on in production only
    kiosk.refresh_from_db()
    # Only the token's hash is stored.
    assert kiosk.token_hash == kiosks.token_hash(cookie.value)
    assert cookie.value not in kiosk.token_hash
    assert _events(action="scheduling.kiosk.enrol", resource_id=str(kiosk.id)).exists()
    # The staff member is signed out on the device: the kiosk never runs on a staff login.
    assert admin.get("/staff/scheduling/kiosks/").status_code == 302
    page = admin.get("/kiosk/")
    assert page.status_code == 200
    assert b"Check in for your appointment" in page.content
    assert b'class="nav' not in page.content  # no navigation on a kiosk

    # Only those who manage departments manage kiosks; another organization's kiosk is not found.
    assert staff_client(org_a, "receptionist").get("/staff/scheduling/kiosks/").status_code == 403
    other = staff_client(org_b, "hospital_admin")
    assert other.post(f"/staff/scheduling/kiosks/{kiosk.id}/enrol/").status_code == 404
    assert other.post(f"/staff/scheduling/kiosks/{kiosk.id}/revoke/").status_code == 404
    assert b"Entrance 1" not in other.get("/staff/scheduling/kiosks/").content


def test_registering_a_kiosk_refuses_bad_input(org_a, org_b):
    admin = admin_ctx(org_a)
    with pytest.raises(ValidationFailed):
        kiosks.kiosk_create(ctx=admin, name=" ", kind="check_in")
    with pytest.raises(ValidationFailed):
        kiosks.kiosk_create(ctx=admin, name="Screen", kind="display")  # a display names its department
    with pytest.raises(ValidationFailed):
        kiosks.kiosk_create(ctx=admin, name="Screen", kind="juke-box")
    with pytest.raises(ValidationFailed):
        kiosks.kiosk_create(
            ctx=admin, name="Screen", kind="display", department_id=DepartmentFactory(organization=org_b).id
        )
    kiosks.kiosk_create(ctx=admin, name="Entrance", kind="check_in")
    with pytest.raises(Conflict) as err:
        kiosks.kiosk_create(ctx=admin, name="Entrance", kind="check_in")
    assert err.value.code == "KIOSK_NAME_TAKEN"
    with pytest.raises(Forbidden):
        kiosks.kiosk_create(ctx=desk_ctx(org_a), name="Mine", kind="check_in")
    page = staff_client(org_a, "hospital_admin").post(
        "/staff/scheduling/kiosks/", {"name": "Screen", "kind": "display"}
    )
    assert page.status_code == 400
    assert b"a waiting-room display shows one department" in page.content
    junk = staff_client(org_a, "hospital_admin").post("/staff/scheduling/kiosks/", {"kind": "x", "department": "y"})
    assert junk.status_code == 400


# --- checking in ----------------------------------------------------------------------------------------


def test_a_patient_checks_in_and_sees_a_ticket_and_nothing_about_themselves(clinic):
    appointment, client, kiosk = clinic["appointment"], clinic["client"], clinic["kiosk"]
    # Typed loosely: lower case, without "APT-", an O for a zero.
    typed = appointment.reference.removeprefix("APT-").lower().replace("0", "o")
    response = client.post("/kiosk/", _form(appointment, reference=typed))
    assert response.status_code == 200, response.content
    body = response.content.decode()
    assert "CAR-001" in body
    assert "You are next" in body
    patient = appointment.patient
    for private in (patient.given_name, patient.family_name, patient.hpn, "chest pain", "Cardiology"):
        assert private not in body
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    assert status_of(appointment) == "checked_in"
    # Through the desk's check-in: a pending appointment is checked in by arriving, with no user named.
    [row] = AppointmentTransition.objects.for_system(SYSTEM).filter(appointment=appointment, to_status="checked_in")
    assert (row.from_status, row.actor_id) == ("pending", None)
    event = _events(action="scheduling.appointment.checked_in").get()
    assert (event.actor_kind, event.actor_id, event.patient_id) == ("device", None, patient.id)
    assert event.detail["device_id"] == str(kiosk.id)
    ticket = QueueTicket.objects.for_system(SYSTEM).get(appointment=appointment)
    assert (ticket.code, ticket.kiosk_id) == ("CAR-001", kiosk.id)
    # Checking in again shows the same ticket.
    again = client.post("/kiosk/", _form(appointment))
    assert b"You are already checked in" in again.content
    assert b"CAR-001" in again.content
    assert QueueTicket.objects.for_system(SYSTEM).filter(appointment=appointment).count() == 1


def test_the_position_and_wait_count_those_ahead_with_the_same_practitioner(clinic):
    org, doctor = clinic["org"], clinic["doctor"]
    first = book_today(org, doctor, hour=9)
    services.appointment_check_in(ctx=desk_ctx(org), appointment_id=first.id)
    response = clinic["client"].post("/kiosk/", _form(clinic["appointment"]))
    assert b"CAR-002" in response.content
    assert b"1 person is ahead of you" in response.content
    assert b"about 30 minutes" in response.content


def test_every_mismatch_gets_the_same_answer_and_is_audited_without_what_was_typed(clinic, org_b):
    appointment, client = clinic["appointment"], clinic["client"]
    wrong_birth = client.post("/kiosk/", _form(appointment, birth_date=dt.date(1901, 1, 1)))
    unknown = client.post("/kiosk/", _form(appointment, reference="APT-ZZZZZZZZ"))
    malformed = client.post("/kiosk/", _form(appointment, reference="hello"))
    assert wrong_birth.status_code == unknown.status_code == malformed.status_code == 200
    assert kiosks.NO_MATCH.encode() in wrong_birth.content
    assert _without_csrf(wrong_birth.content.decode()) == _without_csrf(unknown.content.decode())
    assert _without_csrf(unknown.content.decode()) == _without_csrf(malformed.content.decode())
    assert appointment.reference.encode() not in wrong_birth.content  # the form is emptied
    assert status_of(appointment) == "pending"
    failures = _events(action="scheduling.kiosk.check_in", outcome="failure")
    assert failures.count() == 3
    for event in failures:
        assert appointment.reference not in str(event.detail)
        assert event.patient_id is None
    # A tomorrow's appointment, or one of another department than the kiosk's, is no match either.
    later = services.appointment_book(
        ctx=desk_ctx(clinic["org"]),
        patient_id=appointment.patient_id,
        practitioner_id=practitioner(clinic["org"], specialization="dermatology").id,
        start_at=dt.datetime.combine(tomorrow(clinic["org"]), dt.time(10), tzinfo=appointment.start_at.tzinfo),
    )
    assert (
        kiosks.NO_MATCH.encode()
        in client.post("/kiosk/", _form(later, birth_date=appointment.patient.birth_date)).content
    )
    _kiosk, token = enrolled_kiosk(clinic["org"], department=DepartmentFactory(organization=clinic["org"]))
    assert kiosks.NO_MATCH.encode() in kiosk_client(token).post("/kiosk/", _form(appointment)).content
    # Another organization's kiosk does not find this organization's appointment.
    _theirs, their_token = enrolled_kiosk(org_b)
    assert kiosks.NO_MATCH.encode() in kiosk_client(their_token).post("/kiosk/", _form(appointment)).content
    assert status_of(appointment) == "pending"


def test_form_errors_do_not_count_as_attempts(clinic):
    response = clinic["client"].post("/kiosk/", {"reference": "", "day": "31", "month": "2", "year": "1990"})
    assert response.status_code == 400
    assert b"that is not a date" in response.content
    assert not _events(action="scheduling.kiosk.check_in").exists()


def test_repeated_failures_pause_the_kiosk_then_it_works_again(clinic, settings):
    settings.KIOSK_FAILURE_LIMIT, settings.KIOSK_COOLDOWN_SECONDS = 5, 300
    appointment, client = clinic["appointment"], clinic["client"]
    for _ in range(5):
        assert client.post("/kiosk/", _form(appointment, birth_date=dt.date(1901, 1, 1))).status_code == 200
    paused = client.post("/kiosk/", _form(appointment))  # even the right answer waits
    assert paused.status_code == 429
    assert kiosks.PAUSED.encode() in paused.content
    assert status_of(appointment) == "pending"
    assert _events(action="scheduling.kiosk.check_in", outcome="denied").count() == 1
    assert _events(action="scheduling.kiosk.check_in", outcome="failure").count() == 5
    # Another kiosk is not paused.
    _other, token = enrolled_kiosk(clinic["org"])
    assert kiosk_client(token).get("/kiosk/").status_code == 200
    # After the cool-down the kiosk answers again.
    later = kiosks.time.time() + 301
    with mock.patch.object(kiosks.time, "time", return_value=later):
        assert client.post("/kiosk/", _form(appointment)).status_code == 200
    assert status_of(appointment) == "checked_in"


def test_an_appointment_that_cannot_be_checked_in_sends_the_patient_to_the_desk(clinic):
    appointment = clinic["appointment"]
    services.appointment_transition(
        ctx=desk_ctx(clinic["org"]), appointment_id=appointment.id, to_status="cancelled", reason="asked"
    )
    response = clinic["client"].post("/kiosk/", _form(appointment))
    assert kiosks.SEE_THE_DESK.encode() in response.content
    assert not _events(action="scheduling.kiosk.check_in", outcome="failure").exists()


def test_revoked_inactive_and_unknown_kiosks_are_not_enrolled(clinic):
    org, kiosk, client = clinic["org"], clinic["kiosk"], clinic["client"]
    admin = admin_ctx(org)
    assert Client().get("/kiosk/").status_code == 403
    assert kiosk_client("made-up").get("/kiosk/").status_code == 403
    kiosks.kiosk_set_active(ctx=admin, kiosk_id=kiosk.id, active=False)
    page = client.get("/kiosk/")
    assert page.status_code == 403
    assert b"This device is not enrolled" in page.content
    assert client.post("/kiosk/", _form(clinic["appointment"])).status_code == 403
    with pytest.raises(Conflict):
        kiosks.kiosk_enrol(ctx=admin, kiosk_id=kiosk.id)
    kiosks.kiosk_set_active(ctx=admin, kiosk_id=kiosk.id, active=True)
    assert client.get("/kiosk/").status_code == 200
    kiosks.kiosk_revoke(ctx=admin, kiosk_id=kiosk.id)
    assert client.get("/kiosk/").status_code == 403
    # Enrolling anew gives a new token: a device enrolled before stops working.
    _kiosk, first = kiosks.kiosk_enrol(ctx=admin, kiosk_id=kiosk.id)
    _kiosk, second = kiosks.kiosk_enrol(ctx=admin, kiosk_id=kiosk.id)
    assert kiosk_client(first).get("/kiosk/").status_code == 403
    assert kiosk_client(second).get("/kiosk/").status_code == 200
    assert status_of(clinic["appointment"]) == "pending"
    with pytest.raises(NotFound):
        kiosks.kiosk_revoke(ctx=admin_ctx(OrganizationFactory()), kiosk_id=kiosk.id)  # another organization's


def test_the_kiosk_context_may_check_in_and_nothing_else(clinic):
    ctx = kiosks.kiosk_ctx(clinic["kiosk"], Ctx.anonymous())
    assert ctx.permissions == frozenset({"scheduling.appointment.check_in"})
    assert (ctx.actor_id, ctx.actor_kind, ctx.device_id) == (None, "device", clinic["kiosk"].id)
    with pytest.raises(Forbidden):
        selectors.appointment_list(ctx=ctx)
    with pytest.raises(Forbidden):
        services.appointment_book(
            ctx=ctx,
            patient_id=clinic["appointment"].patient_id,
            practitioner_id=clinic["doctor"].id,
            start_at=clinic["appointment"].start_at,
        )
    with pytest.raises(NotFound):
        services.appointment_transition(ctx=ctx, appointment_id=clinic["appointment"].id, to_status="cancelled")
    display, _token = enrolled_kiosk(clinic["org"], kind=KioskKind.DISPLAY, department=clinic["department"])
    with pytest.raises(Forbidden):
        kiosks.kiosk_check_in(
            ctx=kiosks.kiosk_ctx(display, Ctx.anonymous()),
            kiosk=display,
            reference=clinic["appointment"].reference,
            birth_date=clinic["appointment"].patient.birth_date,
        )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("APT-7K3M9Q2D", "APT-7K3M9Q2D"),
        ("apt 7k3m 9q2d", "APT-7K3M9Q2D"),
        ("7K3M9Q2D", "APT-7K3M9Q2D"),
        ("APT-OIL00000", "APT-01100000"),
        ("APT-7K3M9Q2", None),
        ("APT-7K3M9Q2U", None),
        ("", None),
    ],
)
def test_references_are_read_as_people_type_them(typed, expected):
    assert kiosks.normalize_reference(typed) == expected
