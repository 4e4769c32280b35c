"""Dispensing under contention: 16 prescriptions dispensed at once from the same batch, which holds
fewer units than they ask for in total (16 x 15 capsules asked, 200 held), with
`pharmacy.dispensing.prescription_dispense` as a pharmacist, against 16 clients doing the same to the
balance with raw SQL (per dispensing, in one transaction: `SELECT ... FOR UPDATE` of the balance, its
UPDATE and the ledger's INSERT). Report: µs per batch of 16 (divide by 16 for the time per dispensing;
16 / it for dispensings per second), and the ratio to raw SQL.

Each timed operation takes a fresh stock location holding one batch of 200 (made beforehand, so that
first-expiry-first-out picks that batch and nothing else) and, for PHB, 16 fresh signed prescriptions
(one item of 15 capsules each). Expected every time: 13 prescriptions in full, one in part (5), two
refused INSUFFICIENT_STOCK; the balance ends at 0. Correctness is checked in SQL: after the first batch
of each side, and after the whole run over every batch the workload used (`dispense_concurrency_ledger`):
the ledger sums to the balance for every location and batch, no balance is negative, each batch handed
out exactly the 200 it held. The bench role is a superuser: row-level security is bypassed on both sides.
"""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from bench.runner import CheckFailed, Outcome, Variant, Workload

CLIENTS = 16
ASKED = 15  # capsules per prescription
HELD = 200  # in the batch: 13 x 15 + 5
ITERATION_DIVISOR = 30
CHUNK = 60  # locations (and prescriptions for 16 x as many dispensings) made at a time
ORGANIZATION_CODE = "bench-pharmacy"
PHARMACIST_EMAIL = "bench-pharmacist@pharmacy.bench.phb.example"
PATIENT_EMAIL = "bench-pharmacy-patient@pharmacy.bench.phb.example"


def _system() -> Any:
    from phb.kernel.context import Ctx

    return Ctx.system(reason="bench fixtures: dispensing")


def _fixture() -> dict[str, Any]:
    """The bench's pharmacy: an organization, a pharmacist, a patient, a product of amoxicillin."""
    from django.db import transaction

    from phb.accounts.models import Membership, User
    from phb.accounts.roles import permissions_for
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization, OrganizationType, new_registration_number
    from phb.patients import services as patients
    from phb.patients.models import Patient
    from phb.pharmacy.models import Product

    system = _system()
    with transaction.atomic():
        organization = Organization.objects.for_platform(system).filter(code=ORGANIZATION_CODE).first()
        if organization is None:
            organization = Organization.objects.create(
                name="Bench Pharmacy Hospital",
                kind=OrganizationType.HOSPITAL,
                code=ORGANIZATION_CODE,
                registration_number=new_registration_number(OrganizationType.HOSPITAL),
            )
        ctx = system.for_organization(organization.id)
        user, _ = User.objects.get_or_create(email=PHARMACIST_EMAIL, defaults={"full_name": "Bench Pharmacist"})
        if not Membership.objects.for_tenant(ctx).filter(user=user).exists():
            Membership.objects.create(organization_id=organization.id, user=user, roles=["pharmacist"])
        patient = Patient.objects.filter(email=PATIENT_EMAIL).first() or patients.patient_create(
            ctx=system,
            given_name="Bench",
            family_name="Dispensee",
            birth_date=dt.date(1980, 1, 1),
            email=PATIENT_EMAIL,
            confirmed_distinct=True,
        )
        product = Product.objects.for_tenant(ctx).filter(name="Bench amoxicillin capsules").first()
        if product is None:
            product = Product.objects.create(
                organization_id=organization.id,
                drug_code="amoxicillin",
                drug_name="Amoxicillin",
                name="Bench amoxicillin capsules",
                unit_of_issue="capsule",
            )
    pharmacist = Ctx(
        actor_id=user.id,
        organization_id=organization.id,
        roles=frozenset({"pharmacist"}),
        permissions=permissions_for(["pharmacist"]),
        ip="127.0.0.1",
    )
    return {"ctx": ctx, "pharmacist": pharmacist, "patient": patient, "product": product, "user": user}


