"""Queue tickets and the waiting-room display: numbers per department and day from a locked counter
(never twice, even for concurrent check-ins on PostgreSQL), tickets at the desk, over the API and in
the staff queue; the display shows tickets and practitioners, never a patient."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.test import Client

from phb.scheduling import services, tickets
from phb.scheduling.models import KioskKind, QueueTicket
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import desk_ctx, practitioner, staff_ctx
from tests.scheduling.frontdesk import SYSTEM, book_today, enrolled_kiosk, kiosk_client

pytestmark = pytest.mark.django_db


def _ticket(appointment) -> str:
    return QueueTicket.objects.for_system(SYSTEM).get(appointment=appointment).code


@pytest.fixture
def clinic(org_a):
    cardiology = DepartmentFactory(organization=org_a, code="cardiology", name="Cardiology")
    doctor_user = UserFactory(full_name="Ada Okafor")
    doctor = practitioner(org_a, department=cardiology)
    from phb.workforce.models import PractitionerProfile

    PractitionerProfile.objects.for_system(SYSTEM).filter(id=doctor.id).update(user=doctor_user)
    return {"org": org_a, "cardiology": cardiology, "doctor": doctor, "doctor_user": doctor_user}


def test_tickets_count_up_per_department_and_day_and_an_appointment_keeps_its_own(clinic):
    org, desk = clinic["org"], desk_ctx(clinic["org"])
    first, second = book_today(org, clinic["doctor"], hour=9), book_today(org, clinic["doctor"], hour=10)
    paediatrics = practitioner(org, department=DepartmentFactory(organization=org, code="paediatrics-2"))
    child = book_today(org, paediatrics, hour=9)
    for appointment in (first, second, child):
        services.appointment_check_in(ctx=desk, appointment_id=appointment.id)
    assert [_ticket(first), _ticket(second), _ticket(child)] == ["CAR-001", "CAR-002", "PAE-001"]
    ticket = QueueTicket.objects.for_system(SYSTEM).get(appointment=first)
    assert tickets.ticket_issue(ctx=desk, appointment=first).id == ticket.id  # idempotent
    assert ticket.kiosk_id is None
    assert [tickets.ticket_prefix(c) for c in ("ent", "a-b", "--", "x1")] == ["ENT", "AB", "TKT", "X1"]


def test_the_api_check_in_gives_a_ticket_and_the_queue_shows_it(clinic, member_client):
    org = clinic["org"]
    appointment = book_today(org, clinic["doctor"])
    desk = member_client(org, "receptionist")
    response = desk.post(f"/api/v1/appointments/{appointment.id}/check-in/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "checked_in"
    [entry] = desk.get("/api/v1/appointments/queue/").json()
    assert entry["ticket"] == "CAR-001"
    page = verified_client(_staff(org, "receptionist"), Client()).get("/staff/scheduling/queue/")
    assert b'data-testid="ticket">CAR-001<' in page.content


def _staff(org, *roles):
    user = UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return user


def test_the_display_shows_tickets_and_practitioners_and_no_patient(clinic):
    org, desk = clinic["org"], desk_ctx(clinic["org"])
    seen = book_today(org, clinic["doctor"], hour=9, chief_complaint="palpitations")
    waiting = book_today(org, clinic["doctor"], hour=10)
    elsewhere = book_today(org, practitioner(org), hour=9)  # another department
    for appointment in (seen, waiting, elsewhere):
        services.appointment_check_in(ctx=desk, appointment_id=appointment.id)
    services.appointment_transition(
        ctx=staff_ctx(org, "doctor", user=clinic["doctor_user"]), appointment_id=seen.id, to_status="in_progress"
    )
    _kiosk, token = enrolled_kiosk(org, kind=KioskKind.DISPLAY, department=clinic["cardiology"])
    display = kiosk_client(token)
    page = display.get("/kiosk/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Cardiology" in body
    assert "CAR-001" in body and "with Ada Okafor" in body  # noqa: PT018
    assert "CAR-002" in body
    assert _ticket(elsewhere) not in body
    # Patients' names are invented at random: one may be the doctor's, or a word of the page's text.
    scrubbed = body.replace("Ada Okafor", "")
    for appointment in (seen, waiting, elsewhere):
        patient = appointment.patient
        for private in (patient.given_name, patient.family_name, patient.hpn, appointment.reference):
            assert not re.search(rf"\b{re.escape(private)}\b", scrubbed), private
    assert "palpitations" not in body
    assert 'hx-trigger="every 5s"' in body
    partial = display.get("/kiosk/display/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b"<html" not in partial.content
    assert b"CAR-002" in partial.content
    # A display checks nobody in; a check-in kiosk has no board.
    assert display.post("/kiosk/", {"reference": waiting.reference}).status_code == 200
    _checkin, checkin_token = enrolled_kiosk(org)
    assert kiosk_client(checkin_token).get("/kiosk/display/").status_code == 403


def test_a_revoked_display_reloads_itself_to_say_so(clinic):
    from phb.scheduling import kiosks
    from tests.scheduling.factories import admin_ctx

    kiosk, token = enrolled_kiosk(clinic["org"], kind=KioskKind.DISPLAY, department=clinic["cardiology"])
    kiosks.kiosk_revoke(ctx=admin_ctx(clinic["org"]), kiosk_id=kiosk.id)
    response = kiosk_client(token).get("/kiosk/display/", HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert response["HX-Refresh"] == "true"


def test_the_display_reads_no_patient_row(clinic):
    org, desk = clinic["org"], desk_ctx(clinic["org"])
    _kiosk, token = enrolled_kiosk(org, kind=KioskKind.DISPLAY, department=clinic["cardiology"])
    display = kiosk_client(token)

    def queries():
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert display.get("/kiosk/display/").status_code == 200
        assert not any("patients_patient" in q["sql"] for q in captured.captured_queries)
        return len(captured)

    services.appointment_check_in(ctx=desk, appointment_id=book_today(org, clinic["doctor"], hour=9).id)
    one = queries()
    for hour in (10, 11):
        services.appointment_check_in(ctx=desk, appointment_id=book_today(org, clinic["doctor"], hour=hour).id)
    assert queries() == one


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_check_ins_of_one_department_never_share_a_number(org_a):
    desk = desk_ctx(org_a)
    department = DepartmentFactory(organization=org_a, code="cardiology")
    doctors = [practitioner(org_a, department=department) for _ in range(2)]
    appointments = [book_today(org_a, doctors[i % 2], hour=8 + i) for i in range(8)]
    barrier = threading.Barrier(len(appointments))
    outcomes: list[object] = []
    lock = threading.Lock()

    def check_in(appointment):
        try:
            barrier.wait()
            services.appointment_check_in(ctx=desk, appointment_id=appointment.id)
            result: object = "ok"
        except Exception as exc:  # any error fails the test below
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=check_in, args=(a,)) for a in appointments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * len(appointments), outcomes
    numbers = sorted(QueueTicket.objects.for_tenant(desk).values_list("number", flat=True))
    assert numbers == list(range(1, len(appointments) + 1))
