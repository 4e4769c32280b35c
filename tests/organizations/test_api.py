"""/api/v1/organizations/: operators list and create; members read their own; others' are not found."""

import pytest

from phb.kernel.context import Ctx
from phb.kernel.models import Organization
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
