"""Fetch one organization by id: raw psycopg (reference) vs the ORM with for_tenant vs the REST API in-process."""

from __future__ import annotations

import uuid
from typing import Any

from bench.runner import CheckFailed, Variant, Workload

FIXTURE_ORGANIZATIONS = 1000


def build(dsn: str) -> Workload:
    import psycopg
    from rest_framework.test import APIClient

    from phb.accounts.models import Membership, User
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization

    system = Ctx.system(reason="bench fixtures")
    orgs = Organization.objects.for_platform(system)
    if orgs.filter(code__startswith="bench-").count() < FIXTURE_ORGANIZATIONS:
        existing = set(orgs.filter(code__startswith="bench-").values_list("code", flat=True))
        for i in range(FIXTURE_ORGANIZATIONS):
            code = f"bench-{i:05d}"
            if code not in existing:
                Organization.objects.create(name=f"Bench Hospital {i}", kind="hospital", code=code)
    target = orgs.get(code="bench-00500")
    user = User.objects.filter(email="bench-member@phb.example").first()
    if user is None:
        user = User.objects.create_user("bench-member@phb.example", "bench-password-2026", full_name="Bench Member")
        Membership.objects.create(organization=target, user=user, roles=["doctor"])
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    client = APIClient()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

    ctx = Ctx(actor_id=user.id, organization_id=target.id)
    columns = ", ".join(f'"{f.column}"' for f in Organization._meta.concrete_fields)
    sql = f'SELECT {columns} FROM "kernel_organization" WHERE "id" = %s'
    conn = psycopg.connect(dsn, autocommit=True)
    url = f"/api/v1/organizations/{target.id}/"

    def raw() -> Any:
        with conn.cursor() as cur:
            cur.execute(sql, (target.id,))
            return cur.fetchone()

    def orm() -> Any:
        return Organization.objects.for_tenant(ctx).get(id=target.id)

    def api() -> Any:
        return client.get(url)

    def check_raw(row: Any) -> None:
        if row is None or row[0] != target.id or target.name not in row:
            raise CheckFailed("raw SQL did not return the organization")

    def check_orm(org: Any) -> None:
        if org.id != target.id or org.name != target.name:
            raise CheckFailed("the ORM returned another organization")

    def check_api(response: Any) -> None:
        if response.status_code != 200 or response.json().get("id") != str(target.id):
            raise CheckFailed(f"the API answered {response.status_code}")

    assert isinstance(target.id, uuid.UUID)
    return Workload(
        name="org_fetch",
        description="one organization by primary key among 1,000",
        reference=Variant("a. raw psycopg", raw, check_raw),
        variants=[Variant("b. ORM for_tenant", orm, check_orm), Variant("c. REST API in-process", api, check_api)],
        teardown=conn.close,
    )
