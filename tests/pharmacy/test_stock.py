"""Stock services: products mapped to the catalogue, receiving, adjusting with a reason, transfers as
two movements in one transaction, returns, write-offs of expired and damaged stock, and the ledger's
invariant (the sum of the movements is the balance, never negative) after each of them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.pharmacy import selectors, services
from phb.pharmacy.models import MovementKind, StockLevel, StockMovement
from tests.clinical.factories import clinician
from tests.pharmacy.factories import backdate_expiry, in_days, location, pharmacist, product, receive, stocked, supplier

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture
def s(org_a):
    return stocked(org_a)


def balance(ctx, where, batch):
    ledger, level = selectors.ledger_balance(ctx, location_id=where.id, batch_id=batch.id)
    assert ledger == level, "the ledger and the balance disagree"
    return level


def test_receiving_creates_a_batch_a_receive_movement_and_the_balance(s):
    source = supplier(s["ctx"])
    batch = receive(s["ctx"], s["main"], s["product"], 120, unit_cost="0.25", supplier_id=source.id)
    assert (batch.product_id, batch.unit_cost, batch.supplier_id) == (s["product"].id, Decimal("0.25"), source.id)
    assert balance(s["ctx"], s["main"], batch) == 120
    movement = StockMovement.objects.for_tenant(s["ctx"]).get(batch=batch)
    assert (movement.kind, movement.quantity, movement.actor_id) == ("receive", 120, s["ctx"].actor_id)
    assert AuditEvent.objects.for_tenant(s["ctx"]).filter(action="pharmacy.stock.receive").exists()


def test_receiving_the_same_lot_again_adds_to_its_batch_and_a_different_expiry_is_refused(s):
    batch = receive(s["ctx"], s["main"], s["product"], 10, lot="L1", expires_in=200)
    again = receive(s["ctx"], s["main"], s["product"], 5, lot="L1", expires_in=200)
    assert again.id == batch.id
    assert balance(s["ctx"], s["main"], batch) == 15
    with pytest.raises(Conflict) as exc:
        receive(s["ctx"], s["main"], s["product"], 5, lot="L1", expires_in=201)
    assert exc.value.code == "BATCH_MISMATCH"
    assert balance(s["ctx"], s["main"], batch) == 15


def test_an_expired_batch_is_not_received(s):
    with pytest.raises(ValidationFailed) as exc:
        receive(s["ctx"], s["main"], s["product"], 10, expires_in=0)
    assert exc.value.code == "BATCH_EXPIRED"
    assert not StockMovement.objects.for_tenant(s["ctx"]).exists()


@pytest.mark.parametrize("bad", ["0", "-3", "abc", "1.0001", "1e12", "NaN", None])
def test_bad_quantities_are_refused_before_anything_is_written(s, bad):
    with pytest.raises(ValidationFailed) as exc:
        receive(s["ctx"], s["main"], s["product"], bad)
    assert exc.value.extra["errors"][0]["code"] == "invalid_quantity"
    assert not StockMovement.objects.for_tenant(s["ctx"]).exists()


def test_an_adjustment_needs_a_reason_and_never_takes_the_balance_below_zero(s):
    batch = receive(s["ctx"], s["main"], s["product"], 10)
    with pytest.raises(ValidationFailed) as exc:
        services.stock_adjust(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity=-2, reason=" ")
    assert exc.value.code == "REASON_REQUIRED"
    services.stock_adjust(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity=-3, reason="count")
    services.stock_adjust(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity="1.5", reason="found")
    with pytest.raises(Conflict) as exc:
        services.stock_adjust(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity=-9, reason="count")
    assert exc.value.code == "INSUFFICIENT_STOCK"
    assert exc.value.extra["available"] == "8.500"
    assert balance(s["ctx"], s["main"], batch) == Decimal("8.5")
    assert StockMovement.objects.for_tenant(s["ctx"]).filter(kind="adjust").count() == 2  # no half-written row


def test_a_negative_balance_is_refused_by_the_database_itself(s):
    """The CHECK constraint is the last wall behind the conditional update."""
    from django.db import IntegrityError, transaction

    batch = receive(s["ctx"], s["main"], s["product"], 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.for_tenant(s["ctx"]).filter(batch=batch).update(on_hand=-1)


def test_a_transfer_is_two_movements_sharing_an_id_and_moves_nothing_when_the_source_lacks_stock(s):
    batch = receive(s["ctx"], s["main"], s["product"], 30)
    out, into = services.stock_transfer(
        ctx=s["ctx"], from_location_id=s["main"].id, to_location_id=s["ward"].id, batch_id=batch.id, quantity=12
    )
    assert out.transfer_id == into.transfer_id is not None
    assert (out.kind, out.quantity, into.kind, into.quantity) == ("transfer_out", -12, "transfer_in", 12)
    assert balance(s["ctx"], s["main"], batch) == 18
    assert balance(s["ctx"], s["ward"], batch) == 12
    with pytest.raises(Conflict) as exc:
        services.stock_transfer(
            ctx=s["ctx"], from_location_id=s["ward"].id, to_location_id=s["main"].id, batch_id=batch.id, quantity=13
        )
    assert exc.value.code == "INSUFFICIENT_STOCK"
    assert StockMovement.objects.for_tenant(s["ctx"]).filter(kind__startswith="transfer").count() == 2
    with pytest.raises(ValidationFailed) as exc:
        services.stock_transfer(
            ctx=s["ctx"], from_location_id=s["main"].id, to_location_id=s["main"].id, batch_id=batch.id, quantity=1
        )
    assert exc.value.code == "VALIDATION_ERROR"
    assert exc.value.extra["errors"][0]["code"] == "SAME_LOCATION"


def test_an_expired_batch_is_written_off_not_transferred_or_returned(s):
    batch = backdate_expiry(s["ctx"], receive(s["ctx"], s["main"], s["product"], 30))
    with pytest.raises(Conflict) as exc:
        services.stock_transfer(
            ctx=s["ctx"], from_location_id=s["main"].id, to_location_id=s["ward"].id, batch_id=batch.id, quantity=1
        )
    assert exc.value.code == "BATCH_EXPIRED"
    with pytest.raises(Conflict) as exc:
        services.stock_return(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity=1)
    assert exc.value.code == "BATCH_EXPIRED"
    written_off = services.stock_expire(ctx=s["ctx"], location_id=s["main"].id)
    assert [(m.kind, m.quantity, m.reason) for m in written_off] == [("expire", -30, "expired")]
    assert balance(s["ctx"], s["main"], batch) == 0
    assert services.stock_expire(ctx=s["ctx"], location_id=s["main"].id) == []


def test_destroying_needs_a_reason_and_takes_all_by_default(s):
    batch = receive(s["ctx"], s["main"], s["product"], 20)
    with pytest.raises(ValidationFailed) as exc:
        services.stock_destroy(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, reason="")
    assert exc.value.code == "REASON_REQUIRED"
    services.stock_destroy(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity=5, reason="broken")
    movement = services.stock_destroy(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, reason="recalled")
    assert (movement.kind, movement.quantity) == ("destroy", -15)
    assert balance(s["ctx"], s["main"], batch) == 0
    with pytest.raises(Conflict) as exc:
        services.stock_destroy(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, reason="again")
    assert exc.value.code == "INSUFFICIENT_STOCK"


def test_a_return_goes_back_into_stock(s):
    batch = receive(s["ctx"], s["main"], s["product"], 5)
    services.stock_return(ctx=s["ctx"], location_id=s["main"].id, batch_id=batch.id, quantity=2, reason="ward surplus")
    assert balance(s["ctx"], s["main"], batch) == 7


def test_the_ledger_sums_to_the_balance_after_every_kind_of_movement(s):
    ctx = s["ctx"]
    a = receive(ctx, s["main"], s["product"], 50)
    b = receive(ctx, s["main"], s["product"], 40, expires_in=30)
    services.stock_transfer(
        ctx=ctx, from_location_id=s["main"].id, to_location_id=s["ward"].id, batch_id=a.id, quantity=7
    )
    services.stock_adjust(ctx=ctx, location_id=s["ward"].id, batch_id=a.id, quantity=-2, reason="count")
    services.stock_destroy(ctx=ctx, location_id=s["main"].id, batch_id=b.id, quantity=4, reason="damaged")
    services.stock_return(ctx=ctx, location_id=s["ward"].id, batch_id=a.id, quantity=1)
    from django.db.models import Sum

    ledger = {
        (r["location_id"], r["batch_id"]): r["total"]
        for r in StockMovement.objects.for_tenant(ctx).values("location_id", "batch_id").annotate(total=Sum("quantity"))
    }
    levels = {(lv.location_id, lv.batch_id): lv.on_hand for lv in StockLevel.objects.for_tenant(ctx)}
    assert ledger == levels
    assert levels[(s["main"].id, a.id)] == 43
    assert levels[(s["ward"].id, a.id)] == 6
    assert levels[(s["main"].id, b.id)] == 36


def test_products_are_mapped_to_a_drug_and_a_gtin_is_checked_and_unique(s):
    ctx = s["ctx"]
    with pytest.raises(ValidationFailed) as exc:
        product(ctx, "no such drug!")
    assert exc.value.code == "DRUG_UNKNOWN"
    controlled = product(ctx, "morphine", name="Morphine 10 mg tablets")
    assert (controlled.drug_code, controlled.drug_name, controlled.controlled) == ("morphine", "Morphine", True)
    assert s["product"].drug_name == "Amoxicillin"
    assert not s["product"].controlled
    with pytest.raises(ValidationFailed):
        product(ctx, gtin="4006381333932")  # wrong check digit
    product(ctx, gtin="4006381333931")
    with pytest.raises(Conflict) as exc:
        product(ctx, gtin="4006381333931")
    assert exc.value.code == "GTIN_TAKEN"
    updated = services.product_update(ctx=ctx, product_id=s["product"].id, brand="Amoxil", pack_size=21)
    assert (updated.brand, updated.pack_size) == ("Amoxil", 21)
    with pytest.raises(ValidationFailed):
        services.product_update(ctx=ctx, product_id=s["product"].id, drug_code="paracetamol")


def test_a_location_names_a_pharmacy_department_only(org_a, s):
    from tests.organizations.factories import DepartmentFactory

    pharmacy = DepartmentFactory(organization=org_a, kind="pharmacy")
    clinic = DepartmentFactory(organization=org_a, kind="outpatients")
    assert location(s["ctx"], "Outpatient pharmacy", department_id=pharmacy.id).department_id == pharmacy.id
    with pytest.raises(ValidationFailed):
        location(s["ctx"], "Clinic", department_id=clinic.id)
    with pytest.raises(Conflict) as exc:
        location(s["ctx"], "main PHARMACY")
    assert exc.value.code == "LOCATION_NAME_TAKEN"


def test_stock_needs_a_pharmacy_role_and_the_refusal_is_audited(org_a, s):
    nurse = clinician(org_a, "nurse")
    with pytest.raises(Forbidden):
        services.stock_adjust(ctx=nurse, location_id=s["main"].id, batch_id=s["product"].id, quantity=1, reason="x")
    with pytest.raises(Forbidden):
        selectors.product_list(nurse)
    assert AuditEvent.objects.for_tenant(nurse).filter(action="pharmacy.stock.adjust", outcome="denied").exists()
    # A pharmacy technician manages stock too.
    services.stock_receive(
        ctx=s["tech"],
        location_id=s["main"].id,
        product_id=s["product"].id,
        lot_number="T1",
        expiry_on=in_days(90),
        quantity=3,
        unit_cost="1",
    )


def test_another_organizations_ids_are_not_found(org_a, org_b, s):
    other = pharmacist(org_b)
    batch = receive(s["ctx"], s["main"], s["product"], 5)
    theirs = location(other, "Their pharmacy")
    with pytest.raises(NotFound):
        services.stock_adjust(ctx=other, location_id=theirs.id, batch_id=batch.id, quantity=1, reason="x")
    with pytest.raises(NotFound):
        services.stock_receive(
            ctx=other,
            location_id=theirs.id,
            product_id=s["product"].id,
            lot_number="X",
            expiry_on=in_days(9),
            quantity=1,
            unit_cost=1,
        )
    with pytest.raises(NotFound):
        services.stock_transfer(
            ctx=other, from_location_id=s["main"].id, to_location_id=theirs.id, batch_id=batch.id, quantity=1
        )
    assert balance(s["ctx"], s["main"], batch) == 5


def test_the_valuation_is_on_hand_times_unit_cost_per_product_and_location_with_a_total(s):
    ctx = s["ctx"]
    other = product(ctx, "paracetamol", name="Paracetamol 500 mg")
    a = receive(ctx, s["main"], s["product"], 100, unit_cost="0.25")
    receive(ctx, s["main"], s["product"], 10, unit_cost="1.10")
    receive(ctx, s["main"], other, 3, unit_cost="2.3333")
    services.stock_transfer(
        ctx=ctx, from_location_id=s["main"].id, to_location_id=s["ward"].id, batch_id=a.id, quantity=20
    )
    backdate_expiry(ctx, a)
    valuation = selectors.stock_valuation(ctx)
    rows = {(r.location_name, r.product_name): (r.on_hand, r.value, r.expired_value) for r in valuation.rows}
    assert rows == {
        ("Main pharmacy", "Amoxicillin 500 mg capsules"): (Decimal(90), Decimal("31.00"), Decimal("20.00")),
        ("Main pharmacy", "Paracetamol 500 mg"): (Decimal(3), Decimal("7.00"), Decimal("0.00")),
        ("Ward 3 store", "Amoxicillin 500 mg capsules"): (Decimal(20), Decimal("5.00"), Decimal("5.00")),
    }
    assert valuation.total == Decimal("43.00")
    assert valuation.expired_total == Decimal("25.00")
    assert selectors.stock_valuation(ctx, location_id=s["ward"].id).total == Decimal("5.00")


def test_the_overview_shows_on_hand_usable_stock_and_reorder_levels_per_location(s, django_assert_max_num_queries):
    ctx = s["ctx"]
    expired = backdate_expiry(ctx, receive(ctx, s["main"], s["product"], 7))
    receive(ctx, s["main"], s["product"], 5)
    services.reorder_level_set(ctx=ctx, product_id=s["product"].id, location_id=s["main"].id, level=10)
    services.reorder_level_set(ctx=ctx, product_id=s["product"].id, location_id=s["ward"].id, level=2)
    for _ in range(5):
        product(ctx, "ibuprofen")
    with django_assert_max_num_queries(8):
        overview = selectors.stock_overview(ctx)
    row = next(r for r in overview if r.product.id == s["product"].id)
    main, ward = row.holdings[s["main"].id], row.holdings[s["ward"].id]
    assert (main.on_hand, main.usable, main.reorder_level, main.low) == (12, 5, 10, True)
    assert (ward.on_hand, ward.reorder_level, ward.low) == (0, 2, True)
    assert expired.expiry_on < in_days(0)
    assert services.reorder_level_set(ctx=ctx, product_id=s["product"].id, location_id=s["ward"].id, level=0) is None
    assert (
        s["ward"].id not in next(r for r in selectors.stock_overview(ctx) if r.product.id == s["product"].id).holdings
    )


def test_the_ledger_filters(s):
    ctx = s["ctx"]
    a = receive(ctx, s["main"], s["product"], 10)
    services.stock_adjust(ctx=ctx, location_id=s["main"].id, batch_id=a.id, quantity=-1, reason="count")
    services.stock_transfer(
        ctx=ctx, from_location_id=s["main"].id, to_location_id=s["ward"].id, batch_id=a.id, quantity=2
    )
    assert selectors.movement_list(ctx).count() == 4
    assert [m.kind for m in selectors.movement_list(ctx, location_id=s["ward"].id)] == [MovementKind.TRANSFER_IN]
    assert selectors.movement_list(ctx, kind="adjust").get().reason == "count"
    assert selectors.movement_list(ctx, batch_id=a.id, location_id=s["main"].id).count() == 3
