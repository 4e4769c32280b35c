"""Domain events through a transactional outbox.

`publish(ctx, event)` writes the event, and one delivery row per subscribed handler, in the caller's
transaction: a rolled-back change publishes nothing, a committed one is never lost. The dispatcher
(`dispatch_due`, run by the worker every few seconds and nudged after each commit) calls each handler in
its own transaction, at least once: handlers must be idempotent. A failing handler is retried with
exponential backoff and, after `OUTBOX_MAX_ATTEMPTS`, parked with its error for an operator to see
(admin, `phb outbox`) and retry.

    @dataclass(frozen=True)
    class AppointmentBooked(Event):
        name = "scheduling.appointment_booked"
        appointment_id: uuid.UUID

    @subscriber(AppointmentBooked)
    def remind_patient(event: AppointmentBooked) -> None: ...
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import traceback
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import structlog
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from phb.kernel.context import Ctx

log = structlog.get_logger("phb.events")


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of every domain event: a frozen dataclass named in the past tense."""

    name: ClassVar[str]


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]

_events: dict[str, type[Event]] = {}
_subscribers: dict[str, dict[str, Handler]] = {}


def _handler_name(func: Handler) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def subscriber(event_type: type[E]) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    """Subscribe a handler to an event type. Handlers live in an app's `handlers.py`."""

    def register(func: Callable[[E], None]) -> Callable[[E], None]:
        _events.setdefault(event_type.name, event_type)
        _subscribers.setdefault(event_type.name, {})[_handler_name(func)] = func
        return func

    return register


def subscribers_of(name: str) -> dict[str, Handler]:
    return dict(_subscribers.get(name, {}))


def _encode(event: Event) -> dict[str, Any]:
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return typing.cast(dict[str, Any], _jsonable(data))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | dt.datetime | dt.date | Decimal):
        return DjangoJSONEncoder().default(value)
    return value


_DECODERS: dict[Any, Callable[[Any], Any]] = {
    uuid.UUID: uuid.UUID,
    dt.datetime: dt.datetime.fromisoformat,
    dt.date: dt.date.fromisoformat,
    Decimal: Decimal,
}


def decode(name: str, payload: dict[str, Any]) -> Event:
    event_type = _events[name]
    hints = typing.get_type_hints(event_type)
    kwargs = {}
    for field in dataclasses.fields(event_type):
        value = payload.get(field.name)
        hint = hints.get(field.name)
        decoder = _DECODERS.get(hint)
        if decoder is None:  # Optional[X]
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            decoder = _DECODERS.get(args[0]) if len(args) == 1 else None
        kwargs[field.name] = decoder(value) if decoder is not None and value is not None else value
    return event_type(**kwargs)


def publish(ctx: Ctx, event: Event) -> uuid.UUID:
    """Store `event` in the caller's transaction; it is delivered after commit."""
    from phb.kernel.models import OutboxDelivery, OutboxEvent

    _events.setdefault(event.name, type(event))
    now = timezone.now()
    with transaction.atomic():
        row = OutboxEvent.objects.create(
            name=event.name,
            payload=_encode(event),
            organization_id=ctx.organization_id,
            request_id=ctx.request_id,
        )
        OutboxDelivery.objects.bulk_create(
            OutboxDelivery(event=row, handler=handler, next_attempt_at=now)
            for handler in sorted(subscribers_of(event.name))
        )
    if getattr(settings, "OUTBOX_NUDGE_ON_COMMIT", True):
        transaction.on_commit(_nudge_dispatcher)
    return row.id


def _nudge_dispatcher() -> None:
    from phb.kernel.tasks import dispatch_outbox

    try:
        dispatch_outbox.delay()
    except Exception:  # the broker being down loses nothing: the schedule picks the event up
        log.warning("outbox.nudge_failed", exc_info=True)


def backoff_seconds(attempts: int) -> float:
    """2, 4, 8, ... seconds after the 1st, 2nd, 3rd failure; capped at one hour."""
    return float(min(2**attempts, 3600))


def describe_error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-5:]
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(exc).__module__}.{type(exc).__qualname__} at {where}"[:2000]


def dispatch_due(*, limit: int = 200) -> dict[str, int]:
    """Deliver every due delivery once. Returns counts by outcome.

    Each delivery is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL) so several workers
    share the work without handing one event twice at once, then run in its own transaction.
    """
    from phb.kernel.models import DeliveryStatus, OutboxDelivery

    ctx = Ctx.system(reason="outbox dispatch")
    counts = {"delivered": 0, "failed": 0, "parked": 0}
    max_attempts = settings.OUTBOX_MAX_ATTEMPTS
    for _ in range(limit):
        with transaction.atomic():
            qs = (
                OutboxDelivery.objects.select_related("event")
                .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at")
            )
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            delivery = qs.first()
            if delivery is None:
                break
            handler = subscribers_of(delivery.event.name).get(delivery.handler)
            delivery.attempts += 1
            error = ""
            try:
                if handler is None:
                    raise LookupError(f"no handler {delivery.handler} is registered")
                with transaction.atomic():
                    handler(decode(delivery.event.name, delivery.event.payload))
            except Exception as exc:
                # The handler's own changes were rolled back with its savepoint. The error kept for
                # operators is the exception's type and where it was raised, not its message, which
                # may quote patient data.
                error = describe_error(exc)
            if not error:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
                counts["delivered"] += 1
            elif delivery.attempts >= max_attempts:
                delivery.status = DeliveryStatus.PARKED
                delivery.last_error = error
                counts["parked"] += 1
                log.error(
                    "outbox.delivery_parked",
                    handler=delivery.handler,
                    event_name=delivery.event.name,
                    delivery_id=str(delivery.id),
                    attempts=delivery.attempts,
                    system=ctx.system_reason,
                )
            else:
                delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=backoff_seconds(delivery.attempts))
                delivery.last_error = error
                counts["failed"] += 1
                log.warning(
                    "outbox.delivery_failed",
                    handler=delivery.handler,
                    event_name=delivery.event.name,
                    delivery_id=str(delivery.id),
                    attempts=delivery.attempts,
                )
            delivery.save(
                update_fields=[
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "delivered_at",
                    "last_error",
                    "updated_at",
                ]
            )
    return counts


def retry_parked(*, delivery_ids: list[uuid.UUID] | None = None) -> int:
    """Put parked deliveries back in the queue (an operator fixed the cause)."""
    from phb.kernel.models import DeliveryStatus, OutboxDelivery

    qs = OutboxDelivery.objects.filter(status=DeliveryStatus.PARKED)
    if delivery_ids is not None:
        qs = qs.filter(id__in=delivery_ids)
    return qs.update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
