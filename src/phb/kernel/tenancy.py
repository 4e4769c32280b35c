"""Binding the database session to a tenant: the second wall behind `for_tenant(ctx)`.

On PostgreSQL every tenant-owned table has a row-level security policy (see `kernel.db`) that shows
only rows whose `organization_id` equals the transaction's `phb.organization_id` setting. Every
evaluation of a tenant queryset and every save of a tenant row runs inside `bound(...)`, which sets
that value for the current transaction (`set_config(..., true)`), so a query that escaped the ORM's
filter still sees nothing of another organization. On SQLite there is no such wall and `bound` is free.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from django.db import connections, transaction

from phb.kernel.context import Ctx

GUC_ORGANIZATION = "phb.organization_id"
GUC_ALL_TENANTS = "phb.all_tenants"
# On the connection: ((organization, all tenants), the atomic block of the `bound` that set them).
_BINDING = "_phb_tenant_binding"


class UnscopedQuery(RuntimeError):
    """A tenant-owned model was queried without `for_tenant(ctx)` (or an explicit system scope)."""


class TenantRequired(RuntimeError):
    """The context names no organization, so there is no tenant to scope the query to."""


@contextlib.contextmanager
def bound(*, organization_id: uuid.UUID | None, all_tenants: bool = False, using: str = "default") -> Iterator[None]:
    """Run the enclosed queries with the database session bound to one organization (or, for system
    work, to all of them). Opens a transaction when none is open: `set_config(..., true)` lasts for the
    transaction only, so a binding never leaks into another request on a pooled connection."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    key = (str(organization_id or ""), bool(all_tenants))
    current = getattr(connection, _BINDING, None)
    if current is not None and connection.atomic_blocks and current == (key, connection.atomic_blocks[-1]):
        # Directly inside a `bound` to the same tenant (no block opened since, in the same transaction):
        # the setting is already what it should be. A tenant queryset evaluated in a view's `bound`
        # costs no second round trip.
        yield
        return
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true)",
            [GUC_ORGANIZATION, key[0], GUC_ALL_TENANTS, "on" if all_tenants else ""],
        )
        block = connection.atomic_blocks[-1]
        setattr(connection, _BINDING, (key, block))
        try:
            yield
        finally:
            # Whatever binding was noted ends with the block that set it: after a nested `bound` to
            # another tenant (or after this one), the next `bound` sets the value again.
            if getattr(connection, _BINDING, None) is not None:
                setattr(connection, _BINDING, None)


@contextlib.contextmanager
def tenant_cursor(ctx: Ctx, *, using: str = "default") -> Iterator[object]:
    """A raw cursor bound to `ctx`'s organization: for hand-written SQL over tenant-owned tables."""
    if ctx.organization_id is None:
        raise TenantRequired("a tenant cursor needs a context with an organization")
    with bound(organization_id=ctx.organization_id, using=using), connections[using].cursor() as cursor:
        yield cursor
