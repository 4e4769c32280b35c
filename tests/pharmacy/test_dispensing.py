"""Dispensing a signed prescription: first expiry first out (an expired batch never), spill-over to
the next batch, partial dispensing and the prescription's status, quantities asked for, matching
products by drug, form and strength, the nominated pharmacy, labels, the patient told after commit,
and nothing half-written on a refusal."""

from __future__ import annotations

import pytest

from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.medications.models import Prescription, PrescriptionItem
from phb.notifications.models import Notification
from phb.pharmacy import dispensing, selectors, services
from phb.pharmacy.models import Dispensing, DispensingLine, LocationKind, StockMovement
from tests.clinical.factories import clinician
from tests.medications.factories import PARACETAMOL
from tests.organizations.factories import DepartmentFactory
from tests.pharmacy.factories import (
    amoxicillin_item,
    backdate_expiry,
    location,
    pharmacist,
    prescription,
    product,
    receive,
    stocked,
)

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture
def s(org_a):
    return stocked(org_a)


def _status(rx):
    return Prescription.objects.for_system(SYSTEM).get(id=rx.id).status


def _dispensed(rx):
    return {
        i.drug_code: i.quantity_dispensed for i in PrescriptionItem.objects.for_system(SYSTEM).filter(prescription=rx)
    }


def test_first_expiry_first_out_skips_the_expired_batch_and_spills_over(org_a, s):
    ctx = s["ctx"]
    late = receive(ctx, s["main"], s["product"], 20, expires_in=400, lot="LATE")
    soon = receive(ctx, s["main"], s["product"], 10, expires_in=40, lot="SOON")
    expired = backdate_expiry(ctx, receive(ctx, s["main"], s["product"], 50, expires_in=5, lot="GONE"))
    rx = prescription(org_a)
    proposal = dispensing.dispensing_proposal(ctx, prescription_id=rx.id, location_id=s["main"].id)
    (item,) = proposal.items
    assert [(b.lot_number, b.take) for b in item.batches] == [("SOON", 10), ("LATE", 5)]
    assert (item.remaining, item.available, item.proposed, item.problem) == (15, 30, 15, "")
    done = dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id)
    lines = {line.batch_id: line.quantity for line in DispensingLine.objects.for_tenant(ctx).filter(dispensing=done)}
    assert lines == {soon.id: 10, late.id: 5}
    assert done.prescription_status == _status(rx) == "dispensed"
    assert selectors.ledger_balance(ctx, location_id=s["main"].id, batch_id=soon.id) == (0, 0)
    assert selectors.ledger_balance(ctx, location_id=s["main"].id, batch_id=late.id) == (15, 15)
    assert selectors.ledger_balance(ctx, location_id=s["main"].id, batch_id=expired.id) == (50, 50)
    moves = StockMovement.objects.for_tenant(ctx).filter(dispensing=done)
    assert sorted(m.quantity for m in moves) == [-10, -5]
    assert all(m.kind == "dispense" and m.reason == "" for m in moves)  # no patient in the ledger


def test_partial_dispensing_leaves_the_rest_to_dispense(org_a, s):
    ctx = s["ctx"]
    receive(ctx, s["main"], s["product"], 6)
    rx = prescription(org_a)
    first = dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id)
    assert first.prescription_status == "partially_dispensed"
    assert _dispensed(rx) == {"amoxicillin": 6}
    with pytest.raises(Conflict) as exc:
        dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id)
    assert exc.value.code == "INSUFFICIENT_STOCK"
    receive(ctx, s["main"], s["product"], 100)
    proposal = dispensing.dispensing_proposal(ctx, prescription_id=rx.id, location_id=s["main"].id)
    assert proposal.items[0].remaining == 9
    second = dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id)
    assert second.prescription_status == "dispensed"
    assert _dispensed(rx) == {"amoxicillin": 15}
    assert [d.id for d in dispensing.dispensing_list(ctx, prescription_id=rx.id)] == [second.id, first.id]


