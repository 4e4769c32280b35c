"""The audit trail: one `record()` for every read and write of personal health information and every
security event; a hash chain that makes any later change, deletion or insertion detectable.

Durability: an audit row of a write is inserted in the writer's transaction and commits with it. An
audit row of a read made outside any transaction is committed with `synchronous_commit = off` on
PostgreSQL: the read does not wait for a disk sync, and a crash of the database server can lose at most
the last few hundred milliseconds of read-audit rows (never a row of a write).

Sealing (`seal()`, scheduled every 30 seconds): events older than a grace period (so that transactions
in flight have committed) are appended to the chain in (time, id) order; each link stores the event's
hash and `sha256(previous link ‖ event hash)`. `verify()` recomputes everything and names each altered,
deleted or inserted event and each broken link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from phb.kernel import tenancy
from phb.kernel.context import Ctx

GENESIS = "0" * 64
SEAL_GRACE = dt.timedelta(seconds=60)
CHAIN_LOCK = int.from_bytes(hashlib.sha256(b"phb.audit.chain").digest()[:8], "big", signed=True)
# `phb migrate` creates the audit table's monthly partitions this many months ahead; the daily task and
# the system check insist on PARTITION_MONTHS_REQUIRED of them.
PARTITION_MONTHS_AHEAD = 12
PARTITION_MONTHS_REQUIRED = 3
_HASHED_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_kind",
    "roles",
    "organization_id",
    "patient_id",
    "action",
    "resource_type",
    "resource_id",
    "outcome",
    "purpose_of_use",
    "ip",
    "user_agent",
    "request_id",
    "reason",
    "detail",
)


HEALTH_DATA_READERS: dict[str, Any] = {}


def reads_health_data(fn: Any) -> Any:
    """Mark a selector that returns personal health information to its caller. Each one must record an
    audit event on every call (denied calls included); a test walks them all (tests/test_reads_audited.py)."""
    HEALTH_DATA_READERS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def record(
    ctx: Ctx,
    action: str,
    *,
    target: models.Model | None = None,
    patient_id: uuid.UUID | None = None,
    outcome: str = "success",
    resource_type: str = "",
    resource_id: Any = "",
    reason: str = "",
    read: bool = False,
    organization_id: uuid.UUID | None = None,
    **detail: Any,
) -> None:
    """Record one audit event. `action` is "<app>.<entity>.<verb>"; `detail` holds ids and codes only."""
    from phb.kernel.models import AuditEvent

    if target is not None:
        resource_type = resource_type or target._meta.label
        resource_id = resource_id or target.pk
    if ctx.device_id is not None:
        detail.setdefault("device_id", str(ctx.device_id))  # a device acts with no user: name it
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor_id=ctx.actor_id,
        actor_kind=ctx.actor_kind,
        roles=",".join(sorted(ctx.roles)),
        organization_id=organization_id or ctx.organization_id,
        patient_id=patient_id,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id or ""),
        outcome=outcome,
        purpose_of_use=ctx.purpose_of_use,
        ip=ctx.ip,
        user_agent=ctx.user_agent[:300],
        request_id=ctx.request_id,
        reason=reason or ctx.system_reason or "",
        detail=detail,
    )
    pending = _write_batch.get()
    if pending is not None and outcome == "success" and not read:
        pending.append(event)  # inserted with the batch, before its transaction commits
    elif read and connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            event.save(force_insert=True)
    else:
        event.save(force_insert=True)


_whole: ContextVar[bool] = ContextVar("phb_audit_whole", default=False)


@contextmanager
def whole() -> Iterator[None]:
    """Inside, `atomic()` opens no savepoint: the caller runs the block as one unit of work that an
    error rolls back whole (an imported Bundle, retried entry by entry when one fails), so the
    services' savepoints would cost two round trips each for nothing."""
    token = _whole.set(True)
    try:
        yield
    finally:
        _whole.reset(token)


_write_batch: ContextVar[list[Any] | None] = ContextVar("phb_audit_write_batch", default=None)


@contextmanager
def write_batch() -> Iterator[None]:
    """The successful write events of one transaction (an imported Bundle: every resource created)
    inserted together in one statement at the end of the block, inside the transaction, so that they
    commit or roll back with the writes they record exactly as one `record()` each would. Each event
    keeps the time and id it was given when recorded, so sealing chains them in the same (time, id)
    order. Refusals and reads are written at once, as outside a batch. Must run inside a transaction;
    an error leaving the block drops the pending events (the transaction rolls back with them)."""
    from phb.kernel.models import AuditEvent

    if not connection.in_atomic_block:
        raise RuntimeError("audit.write_batch() needs an open transaction")
    if _write_batch.get() is not None:  # already batching: the outer block writes them
        yield
        return
    pending: list[Any] = []
    token = _write_batch.set(pending)
    try:
        yield
    finally:
        _write_batch.reset(token)
    if pending:
        AuditEvent.objects.get_queryset()._across_tenants().bulk_create(pending, batch_size=1000)


