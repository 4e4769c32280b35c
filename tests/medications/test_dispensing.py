"""The dispensing contract the pharmacy calls (`phb.medications.public`): the worklist and one
prescription of it (audited, the can-dispense capability, another organization's not found), and
recording what was dispensed: partial then full, over-dispensing, an unknown item and a status that
cannot be dispensed refused, and two pharmacists at once never exceeding what remains (the lock)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent, OutboxEvent
from phb.medications import public
from phb.medications.models import Prescription, PrescriptionEvent, PrescriptionItem, PrescriptionStatus
from tests.clinical.factories import patient_at
from tests.medications.factories import AMOXICILLIN, signed_prescription
from tests.organizations.factories import DepartmentFactory
from tests.workforce.factories import staff_ctx

pytestmark = pytest.mark.django_db


@pytest.fixture
def pharmacy(org_a):
    return staff_ctx(org_a, "pharmacist")


def _items(prescription) -> dict[str, PrescriptionItem]:
    ctx = Ctx.system(reason="test", organization_id=prescription.organization_id)
    return {i.drug_code: i for i in PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription)}


def _stored(prescription) -> Prescription:
    ctx = Ctx.system(reason="test", organization_id=prescription.organization_id)
    return Prescription.objects.for_tenant(ctx).get(id=prescription.id)


def _audit(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


def test_the_worklist_holds_what_can_be_dispensed_oldest_first(org_a, org_b, pharmacy):
    now = timezone.now()
    older = signed_prescription(org_a, signed_at=now - dt.timedelta(days=2))
    newer = signed_prescription(org_a, status=PrescriptionStatus.PARTIALLY_DISPENSED)
    for status in (PrescriptionStatus.DISPENSED, PrescriptionStatus.CANCELLED, PrescriptionStatus.EXPIRED):
        signed_prescription(org_a, status=status)
    signed_prescription(org_a, signed_at=now - dt.timedelta(days=40))  # past its validity, not yet marked
    signed_prescription(org_b)
    rows = public.prescriptions_to_dispense(ctx=pharmacy)
    assert [r.prescription_id for r in rows] == [older.id, newer.id]
    first = rows[0]
    assert first.number == older.number
    assert first.status == "signed"
    assert first.patient_name == f"{older.patient.given_name} {older.patient.family_name}"
    assert first.prescriber_name
    amoxicillin = first.items[0]
    assert (amoxicillin.drug.code, amoxicillin.drug_name, amoxicillin.strength) == (
        "amoxicillin",
        "Amoxicillin",
        "500 mg",
    )
    assert amoxicillin.quantity == Decimal(15)
    assert amoxicillin.quantity_dispensed == 0
    assert amoxicillin.directions == "Take 1 capsule three times a day for 5 days"
    assert amoxicillin.instructions == "Finish the course."
    assert _audit(action="medications.prescription.dispense_list", outcome="success").count() == 1


def test_a_pharmacy_department_sees_what_is_nominated_there_or_nowhere(org_a, pharmacy):
    here, there = (
        DepartmentFactory(organization=org_a, kind="pharmacy"),
        DepartmentFactory(organization=org_a, kind="pharmacy"),
    )
    anywhere = signed_prescription(org_a)
    mine = signed_prescription(org_a, pharmacy_department=here)
    signed_prescription(org_a, pharmacy_department=there)
    rows = public.prescriptions_to_dispense(ctx=pharmacy, pharmacy_department_id=here.id)
    assert {r.prescription_id for r in rows} == {anywhere.id, mine.id}
    assert {r.pharmacy_department_id for r in rows} == {None, here.id}


def test_the_worklist_needs_the_can_dispense_capability(org_a):
    nurse = staff_ctx(org_a, "nurse")
    with pytest.raises(Forbidden):
        public.prescriptions_to_dispense(ctx=nurse)
    prescription = signed_prescription(org_a)
    with pytest.raises(Forbidden):
        public.prescription_to_dispense(ctx=nurse, prescription_id=prescription.id)
    assert _audit(action="medications.prescription.dispense_list", outcome="denied").count() == 1
    technician = staff_ctx(org_a, "pharmacy_technician")
    assert (
        public.prescription_to_dispense(ctx=technician, prescription_id=prescription.id).number == prescription.number
    )


def test_one_prescription_to_dispense_and_what_is_not_found(org_a, org_b, pharmacy):
    mine = signed_prescription(org_a)
    assert public.prescription_to_dispense(ctx=pharmacy, prescription_id=mine.id).prescription_id == mine.id
    assert _audit(action="medications.prescription.dispense_read", patient_id=mine.patient_id).count() == 1
    for other in (
        signed_prescription(org_b),
        signed_prescription(org_a, status=PrescriptionStatus.DISPENSED),
        signed_prescription(org_a, status=PrescriptionStatus.CANCELLED),
    ):
        with pytest.raises(NotFound):
            public.prescription_to_dispense(ctx=pharmacy, prescription_id=other.id)
    with pytest.raises(NotFound):
        public.prescription_to_dispense(ctx=pharmacy, prescription_id=uuid.uuid4())
    assert _audit(action="medications.prescription.dispense_read", outcome="denied").count() == 4


def test_partial_then_full_dispensing(org_a, pharmacy):
    prescription = signed_prescription(org_a)
    items = _items(prescription)
    amoxicillin, paracetamol = items["amoxicillin"], items["paracetamol"]
    with transaction.atomic():
        status = public.prescription_record_dispensing(
            ctx=pharmacy, prescription_id=prescription.id, quantities={amoxicillin.id: Decimal(15)}
        )
    assert status == "partially_dispensed"
    assert _stored(prescription).status == "partially_dispensed"
    assert _items(prescription)["amoxicillin"].quantity_dispensed == 15
    assert public.prescription_to_dispense(ctx=pharmacy, prescription_id=prescription.id).items[0].remaining == 0
    status = public.prescription_record_dispensing(
        ctx=pharmacy, prescription_id=prescription.id, quantities={paracetamol.id: Decimal(10)}
    )
    assert status == "partially_dispensed"
    status = public.prescription_record_dispensing(
        ctx=pharmacy, prescription_id=prescription.id, quantities={str(paracetamol.id): "14"}
    )
    assert status == "dispensed"
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    history = list(PrescriptionEvent.objects.for_tenant(ctx).filter(prescription=prescription).order_by("at", "id"))
    assert [(h.from_status, h.to_status) for h in history] == [
        ("signed", "partially_dispensed"),
        ("partially_dispensed", "partially_dispensed"),
        ("partially_dispensed", "dispensed"),
    ]
    assert all(h.actor_id == pharmacy.actor_id for h in history)
    assert _audit(action="medications.prescription.dispense", outcome="success").count() == 3
    names = list(
        OutboxEvent.objects.filter(name="medications.prescription_dispensed").values_list("payload", flat=True)
    )
    assert [p["status"] for p in names] == ["partially_dispensed", "partially_dispensed", "dispensed"]
    with pytest.raises(Conflict) as refused:
        public.prescription_record_dispensing(
            ctx=pharmacy, prescription_id=prescription.id, quantities={paracetamol.id: Decimal(1)}
        )
    assert refused.value.code == "PRESCRIPTION_NOT_DISPENSABLE"


@pytest.mark.parametrize("quantity", [Decimal(16), Decimal(0), Decimal(-1), "abc", Decimal("0.0001")])
def test_more_than_remains_or_nothing_is_refused_and_nothing_changes(org_a, pharmacy, quantity):
    prescription = signed_prescription(org_a)
    amoxicillin = _items(prescription)["amoxicillin"]
    with pytest.raises(ValidationFailed) as refused:
        public.prescription_record_dispensing(
            ctx=pharmacy, prescription_id=prescription.id, quantities={amoxicillin.id: quantity}
        )
    assert refused.value.code == "OVER_DISPENSED"
    assert refused.value.extra["errors"][0]["field"] == str(amoxicillin.id)
    assert _items(prescription)["amoxicillin"].quantity_dispensed == 0
    assert _stored(prescription).status == "signed"


def test_over_dispensing_after_a_partial_dispense_is_refused(org_a, pharmacy):
    prescription = signed_prescription(org_a, items=(AMOXICILLIN,))
    item = _items(prescription)["amoxicillin"]
    public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities={item.id: 10})
    with pytest.raises(ValidationFailed) as refused:
        public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities={item.id: 6})
    assert refused.value.code == "OVER_DISPENSED"
    assert public.prescription_record_dispensing(
        ctx=pharmacy, prescription_id=prescription.id, quantities={item.id: 5}
    ) == ("dispensed")


def test_an_unknown_item_or_nothing_to_dispense_is_refused(org_a, pharmacy):
    prescription = signed_prescription(org_a)
    other = signed_prescription(org_a)
    for quantities in ({_items(other)["amoxicillin"].id: 1}, {uuid.uuid4(): 1}, {"not-an-id": 1}):
        with pytest.raises(ValidationFailed) as refused:
            public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities=quantities)
        assert refused.value.code == "UNKNOWN_ITEM"
    with pytest.raises(ValidationFailed):
        public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities={})
    assert _stored(prescription).status == "signed"


@pytest.mark.parametrize("status", ["dispensed", "cancelled", "expired", "draft"])
def test_a_status_that_cannot_be_dispensed_is_refused(org_a, pharmacy, status):
    if status == "draft":
        prescription = signed_prescription(org_a)
        ctx = Ctx.system(reason="test", organization_id=org_a.id)
        prescription = Prescription.objects.create(
            organization_id=org_a.id, number="RX-T-DRAFT", patient=prescription.patient, author_id=pharmacy.actor_id
        )
        PrescriptionItem.objects.for_tenant(ctx).bulk_create(
            [
                PrescriptionItem(
                    organization_id=org_a.id,
                    prescription=prescription,
                    patient=prescription.patient,
                    drug_system="x",
                    **{k: v for k, v in AMOXICILLIN.items()},
                )
            ]
        )
    else:
        prescription = signed_prescription(org_a, status=status)
    item = _items(prescription)["amoxicillin"]
    with pytest.raises(Conflict) as refused:
        public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities={item.id: 1})
    assert refused.value.code == "PRESCRIPTION_NOT_DISPENSABLE"
    assert refused.value.as_problem()["prescription_status"] == status  # renders as problem details
    assert _items(prescription)["amoxicillin"].quantity_dispensed == 0


def test_past_its_validity_a_prescription_is_not_dispensed(org_a, pharmacy):
    prescription = signed_prescription(org_a, signed_at=timezone.now() - dt.timedelta(days=31))
    item = _items(prescription)["amoxicillin"]
    with pytest.raises(Conflict) as refused:
        public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities={item.id: 1})
    assert refused.value.code == "PRESCRIPTION_NOT_DISPENSABLE"


def test_another_organization_or_no_capability_dispenses_nothing(org_a, org_b, pharmacy):
    prescription = signed_prescription(org_b)
    item = _items(prescription)["amoxicillin"]
    with pytest.raises(NotFound):
        public.prescription_record_dispensing(ctx=pharmacy, prescription_id=prescription.id, quantities={item.id: 1})
    mine = signed_prescription(org_a)
    doctor = staff_ctx(org_a, "doctor")
    with pytest.raises(Forbidden):
        public.prescription_record_dispensing(
            ctx=doctor, prescription_id=mine.id, quantities={_items(mine)["amoxicillin"].id: 1}
        )
    assert _items(prescription)["amoxicillin"].quantity_dispensed == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_pharmacists_at_once_never_dispense_more_than_remains(org_a):
    pharmacists = [staff_ctx(org_a, "pharmacist") for _ in range(6)]
    prescription = signed_prescription(org_a, patient=patient_at(org_a), items=(AMOXICILLIN,))
    item = _items(prescription)["amoxicillin"]
    barrier = threading.Barrier(len(pharmacists))
    outcomes: list[str] = []
    lock = threading.Lock()

    def dispense(ctx):
        try:
            barrier.wait()
            with transaction.atomic():
                result = public.prescription_record_dispensing(
                    ctx=ctx, prescription_id=prescription.id, quantities={item.id: Decimal(10)}
                )
        except (ValidationFailed, Conflict) as exc:
            result = exc.code
        except Exception as exc:  # anything else fails the test below
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=dispense, args=(ctx,)) for ctx in pharmacists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("partially_dispensed") == 1, outcomes
    assert outcomes.count("OVER_DISPENSED") == len(pharmacists) - 1, outcomes
    assert _items(prescription)["amoxicillin"].quantity_dispensed == 10