def test_an_asked_quantity_must_be_in_stock_and_a_refusal_writes_nothing(org_a, s):
    ctx = s["ctx"]
    batch = receive(ctx, s["main"], s["product"], 8)
    paracetamol = product(ctx, "paracetamol", name="Paracetamol 500 mg", form="tablet", strength="500 mg")
    receive(ctx, s["main"], paracetamol, 100)
    rx = prescription(org_a, amoxicillin_item(15), PARACETAMOL)
    amox, para = dispensing.dispensing_proposal(ctx, prescription_id=rx.id, location_id=s["main"].id).items
    with pytest.raises(Conflict) as exc:
        dispensing.prescription_dispense(
            ctx=ctx,
            prescription_id=rx.id,
            location_id=s["main"].id,
            quantities={amox.item.item_id: 9, para.item.item_id: 24},
        )
    assert exc.value.code == "INSUFFICIENT_STOCK"
    assert exc.value.extra["available"] == "8.000"
    assert not Dispensing.objects.for_tenant(ctx).exists()
    assert StockMovement.objects.for_tenant(ctx).filter(kind="dispense").count() == 0
    assert _status(rx) == "signed"
    assert selectors.ledger_balance(ctx, location_id=s["main"].id, batch_id=batch.id) == (8, 8)
    done = dispensing.prescription_dispense(
        ctx=ctx,
        prescription_id=rx.id,
        location_id=s["main"].id,
        quantities={str(amox.item.item_id): "8", str(para.item.item_id): "0"},
    )
    assert done.prescription_status == "partially_dispensed"
    assert _dispensed(rx) == {"amoxicillin": 8, "paracetamol": 0}


@pytest.mark.parametrize(
    ("quantities", "code"),
    [
        ({"not-an-item": 1}, "UNKNOWN_ITEM"),
        ({"item": 16}, "OVER_DISPENSED"),
        ({"item": "-1"}, "VALIDATION_ERROR"),
        ({"item": "lots"}, "VALIDATION_ERROR"),
        ({"item": 0}, "VALIDATION_ERROR"),
        ({}, "VALIDATION_ERROR"),
    ],
)
def test_bad_quantities_are_refused(org_a, s, quantities, code):
    receive(s["ctx"], s["main"], s["product"], 100)
    rx = prescription(org_a)
    item_id = PrescriptionItem.objects.for_system(SYSTEM).get(prescription=rx).id
    quantities = {(item_id if k == "item" else k): v for k, v in quantities.items()}
    with pytest.raises(ValidationFailed) as exc:
        dispensing.prescription_dispense(
            ctx=s["ctx"], prescription_id=rx.id, location_id=s["main"].id, quantities=quantities
        )
    assert exc.value.code == code
    assert not Dispensing.objects.for_tenant(s["ctx"]).exists()


def test_products_match_by_drug_and_by_form_and_strength_when_they_state_them(org_a, s):
    ctx = s["ctx"]
    other_strength = product(ctx, "amoxicillin", name="Amoxicillin 250 mg", form="capsule", strength="250 mg")
    any_form = product(ctx, "amoxicillin", name="Amoxicillin (generic)")
    other_drug = product(ctx, "ampicillin", name="Ampicillin 500 mg", form="capsule", strength="500 mg")
    for p in (other_strength, any_form, other_drug):
        receive(ctx, s["main"], p, 50, expires_in=10)
    receive(ctx, s["main"], s["product"], 50, expires_in=20)
    rx = prescription(org_a, amoxicillin_item(15, strength="500MG"))
    (item,) = dispensing.dispensing_proposal(ctx, prescription_id=rx.id, location_id=s["main"].id).items
    assert {b.product_id for b in item.batches} == {any_form.id, s["product"].id}
    assert item.batches[0].product_id == any_form.id  # it expires first


def test_an_item_coded_in_rxnorm_is_matched_by_its_name(org_a, s):
    """Prescriptions carry the coding the prescriber chose; the catalogue's drug is found from it."""
    from tests.medications.factories import AMOXICILLIN

    receive(s["ctx"], s["main"], s["product"], 20)
    rx = prescription(org_a, {**AMOXICILLIN})
    (item,) = dispensing.dispensing_proposal(s["ctx"], prescription_id=rx.id, location_id=s["main"].id).items
    assert item.available == 20