def _stocked_locations(fixture: dict[str, Any], side: str, count: int) -> list[tuple[Any, Any, Any]]:
    """`count` new locations, each holding one batch of HELD (its receipt in the ledger): (location id,
    batch id, level id)."""
    from django.db import transaction
    from django.utils import timezone

    from phb.pharmacy.models import Batch, LocationKind, StockLevel, StockLocation, StockMovement

    ctx, product, now = fixture["ctx"], fixture["product"], timezone.now()
    tag = uuid.uuid4().hex[:10]
    org = ctx.organization_id
    with transaction.atomic():
        locations = [
            StockLocation(organization_id=org, name=f"bench {side} {tag} {i}", kind=LocationKind.MAIN_PHARMACY)
            for i in range(count)
        ]
        StockLocation.objects.for_tenant(ctx).bulk_create(locations)
        batches = [
            Batch(
                organization_id=org,
                product=product,
                lot_number=f"{side[:3]}-{tag}-{i}",
                expiry_on=dt.date.today() + dt.timedelta(days=365),
                unit_cost=Decimal("0.05"),
            )
            for i in range(count)
        ]
        Batch.objects.for_tenant(ctx).bulk_create(batches)
        levels = [
            StockLevel(organization_id=org, location=loc, batch=b, product=product, on_hand=HELD)
            for loc, b in zip(locations, batches, strict=True)
        ]
        StockLevel.objects.for_tenant(ctx).bulk_create(levels)
        StockMovement.objects.for_tenant(ctx).bulk_create(
            StockMovement(
                organization_id=org,
                location=loc,
                batch=b,
                product=product,
                kind="receive",
                quantity=HELD,
                at=now,
            )
            for loc, b in zip(locations, batches, strict=True)
        )
    return [(loc.id, b.id, lv.id) for loc, b, lv in zip(locations, batches, levels, strict=True)]


def _prescriptions(fixture: dict[str, Any], count: int) -> list[uuid.UUID]:
    """`count` signed prescriptions of one item, 15 amoxicillin capsules, written straight to the tables
    (no safety check: what a pharmacy dispenses against)."""
    from django.db import transaction
    from django.utils import timezone

    from phb.medications.models import Prescription, PrescriptionItem
    from phb.terminology.public import DRUGS

    ctx, patient, user, now = fixture["ctx"], fixture["patient"], fixture["user"], timezone.now()
    org = ctx.organization_id
    tag = uuid.uuid4().hex[:8].upper()
    with transaction.atomic():
        rows = [
            Prescription(
                organization_id=org,
                number=f"RX-B{tag}{i:05d}"[:20],
                patient=patient,
                author=user,
            )
            for i in range(count)
        ]
        Prescription.objects.for_tenant(ctx).bulk_create(rows)
        PrescriptionItem.objects.for_tenant(ctx).bulk_create(
            PrescriptionItem(
                organization_id=org,
                prescription=p,
                patient=patient,
                position=0,
                drug_system=DRUGS,
                drug_code="amoxicillin",
                drug_display="Amoxicillin",
                form="capsule",
                strength="500 mg",
                dose_quantity=Decimal(1),
                dose_unit="capsule",
                route="oral",
                frequency="TDS",
                duration_days=5,
                quantity=Decimal(ASKED),
                quantity_unit="capsule",
                starts_at=now,
                ends_at=now + dt.timedelta(days=5),
            )
            for p in rows
        )
        # Signed once its items are in: a signed prescription takes no new item (medications.db).
        Prescription.objects.for_tenant(ctx).filter(id__in=[p.id for p in rows]).update(
            status="signed", signed_at=now, prescriber=user, expires_at=now + dt.timedelta(days=30)
        )
    return [p.id for p in rows]


