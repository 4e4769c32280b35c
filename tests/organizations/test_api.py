"""/api/v1/organizations/: operators list and create; members read their own; others' are not found."""

import re

import pytest
import yaml
from rest_framework.test import APIClient

from phb.accounts.models import Membership
from phb.kernel.context import Ctx
from phb.kernel.ids import uuid7
from phb.kernel.models import Organization, OutboxEvent
from phb.kernel.rest import PagePagination
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.kernel.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
LIST = "/api/v1/organizations/"
PROBLEM = "application/problem+json"


def all_orgs():
    return Organization.objects.for_platform(Ctx.system(reason="test"))


def test_an_operator_lists_every_organization(operator_client, org_a, org_b):
    response = operator_client.get(LIST)
    assert response.status_code == 200
    assert {o["code"] for o in response.json()["results"]} == {"hospital-a", "hospital-b"}


def test_a_member_lists_only_their_organizations(member_client, org_a, org_b):
    client = member_client(org_a, "doctor")
    body = client.get(LIST).json()
    assert body["count"] == 1
    assert [o["id"] for o in body["results"]] == [str(org_a.id)]


def test_anonymous_gets_401_problem_details(api_client, org_a):
    response = api_client.get(LIST)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "UNAUTHORIZED"
    assert {"type", "title", "status"} <= body.keys()