def test_no_matching_product_or_no_stock_is_said_per_item(org_a, s):
    rx = prescription(org_a, amoxicillin_item(), PARACETAMOL)
    amox, para = dispensing.dispensing_proposal(s["ctx"], prescription_id=rx.id, location_id=s["main"].id).items
    assert (amox.problem, para.problem) == ("out_of_stock", "no_product")
    with pytest.raises(Conflict) as exc:
        dispensing.prescription_dispense(ctx=s["ctx"], prescription_id=rx.id, location_id=s["main"].id)
    assert exc.value.code == "INSUFFICIENT_STOCK"


def test_a_prescription_nominated_to_a_pharmacy_is_dispensed_there_or_at_the_main_pharmacy(org_a, s):
    ctx = s["ctx"]
    nominated, elsewhere = (DepartmentFactory(organization=org_a, kind="pharmacy") for _ in range(2))
    there = location(ctx, "Outpatient pharmacy", kind=LocationKind.SATELLITE, department_id=nominated.id)
    other = location(ctx, "Emergency pharmacy", kind=LocationKind.SATELLITE, department_id=elsewhere.id)
    for where in (there, other, s["main"]):
        receive(ctx, where, s["product"], 100)
    rx = prescription(org_a, amoxicillin_item(10), pharmacy_department=nominated)
    with pytest.raises(Conflict) as exc:
        dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=other.id)
    assert exc.value.code == "WRONG_PHARMACY"
    assert not dispensing.dispensing_proposal(ctx, prescription_id=rx.id, location_id=other.id).may_dispense_here
    assert [p.prescription_id for p in dispensing.worklist(ctx, location_id=there.id)] == [rx.id]
    assert dispensing.worklist(ctx, location_id=other.id) == []
    dispensing.prescription_dispense(
        ctx=ctx,
        prescription_id=rx.id,
        location_id=there.id,
        quantities={PrescriptionItem.objects.for_system(SYSTEM).get(prescription=rx).id: 4},
    )
    assert (
        dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id).prescription_status
        == "dispensed"
    )


def test_the_labels_and_the_patient_told_after_commit(org_a, s):
    ctx = s["ctx"]
    receive(ctx, s["main"], s["product"], 4, lot="A-1", expires_in=30)
    receive(ctx, s["main"], s["product"], 40, lot="A-2", expires_in=300)
    rx = prescription(org_a)
    done = dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id)
    record = dispensing.dispensing_get(ctx, dispensing_id=done.id)
    (label,) = record.labels
    assert label.patient_name == f"{rx.patient.given_name} {rx.patient.family_name}"
    assert (label.drug_name, label.strength, label.quantity, label.quantity_unit) == (
        "Amoxicillin",
        "500 mg",
        15,
        "capsule",
    )
    assert [(b.lot_number, b.quantity) for b in label.batches] == [("A-1", 4), ("A-2", 11)]
    assert label.directions.startswith("Take 1 capsule")
    assert (label.pharmacy, label.prescription_number) == ("Main pharmacy", rx.number)
    assert (
        AuditEvent.objects.for_tenant(ctx).filter(action="pharmacy.dispensing.read", patient_id=rx.patient_id).exists()
    )
    inbox = Notification.objects.filter(user_id=rx.patient.user_id, template_code="pharmacy.prescription_ready")
    assert not inbox.exists()  # not before the outbox delivers it
    events.dispatch_due()
    events.dispatch_due()
    assert inbox.count() == 1
    assert rx.number in inbox.get().body
    assert "Amoxicillin" not in inbox.get().body  # never the medicine
    assert dispensing.dispensing_notify_patient(dispensing_id=done.id, organization_id=org_a.id) is False


def test_dispensing_needs_the_can_dispense_capability(org_a, s):
    receive(s["ctx"], s["main"], s["product"], 40)
    rx = prescription(org_a)
    nurse = clinician(org_a, "nurse")
    with pytest.raises(Forbidden):
        dispensing.prescription_dispense(ctx=nurse, prescription_id=rx.id, location_id=s["main"].id)
    with pytest.raises(Forbidden):
        dispensing.worklist(nurse, location_id=s["main"].id)
    assert AuditEvent.objects.for_tenant(nurse).filter(action="pharmacy.dispensing.create", outcome="denied").exists()
    done = dispensing.prescription_dispense(ctx=s["tech"], prescription_id=rx.id, location_id=s["main"].id)
    assert done.dispensed_by_id == s["tech"].actor_id


