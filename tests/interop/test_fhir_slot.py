"""FHIR Slot: computed from a practitioner's Schedule (weekly windows, closures, appointments), read by
its id and searched by schedule and start range; free, busy and busy-unavailable; paging; the bounded
range and the other refusals with their stable codes; another organization sees nothing; auditing;
the CapabilityStatement. Every resource emitted is validated with fhir.resources' R4B models."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.scheduling import services, slots
from phb.workforce import services as workforce
from tests.interop.fhir_helpers import BASE, fhir_get, staff_client, system_client, validate
from tests.scheduling.factories import admin_ctx, desk_ctx, local, practitioner, registered_patient, tomorrow

pytestmark = pytest.mark.django_db


def _z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _search(client, **params):
    query = urlencode(params, doseq=True)
    return fhir_get(client, f"Slot?{query}")


def _day(organization, doctor, day, **more):
    return {
        "schedule": f"Schedule/{doctor.id}",
        "start": [
            f"ge{_z(local(organization, day, 0))}",
            f"lt{_z(local(organization, day + dt.timedelta(days=1), 0))}",
        ],
        "_count": "200",
        **more,
    }


def _slots(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return [e["resource"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]


def _code(response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]["details"]["coding"][0]["code"]


def _events(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


@pytest.fixture
def calendar(org_a):
    """A doctor of A with 30-minute slots from 8:00 to 12:00 every day; tomorrow 9:00 booked."""
    doctor = practitioner(org_a, starts_at=dt.time(8, 0), ends_at=dt.time(12, 0), slot_minutes=30)
    day = tomorrow(org_a)
    booked_at = local(org_a, day, 9, 0)
    services.appointment_book(
        ctx=desk_ctx(org_a), patient_id=registered_patient(org_a).id, practitioner_id=doctor.id, start_at=booked_at
    )
    return {"doctor": doctor, "day": day, "booked_at": booked_at}


def test_a_days_slots_are_free_or_busy_as_the_appointments_say(org_a, calendar):
    client = staff_client(org_a, "receptionist")
    doctor, day, booked_at = calendar["doctor"], calendar["day"], calendar["booked_at"]
    found = _slots(_search(client, **_day(org_a, doctor, day)))
    assert len(found) == 8
    assert [s["start"] for s in found] == sorted(s["start"] for s in found)
    assert {s["schedule"]["reference"] for s in found} == {f"Schedule/{doctor.id}"}
    busy = [s for s in found if s["status"] == "busy"]
    assert [s["start"] for s in busy] == [_z(booked_at)]
    assert busy[0]["end"] == _z(booked_at + dt.timedelta(minutes=30))
    # The free ones are exactly the REST API's free slots.
    free = slots.slots_free(ctx=desk_ctx(org_a), practitioner_id=doctor.id, start_date=day, end_date=day)
    assert [s["start"] for s in found if s["status"] == "free"] == [_z(s.start_at) for s in free]
    # The id names the schedule, the start and the length, nothing else.
    assert busy[0]["id"] == f"{doctor.id}.{booked_at.astimezone(dt.UTC):%Y%m%dT%H%M}Z.30"
    # status narrows; the search is audited without its values.
    assert [s["start"] for s in _slots(_search(client, **_day(org_a, doctor, day, status="busy")))] == [_z(booked_at)]
    assert len(_slots(_search(client, **_day(org_a, doctor, day, status="free,busy")))) == 8
    assert _slots(_search(client, **_day(org_a, doctor, day, status="entered-in-error"))) == []
    event = _events(action="interop.fhir.search", resource_type="fhir.Slot").first()
    assert event is not None
    assert event.patient_id is None
    assert str(doctor.id) not in str(event.detail)
    assert "schedule" in str(event.detail)


def test_a_slot_is_read_by_its_id_and_gone_when_the_schedule_no_longer_makes_it(org_a, calendar):
    client = staff_client(org_a, "doctor")
    doctor, day, booked_at = calendar["doctor"], calendar["day"], calendar["booked_at"]
    busy_id = f"{doctor.id}.{booked_at.astimezone(dt.UTC):%Y%m%dT%H%M}Z.30"
    response = fhir_get(client, f"Slot/{busy_id}")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "busy"
    assert _events(action="interop.fhir.read", resource_type="fhir.Slot", resource_id=busy_id).count() == 1
    ten = local(org_a, day, 10, 0)
    free_id = f"{doctor.id}.{ten.astimezone(dt.UTC):%Y%m%dT%H%M}Z.30"
    assert fhir_get(client, f"Slot/{free_id}").json()["status"] == "free"
    # A closure over 10:00 makes it busy-unavailable; the day's slots say so too.
    workforce.closure_add(
        ctx=admin_ctx(org_a), practitioner_id=doctor.id, starts_at=ten, ends_at=ten + dt.timedelta(hours=1)
    )
    assert fhir_get(client, f"Slot/{free_id}").json()["status"] == "busy-unavailable"
    statuses = [s["status"] for s in _slots(_search(client, **_day(org_a, doctor, day)))]
    assert statuses.count("busy-unavailable") == 2
    assert statuses.count("busy") == 1
    # Not slots: another length, a time between slots, outside the window, in the past, malformed ids.
    yesterday = local(org_a, day - dt.timedelta(days=2), 9, 0)
    for gone in (
        f"{doctor.id}.{ten.astimezone(dt.UTC):%Y%m%dT%H%M}Z.45",
        f"{doctor.id}.{(ten + dt.timedelta(minutes=10)).astimezone(dt.UTC):%Y%m%dT%H%M}Z.30",
        f"{doctor.id}.{local(org_a, day, 13, 0).astimezone(dt.UTC):%Y%m%dT%H%M}Z.30",
        f"{doctor.id}.{yesterday.astimezone(dt.UTC):%Y%m%dT%H%M}Z.30",
        f"{doctor.id}.20261399T9900Z.30",
        f"{doctor.id}.{ten.astimezone(dt.UTC):%Y%m%dT%H%M}Z.0",
        "not-a-slot",
    ):
        response = fhir_get(client, f"Slot/{gone}")
        assert response.status_code == 404, gone
        assert _code(response) == "NOT_FOUND"
    assert _events(action="interop.fhir.read", resource_type="fhir.Slot", outcome="denied").count() == 7


def test_slots_page_with_count(org_a, calendar):
    client = system_client(org_a, "system/Slot.read")
    doctor, day = calendar["doctor"], calendar["day"]
    params = _day(org_a, doctor, day)
    params["_count"] = "3"
    seen: list[str] = []
    response = _search(client, **params)
    while True:
        body = response.json()
        assert body["total"] == 8
        seen += [s["id"] for s in _slots(response)]
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not following:
            break
        assert str(doctor.id) not in following[0]  # the cursor is opaque
        response = client.get(following[0])
        assert response.status_code == 200, response.content
        validate(response.json())
    assert len(seen) == 8 == len(set(seen))


def test_bad_searches_are_refused_with_stable_codes(org_a, calendar):
    client = staff_client(org_a, "receptionist")
    doctor, day = calendar["doctor"], calendar["day"]
    start = _z(local(org_a, day, 0))
    cases = [
        ({"start": [f"ge{start}", "lt2099-01-01"]}, "SLOT_SCHEDULE_REQUIRED"),
        ({"schedule": f"Schedule/{doctor.id}"}, "SLOT_RANGE_REQUIRED"),
        ({"schedule": f"Schedule/{doctor.id}", "start": f"ge{start}"}, "SLOT_RANGE_REQUIRED"),
        ({"schedule": f"Schedule/{doctor.id}", "start": [f"ge{start}", "lt2099-01-01"]}, "SLOT_RANGE_TOO_LONG"),
        ({**_day(org_a, doctor, day), "status": "maybe"}, "VALIDATION_ERROR"),
        ({**_day(org_a, doctor, day), "schedule": "Patient/1"}, "VALIDATION_ERROR"),
        ({**_day(org_a, doctor, day), "schedule": f"Schedule/{doctor.id},Schedule/{doctor.id}"}, "VALIDATION_ERROR"),
        ({**_day(org_a, doctor, day), "start": "ge2026-13-45"}, "VALIDATION_ERROR"),
        ({**_day(org_a, doctor, day), "_count": "0"}, "VALIDATION_ERROR"),
    ]
    for params, code in cases:
        response = _search(client, **params)
        assert response.status_code == 400, (params, response.content)
        assert _code(response) == code, params
    # A month is allowed; an unknown parameter is reported (an error with Prefer: handling=strict).
    month = {
        "schedule": f"Schedule/{doctor.id}",
        "start": [f"ge{start}", f"lt{_z(local(org_a, day, 0) + dt.timedelta(days=31))}"],
    }
    assert _search(client, **month).json()["total"] == 31 * 8
    response = _search(client, **_day(org_a, doctor, day, colour="blue"))
    assert [e["resource"]["resourceType"] for e in response.json()["entry"]][-1] == "OperationOutcome"
    strict = client.get(
        BASE + "Slot?" + urlencode(_day(org_a, doctor, day, colour="blue"), doseq=True), HTTP_PREFER="handling=strict"
    )
    assert strict.status_code == 400
    assert _code(strict) == "UNKNOWN_PARAMETER"
    # ge after lt: no slot.
    empty = {
        "schedule": f"Schedule/{doctor.id}",
        "start": [f"ge{_z(local(org_a, day, 11))}", f"lt{_z(local(org_a, day, 9))}"],
    }
    assert _search(client, **empty).json()["total"] == 0


def test_who_may_see_slots(org_a, calendar):
    doctor, day = calendar["doctor"], calendar["day"]
    params = _day(org_a, doctor, day)
    assert _search(system_client(org_a), **params).json()["total"] == 8  # system/*.read
    response = _search(system_client(org_a, "system/Patient.read"), **params)
    assert response.status_code == 403
    assert _code(response) == "INSUFFICIENT_SCOPE"
    response = _search(staff_client(org_a, "cashier"), **params)
    assert response.status_code == 403
    assert _code(response) == "FORBIDDEN"
    assert fhir_get(staff_client(org_a, "cashier"), "Slot/x").status_code == 403


def test_another_organization_sees_none_of_the_slots(org_a, org_b, calendar):
    doctor, day, booked_at = calendar["doctor"], calendar["day"], calendar["booked_at"]
    slot_id = f"{doctor.id}.{booked_at.astimezone(dt.UTC):%Y%m%dT%H%M}Z.30"
    for client in (system_client(org_b), staff_client(org_b, "receptionist")):
        response = fhir_get(client, f"Slot/{slot_id}")
        assert response.status_code == 404
        assert _code(response) == "NOT_FOUND"
        found = _search(client, **_day(org_a, doctor, day))
        assert found.status_code == 200
        assert found.json()["total"] == 0


def test_the_capability_statement_declares_slot_as_served(api_client):
    body = api_client.get(BASE + "metadata").json()
    entry = next(r for r in body["rest"][0]["resource"] if r["type"] == "Slot")
    assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in entry["searchParam"]} == {"schedule", "start", "status"}
    validate(body)
