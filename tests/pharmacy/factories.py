"""Pharmacy stock for tests: pharmacy staff, locations, products of catalogue drugs, suppliers, and
batches received into stock."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from phb.kernel.context import Ctx
from phb.pharmacy import services
from phb.pharmacy.models import Batch, LocationKind, Product, StockLocation, StockMovement
from phb.terminology.public import drug_search
from tests.workforce.factories import staff_ctx

_N = itertools.count(1)


def ensure_drugs() -> None:
    """The drug catalogue, loaded by `migrate`, is emptied by a transactional test's flush: load it
    again when it is missing (a query when it is there)."""
    from phb.terminology import services as terminology
    from phb.terminology.models import DrugKnowledgeRelease

    if not DrugKnowledgeRelease.objects.exists():
        terminology.code_system_load(ctx=Ctx.system(reason="test: load the drug catalogue"), slug="drugs")


def drug_code(name: str = "amoxicillin") -> str:
    """The catalogue's code of a generic drug, by name (or the name itself when it names none)."""
    ensure_drugs()
    found = drug_search(name, 1) if name.replace(" ", "").isalnum() else []
    return found[0].code if found else name


def pharmacist(organization, user=None) -> Ctx:
    return staff_ctx(organization, "pharmacist", user=user)


def technician(organization, user=None) -> Ctx:
    return staff_ctx(organization, "pharmacy_technician", user=user)


def location(ctx: Ctx, name: str | None = None, kind: str = LocationKind.MAIN_PHARMACY, **kwargs) -> StockLocation:
    return services.location_create(ctx=ctx, name=name or f"Pharmacy {next(_N)}", kind=kind, **kwargs)


def product(ctx: Ctx, drug: str = "amoxicillin", **kwargs) -> Product:
    fields = {"name": f"{drug.title()} {next(_N)}", "unit_of_issue": "capsule", "form": "", "strength": ""}
    fields.update(kwargs)
    return services.product_create(ctx=ctx, drug_code=drug_code(drug), **fields)


def supplier(ctx: Ctx, name: str | None = None, **kwargs):
    return services.supplier_create(ctx=ctx, name=name or f"Supplier {next(_N)}", **kwargs)


def in_days(days: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=days)


def receive(
    ctx: Ctx,
    where: StockLocation,
    what: Product,
    quantity: int | str | Decimal = 100,
    *,
    expires_in: int = 365,
    lot: str | None = None,
    unit_cost: str = "0.50",
    supplier_id=None,
) -> Batch:
    movement: StockMovement = services.stock_receive(
        ctx=ctx,
        location_id=where.id,
        product_id=what.id,
        lot_number=lot or f"LOT-{next(_N):05d}",
        expiry_on=in_days(expires_in),
        quantity=quantity,
        unit_cost=unit_cost,
        supplier_id=supplier_id,
    )
    return Batch.objects.for_tenant(ctx).get(id=movement.batch_id)


def backdate_expiry(ctx: Ctx, batch: Batch, *, days_ago: int = 1) -> Batch:
    """Make a batch already received expire in the past (receiving an expired batch is refused)."""
    Batch.objects.for_tenant(ctx).filter(id=batch.id).update(expiry_on=in_days(-days_ago))
    return Batch.objects.for_tenant(ctx).get(id=batch.id)


def stocked(organization):
    """A pharmacist, a technician, a main pharmacy and a ward store, and a product of amoxicillin."""
    ctx = pharmacist(organization)
    return {
        "ctx": ctx,
        "tech": technician(organization),
        "main": location(ctx, "Main pharmacy"),
        "ward": location(ctx, "Ward 3 store", kind=LocationKind.WARD_STORE),
        "product": product(ctx, "amoxicillin", name="Amoxicillin 500 mg capsules", form="capsule", strength="500 mg"),
    }


# --- prescriptions to dispense ----------------------------------------------------------------------


def amoxicillin_item(quantity: int = 15, **overrides):
    """A prescription item of amoxicillin 500 mg capsules (coded in the drug catalogue)."""
    from phb.terminology.public import DRUGS
    from tests.medications.factories import AMOXICILLIN

    return {**AMOXICILLIN, "drug_system": DRUGS, "drug_code": "amoxicillin", "quantity": Decimal(quantity), **overrides}


def prescription(organization, *items, patient=None, **kwargs):
    """A signed prescription of `items` (default: 15 capsules of amoxicillin), for a patient with an
    account (so that they can be told their medicines are ready)."""
    from tests.accounts.factories import UserFactory
    from tests.medications.factories import signed_prescription
    from tests.patients.factories import make_patient, register_at_desk
    from tests.scheduling.factories import desk_ctx

    if patient is None:
        patient = make_patient(user=UserFactory(), email="")
        register_at_desk(desk_ctx(organization), patient)
    return signed_prescription(organization, patient=patient, items=items or (amoxicillin_item(),), **kwargs)
