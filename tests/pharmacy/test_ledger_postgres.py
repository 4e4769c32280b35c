"""The ledger's walls on PostgreSQL: movements cannot be changed or deleted (trigger), another
organization's stock is invisible to raw SQL (row-level security), and concurrent withdrawals from
one batch, each on its own connection, never take more than it holds: the ledger sums to the balance,
which never goes negative, and no update is lost."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict
from phb.kernel.tenancy import tenant_cursor
from phb.pharmacy import services
from phb.pharmacy.models import StockLevel, StockMovement
from tests.pharmacy.factories import pharmacist, receive, stocked

WORKERS = 16


def _race(workers: int, work) -> list[object]:
    """Run `work(i)` in `workers` threads released together, each on its own connection."""
    barrier = threading.Barrier(workers)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            barrier.wait()
            result: object = work(i)
        except Conflict as exc:
            result = exc.code
        except Exception as exc:  # anything else fails the test, reported by the caller's assertions
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _ledger_and_level(ctx, location, batch) -> tuple[Decimal, Decimal]:
    batch_id = getattr(batch, "id", batch)
    ledger = (
        StockMovement.objects.for_tenant(ctx).filter(location=location, batch_id=batch_id).aggregate(t=Sum("quantity"))
    )
    level = StockLevel.objects.for_tenant(ctx).get(location=location, batch_id=batch_id).on_hand
    return ledger["t"], level


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE pharmacy_stockmovement SET quantity = quantity * 2 WHERE id = %s",
        "DELETE FROM pharmacy_stockmovement WHERE id = %s",
    ],
)
def test_the_ledger_refuses_update_and_delete(org_a, sql):
    s = stocked(org_a)
    batch = receive(s["ctx"], s["main"], s["product"], 10)
    movement = StockMovement.objects.for_tenant(s["ctx"]).get(batch=batch)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), tenant_cursor(s["ctx"]) as cursor:
        cursor.execute(sql, [movement.id])
    assert StockMovement.objects.for_tenant(s["ctx"]).get(id=movement.id).quantity == 10


@pytest.mark.postgres
@pytest.mark.django_db
def test_raw_sql_in_one_organizations_context_sees_no_stock_of_another(org_a, org_b):
    s = stocked(org_a)
    receive(s["ctx"], s["main"], s["product"], 10)
    other = pharmacist(org_b)
    for table in ("pharmacy_stockmovement", "pharmacy_stocklevel", "pharmacy_batch", "pharmacy_product"):
        with tenant_cursor(other) as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0, table
        with tenant_cursor(s["ctx"]) as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] >= 1, table


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_withdrawals_from_one_batch_take_exactly_what_it_holds(org_a):
    s = stocked(org_a)
    batch = receive(s["ctx"], s["main"], s["product"], 40)
    ctx = s["ctx"]

    def withdraw(i: int) -> str:
        services.stock_adjust(ctx=ctx, location_id=s["main"].id, batch_id=batch.id, quantity=-3, reason="count")
        return "taken"

    outcomes = _race(WORKERS, withdraw)
    assert outcomes.count("taken") == 13, outcomes  # 13 x 3 = 39 of 40
    assert outcomes.count("INSUFFICIENT_STOCK") == 3, outcomes
    assert _ledger_and_level(ctx, s["main"], batch) == (Decimal(1), Decimal(1))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_and_adjustments_keep_both_locations_exact(org_a):
    s = stocked(org_a)
    ctx = s["ctx"]
    batch = receive(ctx, s["main"], s["product"], 50)

    def work(i: int) -> str:
        if i % 2:
            services.stock_transfer(
                ctx=ctx, from_location_id=s["main"].id, to_location_id=s["ward"].id, batch_id=batch.id, quantity=4
            )
            return "transferred"
        services.stock_adjust(ctx=ctx, location_id=s["main"].id, batch_id=batch.id, quantity=-5, reason="breakage")
        return "adjusted"

    outcomes = _race(WORKERS, work)
    assert set(outcomes) <= {"transferred", "adjusted", "INSUFFICIENT_STOCK"}, outcomes
    taken = 4 * outcomes.count("transferred") + 5 * outcomes.count("adjusted")
    assert taken <= 50
    assert 50 - taken < 5  # it stopped only when what was left could not satisfy any request
    main, ward = _ledger_and_level(ctx, s["main"], batch), _ledger_and_level(ctx, s["ward"], batch)
    assert main[0] == main[1] == 50 - taken
    assert ward[0] == ward[1] == 4 * outcomes.count("transferred")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_of_a_new_lot_create_one_balance_row(org_a):
    s = stocked(org_a)
    ctx = s["ctx"]
    system = Ctx.system(reason="test", organization_id=org_a.id)

    def work(i: int) -> str:
        receive(ctx, s["main"], s["product"], 2, lot="SAME-LOT", expires_in=100)
        return "received"

    outcomes = _race(8, work)
    assert outcomes == ["received"] * 8, outcomes
    level = StockLevel.objects.for_tenant(system).get()
    assert level.on_hand == 16
    assert _ledger_and_level(ctx, s["main"], level.batch_id) == (Decimal(16), Decimal(16))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_prescriptions_dispensed_at_once_from_one_batch_take_exactly_what_it_holds(org_a):
    """16 x 15 capsules asked of a batch of 100: six prescriptions in full, one in part (10), nine
    refused with INSUFFICIENT_STOCK; no lost update, no negative balance, the ledger is the balance."""
    from phb.medications.models import PrescriptionItem
    from phb.pharmacy import dispensing
    from tests.pharmacy.factories import prescription

    s = stocked(org_a)
    ctx = s["ctx"]
    batch = receive(ctx, s["main"], s["product"], 100)
    prescriptions = [prescription(org_a) for _ in range(WORKERS)]
    system = Ctx.system(reason="test", organization_id=org_a.id)

    def dispense(i: int) -> str:
        done = dispensing.prescription_dispense(ctx=ctx, prescription_id=prescriptions[i].id, location_id=s["main"].id)
        return done.prescription_status

    outcomes = _race(WORKERS, dispense)
    assert outcomes.count("dispensed") == 6, outcomes
    assert outcomes.count("partially_dispensed") == 1, outcomes
    assert outcomes.count("INSUFFICIENT_STOCK") == 9, outcomes
    assert _ledger_and_level(ctx, s["main"], batch) == (Decimal(0), Decimal(0))
    handed = PrescriptionItem.objects.for_tenant(system).aggregate(t=Sum("quantity_dispensed"))["t"]
    assert handed == 100
    dispensed = StockMovement.objects.for_tenant(system).filter(kind="dispense").aggregate(t=Sum("quantity"))["t"]
    assert dispensed == -100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_adjustments_down_racing_dispensings_never_oversell(org_a):
    from phb.pharmacy import dispensing
    from tests.pharmacy.factories import prescription

    s = stocked(org_a)
    ctx = s["ctx"]
    batch = receive(ctx, s["main"], s["product"], 60)
    prescriptions = [prescription(org_a) for _ in range(WORKERS // 2)]

    def work(i: int) -> str:
        if i % 2:
            services.stock_adjust(ctx=ctx, location_id=s["main"].id, batch_id=batch.id, quantity=-7, reason="breakage")
            return "adjusted"
        done = dispensing.prescription_dispense(
            ctx=ctx, prescription_id=prescriptions[i // 2].id, location_id=s["main"].id
        )
        return done.prescription_status

    outcomes = _race(WORKERS, work)
    assert set(outcomes) <= {"adjusted", "dispensed", "partially_dispensed", "INSUFFICIENT_STOCK"}, outcomes
    ledger, level = _ledger_and_level(ctx, s["main"], batch)
    assert ledger == level >= 0
    moved = StockMovement.objects.for_tenant(ctx).filter(batch=batch).exclude(kind="receive")
    assert -sum(m.quantity for m in moved) == 60 - level
    assert 7 * outcomes.count("adjusted") + 15 * outcomes.count("dispensed") <= 60