@dataclass
class _Denial:
    ctx: Ctx
    action: str
    detail: dict[str, Any]
    depth: int  # how many atomic blocks were open when the row was written


def denied(ctx: Ctx, action: str, error: Exception, **detail: Any) -> Exception:
    """Record a refused access and return the error to raise: `raise audit.denied(ctx, action, NotFound())`.

    Raised inside a transaction, the refusal's row would be rolled back with it: a service that may
    refuse inside its transaction opens it with `atomic()` below, which records the refusal again once
    the transaction has rolled back."""
    record(ctx, action, outcome="denied", read=True, **detail)
    error._audit_denial = _Denial(ctx, action, detail, len(connection.atomic_blocks))  # type: ignore[attr-defined]
    return error


@contextmanager
def atomic() -> Iterator[None]:
    """`transaction.atomic()` whose refusals outlive it: an error from `denied()` leaving the block has
    had its audit row rolled back with the block, so the row is written again outside it (and again by
    each enclosing `atomic()` that rolls back in turn)."""
    depth = len(connection.atomic_blocks)
    try:
        with transaction.atomic(savepoint=not _whole.get()):
            yield
    except Exception as exc:
        denial = getattr(exc, "_audit_denial", None)
        # Inside a savepoint-less block (`whole()`) the transaction cannot be written to until it has
        # rolled back: an enclosing atomic() records the refusal then.
        if isinstance(denial, _Denial) and denial.depth > depth and not connection.needs_rollback:
            denial.depth = depth
            record(denial.ctx, denial.action, outcome="denied", read=True, **denial.detail)
        raise


def event_hash(values: dict[str, Any]) -> str:
    canonical = {k: values[k] for k in _HASHED_FIELDS}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


def _link_hash(previous: str, event: str) -> str:
    return hashlib.sha256(f"{previous}{event}".encode()).hexdigest()


def seal(*, now: dt.datetime | None = None, batch: int = 5000) -> int:
    """Append events older than the grace period to the chain. Returns how many were sealed."""
    from phb.kernel.models import AuditChainLink, AuditEvent

    cutoff = (now or timezone.now()) - SEAL_GRACE
    system = Ctx.system(reason="seal the audit chain")
    sealed = 0
    while True:
        with transaction.atomic():
            _lock_chain()
            last = AuditChainLink.objects.order_by("-position").first()
            events = AuditEvent.objects.for_system(system).filter(occurred_at__lte=cutoff)
            if last is not None:
                last_event = (
                    AuditEvent.objects.for_system(system).filter(id=last.event_id).values("occurred_at").first()
                )
                if last_event is not None:
                    events = events.filter(
                        models.Q(occurred_at__gt=last_event["occurred_at"])
                        | models.Q(occurred_at=last_event["occurred_at"], id__gt=last.event_id)
                    )
            rows = list(events.order_by("occurred_at", "id").values(*_HASHED_FIELDS)[:batch])
            if not rows:
                return sealed
            position, previous = (last.position, last.chain_hash) if last else (0, GENESIS)
            links = []
            for row in rows:
                position += 1
                h = event_hash(row)
                previous = _link_hash(previous, h)
                links.append(
                    AuditChainLink(
                        position=position,
                        event_id=row["id"],
                        event_hash=h,
                        chain_hash=previous,
                        sealed_at=timezone.now(),
                    )
                )
            AuditChainLink.objects.bulk_create(links)
            sealed += len(links)


