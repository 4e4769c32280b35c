"""The ORM wall: tenant-owned models cannot be queried without a scope, and a scope shows one tenant."""

import pytest
from django.db.models import Count

from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.kernel.tenancy import TenantRequired, UnscopedQuery
from phb.organizations.models import Department
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def departments(org_a, org_b):
    return (
        [DepartmentFactory(organization=org_a, code=f"a-{i}") for i in range(3)],
        [DepartmentFactory(organization=org_b, code=f"b-{i}") for i in range(2)],
    )


UNSCOPED_OPERATIONS = {
    "list": lambda: list(Department.objects.all()),
    "filter": lambda: list(Department.objects.filter(kind="outpatients")),
    "get": lambda: Department.objects.get(code="a-0"),
    "first": lambda: Department.objects.first(),
    "count": lambda: Department.objects.count(),
    "exists": lambda: Department.objects.exists(),
    "values_list": lambda: list(Department.objects.values_list("code", flat=True)),
    "aggregate": lambda: Department.objects.aggregate(n=Count("id")),
    "iterator": lambda: list(Department.objects.iterator()),
    "update": lambda: Department.objects.update(name="renamed"),
    "delete": lambda: Department.objects.all().delete(),
    "in_bulk": lambda: Department.objects.in_bulk(),
    "bool": lambda: bool(Department.objects.all()),
    "subquery": lambda: list(
        Organization.objects.for_platform(Ctx.system(reason="t")).filter(
            id__in=Department.objects.values("organization_id")
        )
    ),
}


@pytest.mark.parametrize("operation", list(UNSCOPED_OPERATIONS))
def test_a_query_without_a_tenant_scope_raises(departments, operation):
    with pytest.raises(UnscopedQuery):
        UNSCOPED_OPERATIONS[operation]()
    # and nothing was changed by the refused writes
    assert Department.objects.for_system(Ctx.system(reason="t")).count() == 5
    assert not Department.objects.for_system(Ctx.system(reason="t")).filter(name="renamed").exists()


def test_for_tenant_returns_only_that_organizations_rows(departments, ctx_a, ctx_b, org_a, org_b):
    a_rows = list(Department.objects.for_tenant(ctx_a))
    b_rows = list(Department.objects.for_tenant(ctx_b))
    assert {d.organization_id for d in a_rows} == {org_a.id}
    assert {d.organization_id for d in b_rows} == {org_b.id}
    assert len(a_rows) == 3
    assert len(b_rows) == 2


def test_for_tenant_cannot_reach_another_tenants_row_by_id(departments, ctx_a):
    b_department = departments[1][0]
    assert not Department.objects.for_tenant(ctx_a).filter(id=b_department.id).exists()
    with pytest.raises(Department.DoesNotExist):
        Department.objects.for_tenant(ctx_a).get(id=b_department.id)


def test_for_tenant_update_and_delete_touch_only_that_tenant(departments, ctx_a, ctx_b):
    assert Department.objects.for_tenant(ctx_a).update(name="A renamed") == 3
    assert not Department.objects.for_tenant(ctx_b).filter(name="A renamed").exists()
    Department.objects.for_tenant(ctx_a).delete()
    assert Department.objects.for_tenant(ctx_b).count() == 2


def test_a_scope_survives_chaining(departments, ctx_a):
    qs = Department.objects.for_tenant(ctx_a).filter(kind="outpatients").order_by("code").exclude(code="a-9")
    assert [d.code for d in qs] == ["a-0", "a-1", "a-2"]
    assert qs.count() == 3


def test_for_tenant_without_an_organization_raises(departments):
    with pytest.raises(TenantRequired):
        Department.objects.for_tenant(Ctx(actor_id=None))


def test_for_system_needs_a_system_context(departments, org_a):
    user_ctx = Ctx(actor_id=org_a.id, organization_id=org_a.id, permissions=frozenset({"everything"}))
    with pytest.raises(UnscopedQuery):
        Department.objects.for_system(user_ctx)
    assert Department.objects.for_system(Ctx.system(reason="nightly job")).count() == 5


def test_system_context_requires_a_reason():
    with pytest.raises(ValueError, match="reason"):
        Ctx.system(reason="  ")


def test_union_with_an_unscoped_queryset_raises(departments, ctx_a):
    with pytest.raises(UnscopedQuery):
        list(Department.objects.for_tenant(ctx_a).union(Department.objects.all()))


def test_bulk_create_refuses_rows_of_another_tenant(org_a, org_b, ctx_a):
    with pytest.raises(UnscopedQuery):
        Department.objects.for_tenant(ctx_a).bulk_create(
            [Department(organization=org_b, name="x", kind="icu", code="x")]
        )
    created = Department.objects.for_tenant(ctx_a).bulk_create(
        [Department(organization=org_a, name="x", kind="icu", code="x")]
    )
    assert len(created) == 1


def test_model_validation_checks_uniqueness_within_the_tenant(departments, org_a, org_b):
    from django.core.exceptions import ValidationError

    duplicate = Department(organization=org_a, name="Again", kind="icu", code="a-0")
    with pytest.raises(ValidationError, match="already exists"):
        duplicate.full_clean()
    # the same code in another organization is fine
    Department(organization=org_b, name="Again", kind="icu", code="a-0").full_clean()


def test_organizations_are_scoped_too(org_a, org_b, ctx_a):
    with pytest.raises(UnscopedQuery):
        list(Organization.objects.all())
    assert list(Organization.objects.for_tenant(ctx_a)) == [org_a]


def test_related_access_through_a_foreign_key_still_works(departments, ctx_a, org_a):
    department = Department.objects.for_tenant(ctx_a).first()
    assert department.organization == org_a
