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
    with transaction.atomic(using=using, savepoint=False):
        # The binding in force is remembered on the outermost atomic block, with the savepoints open
        # when it was set. It still holds while those savepoints are open (a savepoint rolled back
        # undoes `set_config`, and leaves the chain): the same binding asked again costs no round trip.
        outermost = connection.atomic_blocks[0]
        chain = tuple(sid for sid in connection.savepoint_ids if sid)
        wanted = (str(organization_id or ""), "on" if all_tenants else "")
        held = getattr(outermost, "phb_binding", None)
        pending = getattr(outermost, "phb_settings", None)
        if held is None or held[1] != wanted or held[0] != chain[: len(held[0])] or pending:
            settings = {GUC_ORGANIZATION: wanted[0], GUC_ALL_TENANTS: wanted[1], **(pending or {})}
            _set_local(connection, settings)
            outermost.phb_binding, outermost.phb_settings = (chain, wanted), None
        yield


def set_local(name: str, value: str, *, using: str = "default") -> None:
    """Set a configuration parameter for the rest of the open transaction (`SET LOCAL`), sent with the
    transaction's next tenant binding: one round trip for both. A transaction that binds no tenant never
    sends it, so this is for settings whose absence is safe: the commit mode (`synchronous_commit`).
    Outside a transaction, or off PostgreSQL, it does nothing."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    outermost = connection.atomic_blocks[0]
    outermost.phb_settings = {**(getattr(outermost, "phb_settings", None) or {}), name: value}


def _set_local(connection: object, settings: dict[str, str]) -> None:
    calls = ", ".join(["set_config(%s, %s, true)"] * len(settings))
    with connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SELECT {calls}", [v for pair in settings.items() for v in pair])


@contextlib.contextmanager
def tenant_cursor(ctx: Ctx, *, using: str = "default") -> Iterator[object]:
    """A raw cursor bound to `ctx`'s organization: for hand-written SQL over tenant-owned tables."""
    if ctx.organization_id is None:
        raise TenantRequired("a tenant cursor needs a context with an organization")
    with bound(organization_id=ctx.organization_id, using=using), connections[using].cursor() as cursor:
        yield cursor