def test_a_member_cannot_create_organizations(member_client, org_a):
    response = member_client(org_a, "hospital_admin").post(
        LIST, {"name": "X", "type": "clinic", "code": "x"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert not all_orgs().filter(code="x").exists()


def test_an_operator_creates_an_organization_with_a_registration_number(operator_client):
    network = OrganizationFactory(kind="network", code="net")
    response = operator_client.post(
        LIST,
        {
            "name": "Riverside Clinic",
            "type": "clinic",
            "code": "riverside",
            "parent": str(network.id),
            "currency": "GHS",
            "timezone": "Africa/Accra",
            "country": "GH",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["registration_number"].startswith("CLN-")
    assert len(body["registration_number"]) == 12
    created = all_orgs().get(code="riverside")
    assert created.parent_id == network.id
    assert created.currency == "GHS"
    assert created.timezone == "Africa/Accra"


def test_defaults_are_lagos_time_and_naira(operator_client):
    response = operator_client.post(
        LIST, {"name": "Default Hospital", "type": "hospital", "code": "default-h"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["timezone"] == "Africa/Lagos"
    assert response.json()["currency"] == "NGN"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "clinic", "code": "c1"}, "name"),
        ({"name": "X", "type": "spaceship", "code": "c2"}, "type"),
        ({"name": "X", "type": "clinic", "code": "c3", "currency": "ngn"}, "currency"),
        ({"name": "X", "type": "clinic", "code": "c4", "timezone": "Mars/Base"}, "timezone"),
        ({"name": "X", "type": "clinic", "code": "not a slug"}, "code"),
        ({"name": "X", "type": "clinic", "code": "c5", "parent": "not-a-uuid"}, "parent"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(operator_client, payload, field):
    response = operator_client.post(LIST, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert field in {e["field"] for e in body["errors"]}
    assert all_orgs().count() == 0


def test_a_parent_must_be_a_network(operator_client, org_a):
    response = operator_client.post(
        LIST, {"name": "X", "type": "clinic", "code": "x1", "parent": str(org_a.id)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "parent"


def test_an_unknown_parent_is_not_found(operator_client):
    response = operator_client.post(
        LIST,
        {"name": "X", "type": "clinic", "code": "x2", "parent": "01a20e29-fa91-7052-b9ca-3949621b439a"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_a_duplicate_code_is_a_conflict_and_writes_nothing(operator_client, org_a):
    response = operator_client.post(LIST, {"name": "Again", "type": "clinic", "code": "hospital-a"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "CONFLICT"
    assert all_orgs().filter(code="hospital-a").count() == 1


def test_two_requests_racing_for_one_code_give_a_conflict_not_a_server_error(operator_client, org_a, monkeypatch):
    # The other request's row commits between this one's checks and its insert: the unique constraint
    # is what catches it.
    from phb.kernel.models import ScopedQuerySet

    monkeypatch.setattr(ScopedQuerySet, "exists", lambda self: False)
    monkeypatch.setattr(type(Organization.objects.all()), "exists", lambda self: False, raising=False)
    response = operator_client.post(LIST, {"name": "Again", "type": "clinic", "code": "hospital-a"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "CONFLICT"
    monkeypatch.undo()
    assert all_orgs().filter(code="hospital-a").count() == 1


def test_a_member_reads_their_organization(member_client, org_a):
    response = member_client(org_a, "nurse").get(f"{LIST}{org_a.id}/")
    assert response.status_code == 200
    assert response.json()["name"] == "Hospital A"


def test_another_tenants_organization_is_not_found_not_forbidden(member_client, org_a, org_b):
    response = member_client(org_a, "hospital_admin").get(f"{LIST}{org_b.id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "01a20e29-fa91-7052-b9ca-3949621b439a", "%00"])
def test_malformed_or_unknown_ids_are_404_never_500(operator_client, bad_id):
    response = operator_client.get(f"{LIST}{bad_id}/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_pagination(operator_client):
    for i in range(5):
        OrganizationFactory(code=f"p-{i}")
    body = operator_client.get(LIST, {"page_size": 2}).json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] is not None
    last = operator_client.get(LIST, {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1
    assert operator_client.get(LIST, {"page": 99}).status_code == 404


def test_the_list_query_count_does_not_grow_with_the_rows(operator_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        operator_client.get(LIST)  # settle per-session writes (activity tracking)
        with CaptureQueriesContext(connection) as ctx:
            assert operator_client.get(LIST).status_code == 200
        return len(ctx.captured_queries)

    OrganizationFactory(code="first")
    few = count()
    for i in range(30):
        OrganizationFactory(code=f"q-{i}")
    assert count() == few <= 12


def test_unknown_api_urls_and_methods_are_problem_details(operator_client):
    missing = operator_client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM
    wrong_method = operator_client.delete(LIST)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_a_staff_member_without_a_second_factor_is_refused(org_a):
    from rest_framework.test import APIClient

    from tests.accounts.factories import MembershipFactory

    membership = MembershipFactory(organization=org_a, roles=["hospital_admin"])
    client = APIClient()
    client.force_login(membership.user)  # password only, no second factor
    for url in (LIST, f"{LIST}{org_a.id}/"):
        response = client.get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "MFA_REQUIRED"


def test_the_openapi_schema_and_docs_are_served(api_client):
    schema = api_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/organizations/" in schema.content
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


# --- further cases --------------------------------------------------------------------------------------
REGISTRATION_NUMBER = r"^{prefix}-[0-9A-HJKMNP-TV-Z]{{8}}$"  # Crockford base 32: no I, L, O or U


def outbox_events(name="organizations.organization_created"):
    return OutboxEvent.objects.filter(name=name)


@pytest.mark.parametrize(("kind", "prefix"), [("hospital", "HSP"), ("laboratory", "LAB"), ("network", "NET")])
def test_a_created_organization_gets_a_registration_number_and_keeps_its_code(operator_client, kind, prefix):
    response = operator_client.post(
        LIST, {"name": "Unity Teaching Hospital", "type": kind, "code": "unity-teaching"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert re.match(REGISTRATION_NUMBER.format(prefix=prefix), body["registration_number"]), body
    assert body["code"] == "unity-teaching"
    assert body["type"] == kind
    stored = all_orgs().get(id=body["id"])
    assert (stored.code, stored.kind, stored.registration_number) == (
        "unity-teaching",
        kind,
        body["registration_number"],
    )
    # ... and the new organization is then readable at its own URL
    assert operator_client.get(f"{LIST}{body['id']}/").json()["registration_number"] == body["registration_number"]


def test_creating_an_organization_publishes_one_event_with_the_request_id(operator_client):
    response = operator_client.post(
        LIST, {"name": "Evented Clinic", "type": "clinic", "code": "evented"}, format="json"
    )
    assert response.status_code == 201
    (event,) = outbox_events()
    assert event.payload["organization_id"] == response.json()["id"]
    assert event.request_id == response["X-Request-ID"]


def test_registration_numbers_are_unique(operator_client):
    numbers = {
        operator_client.post(LIST, {"name": f"C{i}", "type": "clinic", "code": f"c-{i}"}, format="json").json()[
            "registration_number"
        ]
        for i in range(20)
    }
    assert len(numbers) == 20


def test_a_member_of_two_organizations_lists_both_and_no_other(member_client, org_a, org_b):
    OrganizationFactory(code="third")
    client = member_client(org_a, "doctor")
    MembershipFactory(user=client.user, organization=org_b, roles=["nurse"])
    body = client.get(LIST).json()
    assert body["count"] == 2
    assert {o["code"] for o in body["results"]} == {"hospital-a", "hospital-b"}


def test_an_inactive_membership_shows_nothing(member_client, org_a, org_b):
    client = member_client(org_b, "doctor")
    MembershipFactory(user=client.user, organization=org_a, roles=["doctor"], is_active=False)
    assert Membership.objects.for_system(Ctx.system(reason="test")).filter(user=client.user).count() == 2
    assert [o["code"] for o in client.get(LIST).json()["results"]] == ["hospital-b"]
    assert client.get(f"{LIST}{org_a.id}/").status_code == 404


def test_anonymous_callers_are_told_how_to_authenticate_on_every_route(api_client, org_a):
    for response in (
        api_client.get(LIST),
        api_client.get(f"{LIST}{org_a.id}/"),  # 401, not 404: nothing is said about the organization
        api_client.post(LIST, {"name": "X", "type": "clinic", "code": "anon"}, format="json"),
    ):
        assert response.status_code == 401
        assert response["Content-Type"] == PROBLEM
        assert response.json()["code"] == "UNAUTHORIZED"
        assert response.json()["type"] == "urn:phb:problem:unauthorized"
        assert response.json()["status"] == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not all_orgs().filter(code="anon").exists()


@pytest.mark.parametrize("roles", [("doctor",), ("hospital_admin",), ("privacy_officer", "nurse")])
def test_no_organization_role_may_create_organizations(member_client, org_a, roles):
    response = member_client(org_a, *roles).post(LIST, {"name": "X", "type": "clinic", "code": "nope"}, format="json")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "FORBIDDEN"
    assert not all_orgs().filter(code="nope").exists()
    assert not outbox_events().exists()


def test_an_operator_without_a_second_factor_cannot_create(org_a):
    client = APIClient()
    client.force_login(UserFactory(is_platform_operator=True))
    response = client.post(LIST, {"name": "X", "type": "clinic", "code": "no-mfa"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "MFA_REQUIRED"
    assert not all_orgs().filter(code="no-mfa").exists()


def test_every_invalid_field_is_named_at_once(operator_client):
    response = operator_client.post(
        LIST, {"type": "spaceship", "code": "ok-code", "currency": "naira", "country": "ng"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"] == PROBLEM
    assert {"name", "type", "currency", "country"} <= {e["field"] for e in body["errors"]}
    assert all(e["message"] for e in body["errors"])


@pytest.mark.parametrize("body", [[], "a string", 42, None])
def test_a_body_that_is_not_an_object_is_a_validation_error(operator_client, body):
    response = operator_client.post(LIST, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_timezone_that_does_not_exist_is_refused_and_nothing_is_written(operator_client):
    response = operator_client.post(
        LIST, {"name": "Base", "type": "clinic", "code": "mars", "timezone": "Mars/Base"}, format="json"
    )
    assert response.status_code == 400
    (error,) = [e for e in response.json()["errors"] if e["field"] == "timezone"]
    assert "Mars/Base" in error["message"]
    assert not all_orgs().filter(code="mars").exists()
    assert not outbox_events().exists()


def test_a_parent_that_is_not_a_network_is_a_validation_error_and_writes_nothing(operator_client, org_a):
    response = operator_client.post(
        LIST, {"name": "X", "type": "clinic", "code": "child", "parent": str(org_a.id)}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in response.json()["errors"]] == ["parent"]
    assert not all_orgs().filter(code="child").exists()


def test_an_unknown_parent_is_a_404_problem_and_writes_nothing(operator_client):
    response = operator_client.post(
        LIST, {"name": "X", "type": "clinic", "code": "orphan", "parent": str(uuid7())}, format="json"
    )
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert not all_orgs().filter(code="orphan").exists()


def test_a_duplicate_code_leaves_the_existing_organization_untouched(operator_client, org_a):
    before = (all_orgs().count(), outbox_events().count())
    response = operator_client.post(
        LIST, {"name": "Impostor", "type": "clinic", "code": "hospital-a", "city": "Abuja"}, format="json"
    )
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "urn:phb:problem:conflict"
    assert (all_orgs().count(), outbox_events().count()) == before
    org_a.refresh_from_db()
    assert (org_a.name, org_a.kind, org_a.city) == ("Hospital A", "hospital", "Lagos")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0" * 33, "01a20e29-fa91-7052-b9ca-3949621b439a"])
def test_a_member_probing_ids_gets_404_problems(member_client, org_a, bad_id):
    response = member_client(org_a, "doctor").get(f"{LIST}{bad_id}/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "NOT_FOUND"


def test_another_tenants_organization_looks_exactly_like_one_that_does_not_exist(member_client, org_a, org_b):
    client = member_client(org_a, "hospital_admin")
    other = client.get(f"{LIST}{org_b.id}/").json()
    missing = client.get(f"{LIST}{uuid7()}/").json()
    for body in (other, missing):
        body.pop("instance")
    assert other == missing


def test_pages_link_to_each_other_and_do_not_overlap(operator_client):
    for i in range(5):
        OrganizationFactory(name=f"Org {i}", code=f"page-{i}")
    first = operator_client.get(LIST, {"page_size": 2}).json()
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert "page_size=2" in first["next"]
    second = operator_client.get(first["next"]).json()
    third = operator_client.get(second["next"]).json()
    assert third["next"] is None
    assert third["previous"] is not None
    names = [o["name"] for page in (first, second, third) for o in page["results"]]
    assert names == [f"Org {i}" for i in range(5)]  # ordered by name, each exactly once


def test_page_size_defaults_and_is_capped(operator_client):
    for i in range(3):
        OrganizationFactory(code=f"cap-{i}")
    assert len(operator_client.get(LIST).json()["results"]) == 3
    assert PagePagination.max_page_size == 200
    assert operator_client.get(LIST, {"page_size": 10_000}).status_code == 200
    for junk in ("0", "-1", "lots"):
        response = operator_client.get(LIST, {"page_size": junk})
        assert response.status_code == 200
        assert response.json()["count"] == 3
    assert operator_client.get(LIST, {"page": "lots"}).status_code == 404


def test_the_list_endpoint_runs_a_bounded_number_of_queries(operator_client, django_assert_max_num_queries):
    for i in range(25):
        OrganizationFactory(code=f"bounded-{i}")
    operator_client.get(LIST)  # settle per-session writes (activity tracking)
    with django_assert_max_num_queries(8):
        response = operator_client.get(LIST)
    assert response.status_code == 200
    assert response.json()["count"] == 25


def test_a_members_list_runs_a_bounded_number_of_queries(member_client, org_a, django_assert_max_num_queries):
    for i in range(10):
        OrganizationFactory(code=f"others-{i}")
    client = member_client(org_a, "doctor")
    client.get(LIST)
    with django_assert_max_num_queries(8):
        assert client.get(LIST).json()["count"] == 1


def test_wrong_methods_are_405_problems_that_say_what_is_allowed(operator_client, org_a):
    listing = operator_client.delete(LIST)
    assert listing.status_code == 405
    assert listing["Content-Type"] == PROBLEM
    assert {"GET", "POST"} <= {m.strip() for m in listing["Allow"].split(",")}
    assert "DELETE" not in listing["Allow"]
    detail = operator_client.put(f"{LIST}{org_a.id}/", {"name": "Renamed"}, format="json")
    assert detail.status_code == 405
    assert detail.json()["code"] == "METHOD_NOT_ALLOWED"
    org_a.refresh_from_db()
    assert org_a.name == "Hospital A"


@pytest.mark.parametrize("url", ["/api/v1/nothing/", "/api/v2/organizations/", "/api/v1/organizations/x/y/"])
def test_unknown_api_urls_are_404_problems(operator_client, url):
    response = operator_client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "NOT_FOUND"


def test_the_schema_describes_the_organizations_api_and_the_docs_are_html(api_client):
    schema = api_client.get("/api/schema/")
    assert schema.status_code == 200
    document = yaml.safe_load(schema.content)
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/organizations/", "/api/v1/organizations/{organization_id}/"} <= set(document["paths"])
    assert {"get", "post"} <= set(document["paths"]["/api/v1/organizations/"])
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")
    html = docs.content.decode()
    assert "/api/schema/" in html
    assert "http://" not in html
    assert "https://" not in html
