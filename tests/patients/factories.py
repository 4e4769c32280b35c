"""Patients for tests: distinct invented people (so that the master patient index finds no duplicates
among them unless a test makes one), created through the service."""

from __future__ import annotations

import itertools
from typing import Any

from phb.demo import population
from phb.kernel.context import Ctx
from phb.patients import services
from phb.patients.models import Patient, PatientRegistration

_PEOPLE = [p for p in population.people(3000, seed=31) if p.birth_date is not None]
_NEXT = itertools.count()


def demographics(**overrides: Any) -> dict[str, Any]:
    person = _PEOPLE[next(_NEXT) % len(_PEOPLE)]
    fields = {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "birth_date": person.birth_date,
        "sex": person.sex,
        "phone": person.phone,
    }
    return {**fields, **overrides}


def make_patient(**overrides: Any) -> Patient:
    return services.patient_create(ctx=Ctx.system(reason="test"), confirmed_distinct=True, **demographics(**overrides))


def register_at_desk(ctx: Ctx, patient: Patient) -> PatientRegistration:
    """Reception registers an existing patient, who gives their date of birth as proof."""
    return services.registration_create(
        ctx=ctx, patient_id=patient.id, at_desk=True, proof_birth_date=patient.birth_date
    )
