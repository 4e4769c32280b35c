"""Deterministic, idempotent demo data: a network with a teaching hospital and a clinic, their
departments, opening hours and public holidays (Nigeria's known ones, from today to the end of next
year), staff, about 200 patients, the doctors' availability and about 2,000 appointments. Running it
twice changes nothing. Every name here is invented."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from phb.accounts import services as account_services
from phb.accounts.models import Membership, User
from phb.demo import appointments, clinical, population
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.organizations import public as organizations
from phb.organizations import services as org_services
from phb.patients import services as patient_services
from phb.patients.models import Patient

DEMO_PASSWORD = "demo-Health-2026"  # noqa: S105 (printed by `make run`; local demo only)


@dataclass(frozen=True)
class DemoOrganization:
    code: str
    name: str
    kind: str
    registration_number: str
    city: str
    state: str
    parent_code: str | None = None


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    organization_code: str | None
    roles: tuple[str, ...]
    platform_operator: bool = False


ORGANIZATIONS = [
    DemoOrganization("lagoon-health", "Lagoon Health Network", "network", "NET-0000DEM0", "Lagos", "Lagos"),
    DemoOrganization(
        "unity-teaching",
        "Unity Teaching Hospital",
        "hospital",
        "HSP-0000DEM1",
        "Lagos",
        "Lagos",
        parent_code="lagoon-health",
    ),
    DemoOrganization(
        "harmony-clinic",
        "Harmony Family Clinic",
        "clinic",
        "CLN-0000DEM2",
        "Ibadan",
        "Oyo",
        parent_code="lagoon-health",
    ),
]

USERS = [
    DemoUser("operator@demo.phb.example", "Tunde Operator", None, (), platform_operator=True),
    DemoUser("admin@unity.demo.phb.example", "Ngozi Okafor", "unity-teaching", ("hospital_admin",)),
    DemoUser("doctor@unity.demo.phb.example", "Dr Emeka Balogun", "unity-teaching", ("doctor",)),
    DemoUser("surgeon@unity.demo.phb.example", "Dr Halima Yusuf", "unity-teaching", ("surgeon",)),
    DemoUser("nurse@unity.demo.phb.example", "Aisha Bello", "unity-teaching", ("nurse",)),
    DemoUser("pharmacist@unity.demo.phb.example", "Chidi Eze", "unity-teaching", ("pharmacist",)),
    DemoUser("lab@unity.demo.phb.example", "Yemi Alade", "unity-teaching", ("laboratory_scientist",)),
    DemoUser("reception@unity.demo.phb.example", "Grace Udo", "unity-teaching", ("receptionist",)),
    DemoUser("privacy@unity.demo.phb.example", "Ibrahim Musa", "unity-teaching", ("privacy_officer",)),
    DemoUser("admin@harmony.demo.phb.example", "Folake Adeyemi", "harmony-clinic", ("hospital_admin",)),
    DemoUser("doctor@harmony.demo.phb.example", "Dr Kwame Mensah", "harmony-clinic", ("doctor",)),
    DemoUser("privacy@harmony.demo.phb.example", "Efua Asante", "harmony-clinic", ("privacy_officer",)),
]
# Weekly opening hours, in the organization's local time: (weekday, opens, closes), Monday 0.
WEEKDAYS_AND_SATURDAY_MORNING = [(w, dt.time(7, 30), dt.time(18, 0)) for w in range(5)] + [
    (5, dt.time(9, 0), dt.time(13, 0))
]
OPENING_HOURS = {
    "unity-teaching": WEEKDAYS_AND_SATURDAY_MORNING,
    "harmony-clinic": [(w, dt.time(8, 0), dt.time(17, 0)) for w in range(5)],
}
PATIENTS = [
    ("adaeze@demo.phb.example", "Adaeze Nwankwo"),
    ("olumide@demo.phb.example", "Olumide Bakare"),
    ("zainab@demo.phb.example", "Zainab Lawal"),
]


def demo_totp_key(email: str) -> str:
    """A fixed authenticator secret per demo user, so the printed secrets stay valid across resets."""
    return hashlib.sha1(f"phb-demo:{email}".encode(), usedforsecurity=False).hexdigest()  # 20 bytes, hex


def demo_totp_secret(email: str) -> str:
    return base64.b32encode(bytes.fromhex(demo_totp_key(email))).decode().rstrip("=")


def seed_demo() -> dict[str, int]:
    """Create whatever part of the demo data is missing. Returns how many rows of each kind were made."""
    ctx = Ctx.system(reason="seed demo data")
    made = {
        "organizations": 0,
        "departments": 0,
        "users": 0,
        "memberships": 0,
        "patients": 0,
        "appointments": 0,
        "holidays": 0,
        "encounters": 0,
    }
    with transaction.atomic():
        by_code: dict[str, Organization] = {
            o.code: o for o in Organization.objects.for_platform(ctx).filter(code__in=[d.code for d in ORGANIZATIONS])
        }
        for spec in ORGANIZATIONS:
            if spec.code not in by_code:
                parent = by_code[spec.parent_code] if spec.parent_code else None
                by_code[spec.code] = org_services.organization_create(
                    ctx=ctx,
                    name=spec.name,
                    kind=spec.kind,
                    code=spec.code,
                    registration_number=spec.registration_number,
                    parent_id=parent.id if parent else None,
                    city=spec.city,
                    state=spec.state,
                    country="NG",
                )
                made["organizations"] += 1
            if spec.kind != "network":
                org_ctx = ctx.for_organization(by_code[spec.code].id)
                made["departments"] += len(org_services.departments_ensure_standard(ctx=org_ctx))
                made["holidays"] += _seed_calendar(org_ctx, by_code[spec.code], OPENING_HOURS[spec.code])
        for spec in USERS:
            user = User.objects.filter(email=spec.email).first()
            if user is None:
                user = account_services.user_create(
                    ctx=ctx,
                    email=spec.email,
                    password=DEMO_PASSWORD,
                    full_name=spec.full_name,
                    is_platform_operator=spec.platform_operator,
                    country="NG",
                    email_verified_at=timezone.now(),
                )
                TOTPDevice.objects.create(
                    user=user, name="Demo authenticator", key=demo_totp_key(spec.email), confirmed=True
                )
                made["users"] += 1
            if spec.organization_code:
                org_ctx = ctx.for_organization(by_code[spec.organization_code].id)
                if not Membership.objects.for_tenant(org_ctx).filter(user=user).exists():
                    account_services.membership_create(ctx=org_ctx, user=user, roles=spec.roles)
                    made["memberships"] += 1
        unity = ctx.for_organization(by_code["unity-teaching"].id)
        for i, (email, name) in enumerate(PATIENTS):
            if not User.objects.filter(email=email).exists():
                user = account_services.user_create(
                    ctx=ctx,
                    email=email,
                    password=DEMO_PASSWORD,
                    full_name=name,
                    country="NG",
                    email_verified_at=timezone.now(),
                )
                given, family = name.split(" ", 1)
                patient = patient_services.patient_create(
                    ctx=ctx,
                    given_name=given,
                    family_name=family,
                    birth_date=dt.date(1975 + 7 * i, 3 + i, 10 + i),
                    sex=("female", "male", "female")[i],
                    user=user,
                    city="Lagos",
                    state="Lagos",
                )
                patient_services.registration_create(ctx=unity, patient_id=patient.id, at_desk=True, new_patient=True)
                made["patients"] += 1
        made["patients"] += _seed_population(unity, ctx.for_organization(by_code["harmony-clinic"].id))
        made["appointments"] = appointments.seed_appointments(ctx, by_code, target=DEMO_APPOINTMENTS)
        made["encounters"] = clinical.seed_histories(ctx, by_code, [email for email, _ in PATIENTS])
        made["prescriptions"] = clinical.seed_prescriptions(ctx, by_code, [email for email, _ in PATIENTS])
        seed_pharmacy_stock(unity)  # once: its products are not counted among what each run made
    return made


def _seed_calendar(ctx: Ctx, organization: Organization, hours: list[tuple[int, dt.time, dt.time]]) -> int:
    """Opening hours (once), and Nigeria's public holidays known in advance (fixed dates, Good Friday,
    Easter Monday) from today to the end of next year that are not there yet. Returns how many holidays
    were added."""
    if not organizations.opening_hours_list(ctx=ctx).exists():
        organizations.opening_hours_set(ctx=ctx, hours=hours)
    today = timezone.now().astimezone(ZoneInfo(organization.timezone)).date()
    known = organizations.nigerian_public_holidays(today.year) + organizations.nigerian_public_holidays(today.year + 1)
    return len(organizations.holidays_add_known(ctx=ctx, holidays=known, from_date=today))


DEMO_POPULATION = 200
DEMO_APPOINTMENTS = 2000
NEAR_DUPLICATES = 6


def _seed_population(unity: Ctx, harmony: Ctx) -> int:
    """About 200 patients registered at reception: most at the teaching hospital, some at the clinic,
    some at both; and a few recorded twice with small differences, waiting in the teaching hospital's
    duplicates queue."""
    people = population.people(DEMO_POPULATION, seed=2026)
    if Patient.objects.filter(phone=people[0].phone, family_name=people[0].family_name).exists():
        return 0
    made = 0
    for i, person in enumerate(people):
        desks = [unity] if i % 20 < 12 else [harmony] if i % 20 < 17 else [unity, harmony]
        fields = {
            "given_name": person.given_name,
            "family_name": person.family_name,
            "other_names": person.other_names,
            "birth_date": person.birth_date,
            "sex": person.sex,
            "phone": person.phone,
            "state": person.state,
            "city": person.city,
            "address_line": person.address_line,
            "occupation": person.occupation,
            "marital_status": person.marital_status,
        }
        registration = patient_services.walk_in_register(ctx=desks[0], confirmed_distinct=True, **fields)
        for desk in desks[1:]:
            patient_services.registration_create(
                ctx=desk, patient_id=registration.patient_id, at_desk=True, proof_birth_date=person.birth_date
            )
        made += 1
        if i < NEAR_DUPLICATES and desks[0] is unity:
            again = population.recorded_again(person, seed=i, changes=1)
            try:
                patient_services.walk_in_register(
                    ctx=unity,
                    confirmed_distinct=True,
                    **{
                        **fields,
                        "given_name": again.given_name,
                        "family_name": again.family_name,
                        "birth_date": again.birth_date,
                        "phone": "",  # a different phone would make it a near-certain match
                        "sex": again.sex,
                    },
                )
            except patient_services.PatientExists:
                continue  # recorded too alike to be allowed twice: nothing to review
            made += 1
    return made


def sign_ins() -> list[tuple[str, str, str]]:
    """(email, what they are, authenticator secret or "") for the demo users, to print at start-up."""
    out = []
    for spec in USERS:
        what = "platform operator" if spec.platform_operator else f"{', '.join(spec.roles)} at {spec.organization_code}"
        out.append((spec.email, what, demo_totp_secret(spec.email)))
    out += [(email, "patient", "") for email, _ in PATIENTS]
    return out


# --- pharmacy stock ---------------------------------------------------------------------------------
# (generic code, product name, form, strength, unit of issue, pack size, unit cost, reorder level)
DEMO_PRODUCTS = [
    ("amoxicillin", "Amoxicillin 500 mg capsules", "capsule", "500 mg", "capsule", 100, "0.0600", 300),
    ("paracetamol", "Paracetamol 500 mg tablets", "tablet", "500 mg", "tablet", 1000, "0.0080", 1000),
    ("ibuprofen", "Ibuprofen 400 mg tablets", "tablet", "400 mg", "tablet", 100, "0.0200", 300),
    ("metformin", "Metformin 500 mg tablets", "tablet", "500 mg", "tablet", 100, "0.0250", 400),
    (
        "artemether-lumefantrine",
        "Artemether/lumefantrine 20/120 mg tablets",
        "tablet",
        "20 mg/120 mg",
        "tablet",
        24,
        "0.0900",
        240,
    ),
    ("co-trimoxazole", "Co-trimoxazole 960 mg tablets", "tablet", "800 mg/160 mg", "tablet", 100, "0.0300", 200),
    ("ciprofloxacin", "Ciprofloxacin 500 mg tablets", "tablet", "500 mg", "tablet", 100, "0.0500", 200),
    ("metronidazole", "Metronidazole 400 mg tablets", "tablet", "400 mg", "tablet", 100, "0.0200", 200),
    ("omeprazole", "Omeprazole 20 mg capsules", "gastro-resistant capsule", "20 mg", "capsule", 28, "0.0400", 140),
    ("lisinopril", "Lisinopril 10 mg tablets", "tablet", "10 mg", "tablet", 28, "0.0350", 112),
    ("atorvastatin", "Atorvastatin 20 mg tablets", "tablet", "20 mg", "tablet", 28, "0.0450", 112),
    ("losartan", "Losartan 50 mg tablets", "tablet", "50 mg", "tablet", 28, "0.0400", 112),
    ("diazepam", "Diazepam 5 mg tablets", "tablet", "5 mg", "tablet", 28, "0.0300", 56),
    ("morphine", "Morphine sulfate 10 mg tablets", "tablet", "10 mg", "tablet", 60, "0.2000", 60),
    ("ceftriaxone", "Ceftriaxone 1 g powder for injection", "powder for injection", "1 g", "vial", 1, "1.5000", 20),
    # what the demo prescriptions need besides
    ("amlodipine", "Amlodipine 5 mg tablets", "tablet", "5 mg", "tablet", 28, "0.0300", 112),
    ("warfarin", "Warfarin 5 mg tablets", "tablet", "5 mg", "tablet", 28, "0.0500", 56),
    ("aspirin", "Aspirin 75 mg dispersible tablets", "tablet", "75 mg", "tablet", 28, "0.0100", 112),
]


def seed_pharmacy_stock(ctx: Ctx) -> int:
    """The organization's main pharmacy (the pharmacy department's) and a ward store, a supplier,
    eighteen products of common generics (those of the demo prescriptions among them), each with two batches (one expiring within the near-expiry
    window for some, later for the others) and a reorder level, and a purchase order received in full.
    Once: nothing is added when the organization already keeps stock. Returns the products made."""
    from phb.organizations.models import Department, DepartmentKind
    from phb.pharmacy import purchasing
    from phb.pharmacy import services as pharmacy
    from phb.pharmacy.models import Batch, LocationKind, StockLocation

    if StockLocation.objects.for_tenant(ctx).exists():
        return 0
    department = Department.objects.for_tenant(ctx).filter(kind=DepartmentKind.PHARMACY).first()
    main = pharmacy.location_create(
        ctx=ctx,
        name="Main pharmacy",
        kind=LocationKind.MAIN_PHARMACY,
        department_id=department.id if department else None,
    )
    ward = pharmacy.location_create(ctx=ctx, name="Medical ward store", kind=LocationKind.WARD_STORE)
    supplier = pharmacy.supplier_create(
        ctx=ctx,
        name="Lagoon Pharma Distributors",
        contact_name="Bisi Adewale",
        phone="+2348030000000",
        email="orders@lagoonpharma.example",
        address="12 Marina Road, Lagos",
    )
    today = timezone.localdate()
    products = []
    for i, (code, name, form, strength, unit, pack, cost, level) in enumerate(DEMO_PRODUCTS):
        product = pharmacy.product_create(
            ctx=ctx, drug_code=code, name=name, form=form, strength=strength, unit_of_issue=unit, pack_size=pack
        )
        products.append(product)
        for lot, days, quantity in (
            (f"{code[:3].upper()}{i:02d}A", 45 + 20 * (i % 4), level // 2),
            (f"{code[:3].upper()}{i:02d}B", 540, level * 2),
        ):
            pharmacy.stock_receive(
                ctx=ctx,
                location_id=main.id,
                product_id=product.id,
                lot_number=lot,
                expiry_on=today + dt.timedelta(days=days),
                quantity=quantity,
                unit_cost=cost,
                supplier_id=supplier.id,
            )
        pharmacy.reorder_level_set(ctx=ctx, product_id=product.id, location_id=main.id, level=level)
    first = products[0]
    pharmacy.stock_transfer(
        ctx=ctx,
        from_location_id=main.id,
        to_location_id=ward.id,
        batch_id=Batch.objects.for_tenant(ctx).filter(product=first).order_by("expiry_on").first().id,
        quantity=50,
        reason="ward top-up",
    )
    order = purchasing.purchase_order_create(
        ctx=ctx,
        supplier_id=supplier.id,
        location_id=main.id,
        lines=[
            {"product_id": p.id, "quantity": level, "unit_cost": cost}
            for p, (_, _, _, _, _, _, cost, level) in zip(products[:3], DEMO_PRODUCTS[:3], strict=True)
        ],
        notes="Monthly order",
    )
    purchasing.purchase_order_submit(ctx=ctx, order_id=order.id)
    purchasing.purchase_order_receive(
        ctx=ctx,
        order_id=order.id,
        deliveries=[
            {
                "line_id": line.id,
                "lot_number": f"PO{i}-{order.number[-4:]}",
                "expiry_on": today + dt.timedelta(days=720),
                "quantity": line.quantity_ordered,
            }
            for i, line in enumerate(purchasing.purchase_order_lines(ctx, order))
        ],
    )
    return len(products)