def _lock_chain() -> None:
    """One sealer at a time, until the end of the transaction. Not SELECT ... FOR UPDATE: that needs the
    UPDATE privilege, which the application role does not hold on the chain (README, "Database roles").
    SQLite transactions here take the write lock when they begin."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])


@dataclass(frozen=True)
class Problem:
    kind: str  # altered | deleted | inserted | broken_link
    event_id: str
    position: int | None
    detail: str

    def __str__(self) -> str:
        where = f" at chain position {self.position}" if self.position is not None else ""
        return f"{self.kind}: event {self.event_id}{where} — {self.detail}"


def verify(*, chunk: int = 10000) -> list[Problem]:
    """Walk the whole chain; the first problem is the first broken place."""
    from phb.kernel.models import AuditChainLink, AuditEvent

    system = Ctx.system(reason="verify the audit chain")
    problems: list[Problem] = []
    previous = GENESIS
    last_key: tuple[dt.datetime, uuid.UUID] | None = None
    after = 0
    while True:
        links = list(AuditChainLink.objects.filter(position__gt=after).order_by("position")[:chunk])
        if not links:
            break
        events = {
            row["id"]: row
            for row in AuditEvent.objects.for_system(system)
            .filter(id__in=[link.event_id for link in links])
            .values(*_HASHED_FIELDS)
        }
        for link in links:
            if link.chain_hash != _link_hash(previous, link.event_hash):
                problems.append(
                    Problem(
                        "broken_link",
                        str(link.event_id),
                        link.position,
                        "the chain does not continue from the previous link",
                    )
                )
            previous = link.chain_hash
            row = events.get(link.event_id)
            if row is None:
                problems.append(Problem("deleted", str(link.event_id), link.position, "a sealed event is missing"))
                continue
            if event_hash(row) != link.event_hash:
                problems.append(
                    Problem("altered", str(link.event_id), link.position, "the event differs from what was sealed")
                )
            last_key = (row["occurred_at"], row["id"])
        after = links[-1].position
    # Events older than the last sealed one that are not in the chain were inserted behind the application.
    if last_key is not None:
        linked = AuditChainLink.objects.values("event_id")
        strays = (
            AuditEvent.objects.for_system(system)
            .filter(models.Q(occurred_at__lt=last_key[0]) | models.Q(occurred_at=last_key[0], id__lt=last_key[1]))
            .exclude(id__in=linked)
            .order_by("occurred_at", "id")
            .values_list("id", flat=True)
        )
        problems += [
            Problem("inserted", str(i), None, "an event older than the sealed chain is not in it") for i in strays
        ]
    return problems


def search(
    ctx: Ctx,
    *,
    since: dt.datetime,
    until: dt.datetime,
    patient_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    outcome: str | None = None,
    break_glass: bool = False,
) -> models.QuerySet[Any]:
    """Events of `ctx`'s organization in [since, until) (never later than now), newest first."""
    from phb.kernel.models import AuditEvent

    events = AuditEvent.objects.for_tenant(ctx).filter(
        occurred_at__gte=since, occurred_at__lt=min(until, timezone.now())
    )
    if patient_id:
        events = events.filter(patient_id=patient_id)
    if actor_id:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action=action)
    if outcome:
        events = events.filter(outcome=outcome)
    if break_glass:
        events = events.filter(models.Q(purpose_of_use="ETREAT") | models.Q(action__startswith="accounts.break_glass."))
    return events.order_by("-occurred_at", "-id")


class PartitionsMissing(RuntimeError):
    """The audit table lacks a coming month's partition and the application role may not create it."""


def ensure_partitions(*, months_ahead: int = PARTITION_MONTHS_REQUIRED) -> list[str]:
    """Monthly partitions of the audit table for this month and the next ones (PostgreSQL); returns
    those created. They are created as the owner role (DATABASE_OWNER_URL) when it is configured, or as
    the application role when it owns the table (one role). An application role that does not own it
    cannot create them: then this only checks that they exist and raises PartitionsMissing if not."""
    from phb.kernel import db
    from phb.kernel.models import AuditEvent

    table = AuditEvent._meta.db_table
    if connection.vendor != "postgresql":
        return []
    with db.connected_as_owner(connection) as application_role:
        if db.role_owns_table(connection, table):
            with transaction.atomic():  # a new partition never stands fully granted to the application
                created = db.ensure_month_partitions(connection, table, months_ahead=months_ahead)
                if created and application_role:
                    db.grant_application_privileges(connection, application_role)
            return created
    missing = db.missing_month_partitions(connection, table, months_ahead=months_ahead)
    if missing:
        raise PartitionsMissing(
            f"audit partitions missing: {', '.join(missing)}; the application role may not create them. "
            "Run `phb migrate` with DATABASE_OWNER_URL set: it creates them "
            f"{PARTITION_MONTHS_AHEAD} months ahead (README, 'Database roles')."
        )
    return []


def retention_cutoff() -> dt.datetime:
    """Events older than this may be archived (whole monthly partitions); younger ones never."""
    from django.conf import settings

    return timezone.now() - dt.timedelta(days=round(365.25 * settings.AUDIT_RETENTION_YEARS))


@contextmanager
def read_batch() -> Iterator[None]:
    """Many read events of one request (a search page names each patient it shows), or a page's reads
    and its event, in one transaction: on PostgreSQL with `synchronous_commit = off`, as `record(...,
    read=True)` does for one event. A refusal (`denied()`) raised inside outlives its rollback, as with
    `atomic()`."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with atomic():
        # Sent with the transaction's tenant binding, in the same statement.
        tenancy.set_local("synchronous_commit", "off")
        yield