def test_another_organizations_prescription_location_and_dispensing_are_not_found(org_a, org_b, s):
    receive(s["ctx"], s["main"], s["product"], 40)
    rx = prescription(org_a)
    other = pharmacist(org_b)
    theirs = location(other, "Their pharmacy")
    with pytest.raises(NotFound):
        dispensing.prescription_dispense(ctx=other, prescription_id=rx.id, location_id=theirs.id)
    with pytest.raises(NotFound):
        dispensing.prescription_dispense(ctx=other, prescription_id=rx.id, location_id=s["main"].id)
    done = dispensing.prescription_dispense(ctx=s["ctx"], prescription_id=rx.id, location_id=s["main"].id)
    with pytest.raises(NotFound):
        dispensing.dispensing_get(other, dispensing_id=done.id)
    assert _status(rx) == "dispensed"


def test_a_return_of_a_dispensing_goes_back_to_its_batch_up_to_what_it_handed_out(org_a, s):
    ctx = s["ctx"]
    batch = receive(ctx, s["main"], s["product"], 40)
    rx = prescription(org_a)
    done = dispensing.prescription_dispense(ctx=ctx, prescription_id=rx.id, location_id=s["main"].id)
    services.stock_return(ctx=ctx, location_id=s["main"].id, batch_id=batch.id, quantity=5, dispensing_id=done.id)
    with pytest.raises(Conflict) as exc:
        services.stock_return(ctx=ctx, location_id=s["main"].id, batch_id=batch.id, quantity=11, dispensing_id=done.id)
    assert exc.value.code == "OVER_RETURNED"
    assert selectors.ledger_balance(ctx, location_id=s["main"].id, batch_id=batch.id) == (30, 30)


def _stock_taken_before_the_lock(s, monkeypatch, *, times: int):
    """Make another writer take the batch's stock between the plan and the lock, `times` times."""
    calls = {"n": 0}
    record = dispensing.prescription_record_dispensing

    def meanwhile(**kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            held = selectors.ledger_balance(s["ctx"], location_id=s["main"].id, batch_id=s["batch"].id)[1]
            services.stock_adjust(
                ctx=s["ctx"], location_id=s["main"].id, batch_id=s["batch"].id, quantity=-held, reason="meanwhile"
            )
        return record(**kwargs)

    monkeypatch.setattr(dispensing, "prescription_record_dispensing", meanwhile)
    return calls


def test_stock_taken_between_the_plan_and_the_lock_makes_the_attempt_again_from_scratch(org_a, s, monkeypatch):
    s["batch"] = receive(s["ctx"], s["main"], s["product"], 20)
    rx = prescription(org_a)
    calls = _stock_taken_before_the_lock(s, monkeypatch, times=1)
    done = dispensing.prescription_dispense(ctx=s["ctx"], prescription_id=rx.id, location_id=s["main"].id)
    assert calls["n"] == 2  # the first attempt was rolled back whole, the adjustment with it
    assert done.prescription_status == "dispensed"
    assert Dispensing.objects.for_tenant(s["ctx"]).count() == 1
    assert selectors.ledger_balance(s["ctx"], location_id=s["main"].id, batch_id=s["batch"].id) == (5, 5)
    assert _dispensed(rx) == {"amoxicillin": 15}


def test_stock_that_keeps_moving_is_refused_with_stock_busy_and_nothing_written(org_a, s, monkeypatch):
    s["batch"] = receive(s["ctx"], s["main"], s["product"], 20)
    rx = prescription(org_a)
    _stock_taken_before_the_lock(s, monkeypatch, times=100)
    with pytest.raises(Conflict) as exc:
        dispensing.prescription_dispense(ctx=s["ctx"], prescription_id=rx.id, location_id=s["main"].id)
    assert exc.value.code == "STOCK_BUSY"
    assert not Dispensing.objects.for_tenant(s["ctx"]).exists()
    assert _status(rx) == "signed"
    assert selectors.ledger_balance(s["ctx"], location_id=s["main"].id, batch_id=s["batch"].id) == (20, 20)
