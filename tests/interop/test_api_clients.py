"""API clients: scopes of a closed grammar, the token endpoint, the administrator's page and the
operator's command. Secrets are kept only as hashes."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command

from phb.accounts import api_clients
from phb.accounts.models import ApiClient, Membership, User
from phb.kernel.context import Ctx
from phb.kernel.errors import ValidationFailed
from tests.accounts.factories import UserFactory
from tests.interop.fhir_helpers import staff_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "scopes",
    [
        "system/Patient.delete",
        "user/Patient.read",
        "system/Spaceship.read",
        "",
        "system/AuditEvent.write",
        "system/*.x",
    ],
)
def test_scopes_outside_the_grammar_are_refused(scopes):
    with pytest.raises(ValidationFailed):
        api_clients.parse_scopes(scopes)


def test_the_command_prints_the_secret_once_and_keeps_its_hash(org_a, api_client):
    out = io.StringIO()
    call_command(
        "api-client",
        "create",
        "--organization",
        str(org_a.id),
        "--scopes",
        "system/Patient.read",
        stdout=out,
        stderr=io.StringIO(),
    )
    lines = dict(line.split(": ", 1) for line in out.getvalue().splitlines())
    stored = ApiClient.objects.for_tenant(Ctx.system(reason="test", organization_id=org_a.id)).get()
    assert stored.client_id == lines["client_id"]
    assert lines["client_secret"] not in stored.secret_hash
    assert stored.secret_hash == api_clients.secret_hash(lines["client_secret"])
    wrong = api_client.post(
        "/oauth/token", {"grant_type": "client_credentials", "client_id": lines["client_id"], "client_secret": "x"}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    wider = api_client.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": lines["client_id"],
            "client_secret": lines["client_secret"],
            "scope": "system/Observation.read",
        },
    )
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    granted = api_client.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": lines["client_id"], "client_secret": lines["client_secret"]},
    )
    assert granted.json()["scope"] == "system/Patient.read"
    assert api_client.post("/oauth/token", {"grant_type": "password"}).json()["error"] == "unsupported_grant_type"


def test_an_administrator_registers_and_revokes_a_client_on_the_page(org_a, org_b):
    admin = staff_client(org_a, "hospital_admin")
    response = admin.post("/accounts/api-clients/", {"name": "City lab", "scopes": "system/Observation.read"})
    assert response.status_code == 200
    assert b"not shown again" in response.content
    client = ApiClient.objects.for_tenant(Ctx.system(reason="test", organization_id=org_a.id)).get()
    assert staff_client(org_b, "hospital_admin").post(f"/accounts/api-clients/{client.id}/revoke/").status_code == 404
    assert staff_client(org_a, "doctor").get("/accounts/api-clients/").status_code == 403
    assert admin.post(f"/accounts/api-clients/{client.id}/revoke/").status_code == 302
    client.refresh_from_db()
    assert client.revoked_at is not None
    bad = admin.post("/accounts/api-clients/", {"name": "X", "scopes": "system/AuditEvent.write"})
    assert bad.status_code == 400
    writer = admin.post("/accounts/api-clients/", {"name": "Importer", "scopes": "system/Patient.* system/*.read"})
    assert writer.status_code == 200
    assert b"not shown again" in writer.content


def test_the_token_endpoint_slows_down_an_address_that_asks_too_often(monkeypatch, client):
    from phb.accounts.client_views import _TokenThrottle

    monkeypatch.setattr(_TokenThrottle, "rate", "3/min", raising=False)  # as if THROTTLE_OAUTH_TOKEN=3/min
    address = "203.0.113.77"  # its own history: other tests' requests come from 127.0.0.1
    asked = [
        client.post(
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": "x", "client_secret": "guess"},
            REMOTE_ADDR=address,
        )
        for _ in range(4)
    ]
    assert [r.status_code for r in asked] == [401, 401, 401, 429]
    assert asked[-1].json()["error"] == "slow_down"
    assert int(asked[-1]["Retry-After"]) >= 1


def test_write_scopes_follow_the_smart_grammar():
    scopes = api_clients.parse_scopes("system/Patient.write system/Observation.* system/*.read")
    assert api_clients.scope_types(scopes, access="write") == {"Patient", "Observation"}
    assert "AuditEvent" in api_clients.scope_types(scopes)
    assert api_clients.scope_types(["system/Patient.write"]) == frozenset()
    assert api_clients.scope_types(["system/*.*"], access="write") == set(api_clients.WRITE_SCOPE_PERMISSIONS)
    permissions = api_clients.scope_permissions(["system/Patient.write"])
    assert "patients.registration.manage" in permissions
    assert "patients.demographics.view" not in permissions  # writing is not reading
    assert "patients.demographics.view" in api_clients.scope_permissions(["system/Patient.*"])
    with pytest.raises(ValueError, match="access"):
        api_clients.scope_types(scopes, access="delete")


def test_the_token_endpoint_grants_write_scopes_within_those_registered(org_a, api_client):
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    registered, secret = api_clients.api_client_create(ctx=ctx, name="Import", scopes="system/*.*")
    form = {"grant_type": "client_credentials", "client_id": registered.client_id, "client_secret": secret}
    assert api_client.post("/oauth/token", form).json()["scope"] == "system/*.*"
    narrower = api_client.post("/oauth/token", {**form, "scope": "system/Patient.write system/Condition.read"})
    assert narrower.json()["scope"] == "system/Condition.read system/Patient.write"
    reader, reader_secret = api_clients.api_client_create(ctx=ctx, name="Reader", scopes="system/*.read")
    wider = api_client.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": reader.client_id,
            "client_secret": reader_secret,
            "scope": "system/Patient.write",
        },
    )
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")


def test_a_client_writes_in_the_name_of_its_inactive_service_user(org_a):
    from phb.accounts.public import acting_user_id

    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    registered, _ = api_clients.api_client_create(ctx=ctx, name="City lab", scopes="system/Patient.write")
    client_ctx = Ctx.client(
        client_id=registered.id, organization_id=org_a.id, scopes=frozenset(), permissions=frozenset()
    )
    user_id = acting_user_id(client_ctx)
    user = User.objects.get(id=user_id)
    assert (user.full_name, user.is_active, user.has_usable_password()) == ("City lab (API client)", False, False)
    assert user.email == f"client-{registered.client_id}@clients.invalid"
    assert not Membership.objects.for_system(Ctx.system(reason="test")).filter(user=user).exists()
    # a client registered before service users existed gets one on first use, once
    older = ApiClient.objects.for_tenant(ctx).create(
        organization_id=org_a.id, name="Old lab", client_id="phb-old", secret_hash="0" * 64, scopes=["system/*.*"]
    )
    older_ctx = Ctx.client(client_id=older.id, organization_id=org_a.id, scopes=frozenset(), permissions=frozenset())
    fresh = acting_user_id(older_ctx)
    assert fresh != user_id
    assert acting_user_id(older_ctx) == fresh
    assert User.objects.get(id=fresh).full_name == "Old lab (API client)"
    staff = UserFactory()
    assert acting_user_id(Ctx(actor_id=staff.id, organization_id=org_a.id)) == staff.id
    with pytest.raises(PermissionError):
        acting_user_id(ctx)
    other = Ctx.client(
        client_id=registered.id, organization_id=uuid.uuid4(), scopes=frozenset(), permissions=frozenset()
    )
    with pytest.raises(PermissionError):
        acting_user_id(other)


def test_a_client_with_its_service_user_writes_without_locking_its_row(org_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from phb.accounts.public import acting_user_id

    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    registered, _ = api_clients.api_client_create(ctx=ctx, name="Ward monitor", scopes="system/Observation.write")
    client_ctx = Ctx.client(
        client_id=registered.id, organization_id=org_a.id, scopes=frozenset(), permissions=frozenset()
    )
    first = acting_user_id(client_ctx)
    with CaptureQueriesContext(connection) as queries:
        assert acting_user_id(client_ctx) == first
    assert not [q for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    revoked_elsewhere = Ctx.client(
        client_id=registered.id, organization_id=uuid.uuid4(), scopes=frozenset(), permissions=frozenset()
    )
    with pytest.raises(PermissionError):
        acting_user_id(revoked_elsewhere)


def test_each_client_has_its_own_request_rate(monkeypatch, org_a, org_b):
    """THROTTLE_USER counts each client's requests apart: one client at its limit slows no other."""
    from tests.interop.fhir_helpers import system_client

    monkeypatch.setattr(
        api_clients.ClientRateThrottle,
        "THROTTLE_RATES",
        {**api_clients.ClientRateThrottle.THROTTLE_RATES, "user": "3/min"},
    )
    busy, other, elsewhere = system_client(org_a), system_client(org_a), system_client(org_b)
    assert [busy.get("/fhir/r4/Patient").status_code for _ in range(3)] == [200, 200, 200]
    refused = busy.get("/fhir/r4/Patient")
    assert refused.status_code == 429
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert int(refused["Retry-After"]) >= 1
    assert other.get("/fhir/r4/Patient").status_code == 200
    assert elsewhere.get("/fhir/r4/Patient").status_code == 200
