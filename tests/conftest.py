"""Shared test fixtures: two organizations, contexts for them, API clients signed in with a role.

Each app keeps its own factories (tests/<app>/factories.py); this file holds only what every app's
tests need to exercise tenancy.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.test import APIClient

from phb.kernel.context import Ctx
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.kernel.factories import OrganizationFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row-level security, triggers, pg_dump); run with DATABASE_URL=postgres://..."
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def org_a(db):
    return OrganizationFactory(name="Hospital A", code="hospital-a")


@pytest.fixture
def org_b(db):
    return OrganizationFactory(name="Hospital B", code="hospital-b")


@pytest.fixture
def ctx_a(org_a) -> Ctx:
    return Ctx.system(reason="test", organization_id=org_a.id)


@pytest.fixture
def ctx_b(org_b) -> Ctx:
    return Ctx.system(reason="test", organization_id=org_b.id)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def member_client(db) -> Callable[..., APIClient]:
    """An API client signed in (second factor passed) as a new member of `organization` holding `roles`."""

    def make(organization, *roles: str, **user_fields) -> APIClient:
        user = UserFactory(**user_fields)
        if organization is not None:
            MembershipFactory(user=user, organization=organization, roles=list(roles))
        return verified_client(user)

    return make


@pytest.fixture
def operator_client(db) -> APIClient:
    return verified_client(UserFactory(is_platform_operator=True))


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"