def _ledger_problems(where: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """(location, batch, ledger sum, balance) wherever they disagree or the balance is negative."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.location_id, l.batch_id, COALESCE(m.total, 0), l.on_hand FROM pharmacy_stocklevel l "
            "LEFT JOIN (SELECT location_id, batch_id, SUM(quantity) AS total FROM pharmacy_stockmovement "
            "GROUP BY location_id, batch_id) m ON m.location_id = l.location_id AND m.batch_id = l.batch_id "
            f"WHERE ({where}) AND (l.on_hand < 0 OR l.on_hand <> COALESCE(m.total, 0))",
            params,
        )
        return cursor.fetchall()


def build(dsn: str) -> list[Any]:
    import psycopg
    from django.db import connection

    from phb.kernel.errors import Conflict
    from phb.kernel.ids import uuid7
    from phb.pharmacy import dispensing

    fixture = _fixture()
    pharmacist = fixture["pharmacist"]
    org = fixture["ctx"].organization_id
    product_id, actor_id = fixture["product"].id, fixture["user"].id
    pools: dict[str, list[tuple[Any, Any, Any]]] = {"phb": [], "raw": []}
    prescriptions: list[uuid.UUID] = []
    used: list[Any] = []  # every batch a timed operation dispensed from
    pool = ThreadPoolExecutor(max_workers=CLIENTS)
    connections = [psycopg.connect(dsn, autocommit=True) for _ in range(CLIENTS)]

    def take(side: str) -> tuple[Any, Any, Any]:
        if not pools[side]:
            pools[side] = _stocked_locations(fixture, side, CHUNK)
        used.append(pools[side][-1][1])
        return pools[side].pop()

    def next_prescriptions() -> list[uuid.UUID]:
        if len(prescriptions) < CLIENTS:
            prescriptions.extend(_prescriptions(fixture, CHUNK * CLIENTS))
        out = prescriptions[-CLIENTS:]
        del prescriptions[-CLIENTS:]
        return out

    def dispense(location_id: Any, prescription_id: uuid.UUID) -> str:
        try:
            done = dispensing.prescription_dispense(
                ctx=pharmacist, prescription_id=prescription_id, location_id=location_id
            )
        except Conflict as exc:
            return exc.code
        return done.prescription_status

    def raw(client: int, location_id: Any, batch_id: Any, level_id: Any) -> str:
        conn, now = connections[client], dt.datetime.now(dt.UTC)
        with conn.transaction():
            held = conn.execute("SELECT on_hand FROM pharmacy_stocklevel WHERE id = %s FOR UPDATE", (level_id,))
            taken = min(held.fetchone()[0], Decimal(ASKED))
            if taken <= 0:
                return "INSUFFICIENT_STOCK"
            conn.execute(
                "UPDATE pharmacy_stocklevel SET on_hand = on_hand - %s, updated_at = %s WHERE id = %s",
                (taken, now, level_id),
            )
            conn.execute(
                "INSERT INTO pharmacy_stockmovement (id, created_at, updated_at, organization_id, location_id, "
                "batch_id, product_id, kind, quantity, reason, actor_id, at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, 'dispense', %s, '', %s, %s)",
                (uuid7(), now, now, org, location_id, batch_id, product_id, -taken, actor_id, now),
            )
        return "dispensed" if taken == ASKED else "partially_dispensed"

    def batch(side: str) -> dict[str, Any]:
        location_id, batch_id, level_id = take(side)
        if side == "phb":
            outcomes = list(pool.map(lambda p: dispense(location_id, p), next_prescriptions()))
        else:
            outcomes = list(pool.map(lambda c: raw(c, location_id, batch_id, level_id), range(CLIENTS)))
        return {"location_id": location_id, "batch_id": batch_id, "outcomes": outcomes}

    def check(result: dict[str, Any]) -> None:
        outcomes = result["outcomes"]
        counts = {k: outcomes.count(k) for k in ("dispensed", "partially_dispensed", "INSUFFICIENT_STOCK")}
        if counts != {"dispensed": 13, "partially_dispensed": 1, "INSUFFICIENT_STOCK": 2}:
            raise CheckFailed(f"outcomes {outcomes}")
        problems = _ledger_problems("l.batch_id = %s", [result["batch_id"]])
        with connection.cursor() as cursor:
            cursor.execute("SELECT on_hand FROM pharmacy_stocklevel WHERE batch_id = %s", [result["batch_id"]])
            left = cursor.fetchone()[0]
        if problems or left != 0:
            raise CheckFailed(f"ledger/balance: {problems}, {left} left of {HELD}")

    def teardown() -> None:
        pool.shutdown()
        for conn in connections:
            conn.close()

    def ledger_outcome() -> dict[str, Any]:
        if not used:
            raise CheckFailed("the timed workload used no batch")
        problems = _ledger_problems("l.batch_id = ANY(%s)", [used])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT batch_id FROM pharmacy_stockmovement WHERE batch_id = ANY(%s) "
                "AND kind = 'dispense' GROUP BY batch_id HAVING SUM(quantity) <> %s) d",
                [used, -HELD],
            )
            wrong = cursor.fetchone()[0]
        if problems or wrong:
            raise CheckFailed(f"{len(problems)} balances disagree with the ledger, {wrong} batches not emptied exactly")
        return {
            "trials": len(used),
            "detail": f"{len(used)} batches of {HELD} dispensed by {CLIENTS} concurrent clients each: "
            "every ledger sums to its balance, none negative, each batch emptied exactly",
        }

    return [
        Workload(
            name="dispense_concurrency",
            description=f"{CLIENTS} concurrent dispensings of {ASKED} from one batch of {HELD} (µs per batch of {CLIENTS})",
            reference=Variant("a. raw SQL (locked UPDATE + ledger INSERT)", lambda: batch("raw"), check),
            variants=[Variant("b. dispensing.prescription_dispense", lambda: batch("phb"), check)],
            teardown=teardown,
        ),
        Outcome(
            name="dispense_concurrency_ledger",
            description="after the dispensing workload: the ledger of every batch it used",
            measure=ledger_outcome,
        ),
    ]
