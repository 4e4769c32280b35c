"""The organization calendar API: opening hours (read by staff, replaced by administrators) and public
holidays; another organization's calendar is "not found"; duplicates and bad input are refused."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
WEEK = {"hours": [{"weekday": w, "opens_at": "08:00", "closes_at": "17:00"} for w in range(5)]}


def _base(organization):
    return f"/api/v1/organizations/{organization.id}/"


def test_an_administrator_sets_the_opening_hours_and_staff_read_them(org_a, member_client):
    admin, doctor = member_client(org_a, "hospital_admin"), member_client(org_a, "doctor")
    response = admin.put(_base(org_a) + "opening-hours/", WEEK, format="json")
    assert response.status_code == 200, response.json()
    assert len(response.json()) == 5
    assert doctor.get(_base(org_a) + "opening-hours/").json()[0] == {
        "weekday": 0,
        "opens_at": "08:00:00",
        "closes_at": "17:00:00",
    }
    refused = doctor.put(_base(org_a) + "opening-hours/", WEEK, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")
    overlapping = {"hours": [*WEEK["hours"], {"weekday": 0, "opens_at": "16:00", "closes_at": "19:00"}]}
    response = admin.put(_base(org_a) + "opening-hours/", overlapping, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert response.json()["errors"][0]["code"] == "OPENING_HOURS_OVERLAP"
    bad = {"hours": [{"weekday": 8, "opens_at": "08:00", "closes_at": "07:00"}]}
    assert admin.put(_base(org_a) + "opening-hours/", bad, format="json").status_code == 400
    assert len(admin.get(_base(org_a) + "opening-hours/").json()) == 5  # unchanged
    assert admin.put(_base(org_a) + "opening-hours/", {"hours": []}, format="json").json() == []


def test_holidays_are_added_listed_refused_twice_and_removed(org_a, member_client):
    admin = member_client(org_a, "hospital_admin")
    url = _base(org_a) + "holidays/"
    created = admin.post(url, {"date": "2027-05-01", "name": "Workers' Day"}, format="json")
    assert created.status_code == 201, created.json()
    admin.post(url, {"date": "2027-06-12", "name": "Democracy Day"}, format="json")
    duplicate = admin.post(url, {"date": "2027-05-01", "name": "Labour Day"}, format="json")
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "HOLIDAY_EXISTS")
    listed = admin.get(url, {"from_date": "2027-06-01"}).json()
    assert [(h["date"], h["name"]) for h in listed["results"]] == [("2027-06-12", "Democracy Day")]
    assert admin.get(url, {"from_date": "2027-07-01", "to_date": "2027-06-01"}).status_code == 400
    assert admin.post(url, {"date": "someday", "name": "x"}, format="json").status_code == 400
    assert admin.delete(f"{url}{created.json()['id']}/").status_code == 204
    assert admin.delete(f"{url}{created.json()['id']}/").status_code == 404
    desk = member_client(org_a, "receptionist")
    assert desk.post(url, {"date": "2027-10-01", "name": "Independence Day"}, format="json").status_code == 403


def test_another_organizations_calendar_is_not_found(org_a, org_b, member_client):
    admin_b = member_client(org_b, "hospital_admin")
    holiday = admin_b.post(_base(org_b) + "holidays/", {"date": "2027-01-01", "name": "New Year's Day"}, format="json")
    admin_a = member_client(org_a, "hospital_admin")
    for method, path, body in (
        ("get", _base(org_b) + "opening-hours/", None),
        ("put", _base(org_b) + "opening-hours/", WEEK),
        ("get", _base(org_b) + "holidays/", None),
        ("post", _base(org_b) + "holidays/", {"date": "2027-01-02", "name": "x"}),
        ("delete", _base(org_b) + f"holidays/{holiday.json()['id']}/", None),
        # Through one's own organization, another's holiday is not found either.
        ("delete", _base(org_a) + f"holidays/{holiday.json()['id']}/", None),
    ):
        response = getattr(admin_a, method)(path, body, format="json")
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), (method, path)
    assert admin_b.get(_base(org_b) + "holidays/").json()["count"] == 1
