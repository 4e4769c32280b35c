"""The prescription status machine (every move not in the table is refused) and the wall behind the
rule that a signed prescription never changes: on PostgreSQL a trigger refuses a raw UPDATE of its
clinical columns or of its items', a new item, a DELETE; what follows its life (status, quantities
dispensed) still moves, and a draft changes freely."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError, InternalError, ProgrammingError

from phb.kernel import tenancy
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict
from phb.medications import transitions
from phb.medications.models import Prescription, PrescriptionItem, PrescriptionStatus
from tests.medications.factories import AMOXICILLIN, signed_prescription

pytestmark = pytest.mark.django_db

LEGAL = {
    ("draft", "signed"),
    ("draft", "cancelled"),
    ("signed", "partially_dispensed"),
    ("signed", "dispensed"),
    ("signed", "cancelled"),
    ("signed", "expired"),
    ("partially_dispensed", "partially_dispensed"),
    ("partially_dispensed", "dispensed"),
    ("partially_dispensed", "cancelled"),
    ("partially_dispensed", "expired"),
}
ILLEGAL = sorted(set(itertools.product(PrescriptionStatus.values, repeat=2)) - LEGAL)


def test_the_table_is_the_legal_moves():
    assert {(t.source, t.target) for t in transitions.TABLE} == LEGAL
    assert {"dispensed", "cancelled", "expired"} == transitions.TERMINAL


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_every_illegal_transition_is_refused(source, target):
    assert transitions.find(source, target) is None
    with pytest.raises(Conflict) as refused:
        transitions.require(source, target)
    assert refused.value.code == "ILLEGAL_TRANSITION"
    assert refused.value.extra == {"from_status": source, "to_status": target}


def test_a_signed_prescription_must_say_who_signed_it_and_until_when(org_a):
    signed = signed_prescription(org_a)
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    draft = Prescription.objects.create(
        organization_id=org_a.id, number="RX-T-D0", patient=signed.patient, author_id=signed.author_id
    )
    for change in ({"status": "signed"}, {"status": "cancelled"}, {"prescriber_id": signed.author_id}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Prescription.objects.for_tenant(ctx).filter(id=draft.id).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        Prescription.objects.create(
            organization_id=org_a.id, number=signed.number, patient=signed.patient, author_id=signed.author_id
        )


def _raw(organization_id, sql, *params):
    with tenancy.bound(organization_id=organization_id), connection.cursor() as cursor:
        cursor.execute(sql, list(params))


def _pk(value):
    return Prescription._meta.pk.get_db_prep_value(value, connection)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE medications_prescription SET number = 'RX-FORGED' WHERE id = %s",
        "UPDATE medications_prescription SET patient_id = (SELECT patient_id FROM medications_prescription p2 "
        "WHERE p2.id <> medications_prescription.id LIMIT 1) WHERE id = %s",
        "UPDATE medications_prescription SET signed_at = signed_at - interval '1 day' WHERE id = %s",
        "UPDATE medications_prescription SET expires_at = expires_at + interval '1 year' WHERE id = %s",
        "UPDATE medications_prescription SET pregnant = true WHERE id = %s",
        "UPDATE medications_prescription SET status = 'draft', signed_at = NULL, prescriber_id = NULL WHERE id = %s",
        "DELETE FROM medications_prescription WHERE id = %s",
    ],
)
def test_on_postgresql_a_raw_change_of_a_signed_prescription_is_refused(org_a, sql):
    prescription = signed_prescription(org_a)
    signed_prescription(org_a)  # another patient's, for the patient swap
    with pytest.raises((InternalError, ProgrammingError), match="signed prescription"), transaction.atomic():
        _raw(org_a.id, sql, _pk(prescription.id))
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    stored = Prescription.objects.for_tenant(ctx).get(id=prescription.id)
    assert (stored.number, stored.patient_id, stored.status) == (
        prescription.number,
        prescription.patient_id,
        "signed",
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE medications_prescriptionitem SET dose_quantity = 4 WHERE prescription_id = %s",
        "UPDATE medications_prescriptionitem SET drug_code = 'aspirin' WHERE prescription_id = %s",
        "UPDATE medications_prescriptionitem SET quantity = 99 WHERE prescription_id = %s",
        "UPDATE medications_prescriptionitem SET instructions = 'x' WHERE prescription_id = %s",
        "DELETE FROM medications_prescriptionitem WHERE prescription_id = %s",
    ],
)
def test_on_postgresql_a_raw_change_of_a_signed_prescriptions_items_is_refused(org_a, sql):
    prescription = signed_prescription(org_a)
    with pytest.raises((InternalError, ProgrammingError), match="signed prescription"), transaction.atomic():
        _raw(org_a.id, sql, _pk(prescription.id))


@pytest.mark.postgres
def test_on_postgresql_no_item_is_added_to_a_signed_prescription(org_a):
    prescription = signed_prescription(org_a)
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    with pytest.raises((InternalError, ProgrammingError), match="signed prescription"), transaction.atomic():
        PrescriptionItem.objects.create(
            organization_id=org_a.id,
            prescription=prescription,
            patient=prescription.patient,
            drug_system="x",
            position=9,
            **AMOXICILLIN,
        )
    assert PrescriptionItem.objects.for_tenant(ctx).filter(prescription=prescription).count() == 2


@pytest.mark.postgres
def test_on_postgresql_what_follows_a_signed_prescriptions_life_still_moves(org_a):
    prescription = signed_prescription(org_a)
    _raw(
        org_a.id,
        "UPDATE medications_prescriptionitem SET quantity_dispensed = 3 WHERE prescription_id = %s",
        _pk(prescription.id),
    )
    _raw(
        org_a.id,
        "UPDATE medications_prescription SET status = 'cancelled', cancelled_at = now(), cancel_reason = '' "
        "WHERE id = %s",
        _pk(prescription.id),
    )
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    assert (
        Prescription.objects.for_tenant(ctx).filter(id=prescription.id).values_list("status", flat=True)[0]
        == "cancelled"
    )


@pytest.mark.postgres
def test_on_postgresql_a_draft_changes_freely(org_a):
    signed = signed_prescription(org_a)
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    draft = Prescription.objects.create(
        organization_id=org_a.id, number="RX-T-D1", patient=signed.patient, author_id=signed.author_id
    )
    PrescriptionItem.objects.for_tenant(ctx).bulk_create(
        [
            PrescriptionItem(
                organization_id=org_a.id, prescription=draft, patient=signed.patient, drug_system="x", **AMOXICILLIN
            )
        ]
    )
    _raw(
        org_a.id, "UPDATE medications_prescriptionitem SET dose_quantity = 2 WHERE prescription_id = %s", _pk(draft.id)
    )
    _raw(org_a.id, "DELETE FROM medications_prescriptionitem WHERE prescription_id = %s", _pk(draft.id))
    _raw(org_a.id, "UPDATE medications_prescription SET pregnant = true WHERE id = %s", _pk(draft.id))
    assert Prescription.objects.for_tenant(ctx).get(id=draft.id).pregnant
