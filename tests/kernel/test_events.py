"""The transactional outbox: published with the change or not at all, delivered at least once,
retried with backoff, parked after too many failures, and visible to operators."""

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.models import DeliveryStatus, OutboxDelivery, OutboxEvent
from phb.organizations.models import Department
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class SampleHappened(events.Event):
    name = "tests.sample_happened"
    department_id: uuid.UUID
    at: dt.datetime
    note: str | None = None


received: list[SampleHappened] = []
failures_left = {"count": 0}


@events.subscriber(SampleHappened)
def rename_department(event: SampleHappened) -> None:
    """Idempotent: sets a name derived from the event, so a second delivery changes nothing."""
    department = Department.objects.for_system(Ctx.system(reason="test handler")).get(id=event.department_id)
    department.name = f"seen {event.note}"
    department.save()
    if failures_left["count"] > 0:
        failures_left["count"] -= 1
        raise RuntimeError("Patient Chiamaka Nwosu could not be notified")  # a message quoting personal data
    received.append(event)


@pytest.fixture(autouse=True)
def _reset():
    received.clear()
    failures_left["count"] = 0


@pytest.fixture
def department(org_a):
    return DepartmentFactory(organization=org_a, name="Original")


def publish(department, note="x"):
    ctx = Ctx.system(reason="test", organization_id=department.organization_id)
    return events.publish(ctx, SampleHappened(department_id=department.id, at=timezone.now(), note=note))


def test_publish_writes_the_event_and_one_delivery_per_subscriber(department):
    event_id = publish(department)
    row = OutboxEvent.objects.get(id=event_id)
    assert row.name == "tests.sample_happened"
    assert row.organization_id == department.organization_id
    assert row.payload["department_id"] == str(department.id)
    assert list(row.deliveries.values_list("handler", "status")) == [
        ("tests.kernel.test_events.rename_department", DeliveryStatus.PENDING)
    ]


def test_a_rolled_back_transaction_publishes_nothing(department):
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(department)
        raise RuntimeError("the change failed")
    assert not OutboxEvent.objects.exists()
    assert not OutboxDelivery.objects.exists()


def test_dispatch_delivers_the_decoded_event_once(department):
    publish(department, note="hello")
    assert events.dispatch_due() == {"delivered": 1, "failed": 0, "parked": 0}
    assert len(received) == 1
    event = received[0]
    assert isinstance(event.department_id, uuid.UUID)
    assert isinstance(event.at, dt.datetime)
    assert event.note == "hello"
    delivery = OutboxDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_at is not None
    # nothing more is due: a second run delivers nothing again
    assert events.dispatch_due() == {"delivered": 0, "failed": 0, "parked": 0}
    assert len(received) == 1


def test_a_failing_handler_is_retried_with_backoff_and_its_changes_rolled_back(department):
    failures_left["count"] = 1
    publish(department, note="retry")
    before = timezone.now()
    assert events.dispatch_due() == {"delivered": 0, "failed": 1, "parked": 0}
    delivery = OutboxDelivery.objects.get()
    assert delivery.attempts == 1
    assert delivery.next_attempt_at >= before + dt.timedelta(seconds=events.backoff_seconds(1))
    assert "RuntimeError" in delivery.last_error
    # the handler's write was undone with its failure
    assert Department.objects.for_system(Ctx.system(reason="t")).get(id=department.id).name == "Original"
    # not yet due again
    assert events.dispatch_due() == {"delivered": 0, "failed": 0, "parked": 0}
    OutboxDelivery.objects.update(next_attempt_at=timezone.now())
    assert events.dispatch_due()["delivered"] == 1
    assert Department.objects.for_system(Ctx.system(reason="t")).get(id=department.id).name == "seen retry"


def test_backoff_grows_and_is_capped():
    assert [events.backoff_seconds(n) for n in (1, 2, 3)] == [2, 4, 8]
    assert events.backoff_seconds(30) == 3600


def test_after_max_attempts_a_delivery_is_parked_with_an_error_free_of_personal_data(department, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    failures_left["count"] = 99
    publish(department)
    outcomes = []
    for _ in range(3):
        OutboxDelivery.objects.update(next_attempt_at=timezone.now())
        outcomes.append(events.dispatch_due())
    assert [o["failed"] for o in outcomes] == [1, 1, 0]
    assert outcomes[-1]["parked"] == 1
    delivery = OutboxDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PARKED
    assert delivery.attempts == 3
    assert "builtins.RuntimeError" in delivery.last_error
    assert "test_events.py" in delivery.last_error
    assert "Chiamaka" not in delivery.last_error
    # parked deliveries are not retried by the dispatcher ...
    OutboxDelivery.objects.update(next_attempt_at=timezone.now())
    assert events.dispatch_due() == {"delivered": 0, "failed": 0, "parked": 0}
    # ... until an operator puts them back
    failures_left["count"] = 0
    assert events.retry_parked() == 1
    assert events.dispatch_due()["delivered"] == 1


def test_operators_see_parked_deliveries_from_the_command_line(department, settings, capsys):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    failures_left["count"] = 1
    publish(department)
    events.dispatch_due()
    call_command("outbox", "status")
    out = capsys.readouterr().out
    assert "Parked: 1" in out
    assert "tests.kernel.test_events.rename_department" in out
    call_command("outbox", "retry")
    assert "1 parked deliveries queued again" in capsys.readouterr().out
    assert OutboxDelivery.objects.get().status == DeliveryStatus.PENDING


def test_a_delivery_whose_handler_is_gone_is_retried_not_lost(department):
    publish(department)
    OutboxDelivery.objects.update(handler="tests.kernel.test_events.removed_handler")
    assert events.dispatch_due()["failed"] == 1
    assert "LookupError" in OutboxDelivery.objects.get().last_error


def test_the_dispatch_task_runs_the_dispatcher(department):
    from phb.kernel.tasks import dispatch_outbox

    publish(department)
    assert dispatch_outbox.apply().get() == {"delivered": 1, "failed": 0, "parked": 0}


def test_publishing_nudges_the_dispatcher_after_commit(department, django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks() as callbacks:
        publish(department)
    assert len(callbacks) == 1
