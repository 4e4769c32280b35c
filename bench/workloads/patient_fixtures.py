"""The 100,000 patients the patient workloads share (`patient_search`, `duplicate_scoring`, `mpi_quality`).

Generated people (`phb.demo.population`, fixed seed) go in with scoped bulk inserts, not 100,000 calls of
`patient_create`: the service would ask the master patient index, audit and queue duplicates for each,
which is what the workloads measure, not what they need as a starting point. The derived fields are
computed as `Patient.save()` computes them. Four organizations: 80 % of the patients are registered at
the first (the one the workloads search as), the rest at the other three. A patient's id is derived
from its person's key, so that the workloads know which record each generated person is.
"""

from __future__ import annotations

import functools
import random
import uuid
from dataclasses import dataclass
from typing import Any

POPULATION = 100_000
SEED = 20261130
ORGANIZATION_CODES = ("bench-patients-home", "bench-patients-2", "bench-patients-3", "bench-patients-4")
AT_HOME = 0.8
BATCH = 2000
NAMESPACE = uuid.UUID("6f1d3c52-6a0e-4d0b-9a57-2b6f0c4e8d11")


@dataclass(frozen=True)
class Fixture:
    people: list[Any]  # population.Person, by key
    organization_ids: list[uuid.UUID]  # the first is the workloads' own
    home_keys: list[int]  # the people registered at the first organization

    @property
    def home(self) -> uuid.UUID:
        return self.organization_ids[0]


def patient_id(key: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{SEED}:{key}")


def _registered_at(rng: random.Random) -> int:
    return 0 if rng.random() < AT_HOME else rng.randrange(1, len(ORGANIZATION_CODES))


@functools.cache  # the three patient workloads of one run share it
def ensure_patients() -> Fixture:
    """The organizations and the patients, created when missing (all at once, in one transaction)."""
    from django.db import connection, transaction

    from phb.demo import population
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization, OrganizationType, new_registration_number
    from phb.patients.models import Patient

    system = Ctx.system(reason="bench fixtures")
    organizations = Organization.objects.for_platform(system)
    existing = set(organizations.filter(code__in=ORGANIZATION_CODES).values_list("code", flat=True))
    organizations.bulk_create(
        [
            Organization(
                name=f"Bench Patients Hospital {i + 1}",
                kind=OrganizationType.HOSPITAL,
                code=code,
                registration_number=new_registration_number(OrganizationType.HOSPITAL),
            )
            for i, code in enumerate(ORGANIZATION_CODES)
            if code not in existing
        ]
    )
    by_code = dict(organizations.filter(code__in=ORGANIZATION_CODES).values_list("code", "id"))
    organization_ids = [by_code[code] for code in ORGANIZATION_CODES]

    people = population.people(POPULATION, seed=SEED)
    rng = random.Random(SEED)
    placed = [_registered_at(rng) for _ in people]
    present = Patient.objects.filter(id__in=[patient_id(0), patient_id(POPULATION - 1)]).count()
    if present != 2:
        with transaction.atomic():
            _insert(system, people, placed, organization_ids)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE patients_patient")
            cursor.execute("ANALYZE patients_patientregistration")
    first = Patient.objects.only("given_name", "family_name").get(id=patient_id(0))
    if (first.given_name, first.family_name) != (people[0].given_name, people[0].family_name):
        raise RuntimeError("the stored bench patients are not the generated population: drop the bench database")
    return Fixture(
        people=people,
        organization_ids=organization_ids,
        home_keys=[p.key for p, where in zip(people, placed, strict=True) if where == 0],
    )


def _insert(system: Any, people: list[Any], placed: list[int], organization_ids: list[uuid.UUID]) -> None:
    from django.utils import timezone

    from phb.patients import hpn, matching
    from phb.patients.models import MrnCounter, Patient, PatientRegistration, RegistrationStatus

    now = timezone.now()
    numbers: set[str] = set(Patient.objects.values_list("hpn", flat=True))
    counters = [0] * len(organization_ids)
    registrations = PatientRegistration.objects.for_system(system)
    for start in range(0, len(people), BATCH):
        patients, rows = [], []
        for person, where in zip(people[start : start + BATCH], placed[start : start + BATCH], strict=True):
            number = hpn.generate()
            while number in numbers:  # 100,000 random HPNs: a collision or two is expected
                number = hpn.generate()
            numbers.add(number)
            patients.append(
                Patient(
                    id=patient_id(person.key),
                    hpn=number,
                    given_name=person.given_name,
                    family_name=person.family_name,
                    other_names=person.other_names,
                    birth_date=person.birth_date,
                    birth_date_estimated=person.birth_date_estimated,
                    sex=person.sex,
                    phone=person.phone,
                    state=person.state,
                    city=person.city,
                    address_line=person.address_line,
                    occupation=person.occupation,
                    marital_status=person.marital_status,
                    # What Patient.save() derives; bulk_create does not call save().
                    given_key=matching.phonetic_key(person.given_name)[:60],
                    family_key=matching.phonetic_key(person.family_name)[:60],
                    search_name=matching.search_text(person.given_name, person.family_name, person.other_names)[:400],
                )
            )
            counters[where] += 1
            rows.append(
                PatientRegistration(
                    organization_id=organization_ids[where],
                    patient_id=patient_id(person.key),
                    mrn=f"{counters[where]:08d}",
                    is_primary=True,
                    status=RegistrationStatus.APPROVED,
                    decided_at=now,
                )
            )
        Patient.objects.bulk_create(patients)
        registrations.bulk_create(rows)
    for organization_id, last in zip(organization_ids, counters, strict=True):
        MrnCounter.objects.for_system(system).update_or_create(organization_id=organization_id, defaults={"last": last})


def demographics(person: Any) -> Any:
    """What a registration form would send the master patient index for `person`."""
    from phb.patients import matching

    return matching.Demographics(
        given_name=person.given_name.strip(),
        family_name=person.family_name.strip(),
        other_names=person.other_names,
        birth_date=person.birth_date,
        birth_date_estimated=person.birth_date_estimated,
        sex=person.sex,
        phone=person.phone,
    )
