"""Allergies, history and immunizations for tests: a clinician in a department who is seeing a
patient (so has a care relationship), and a few codings."""

from __future__ import annotations

from phb.clinical import history_services
from phb.kernel.context import Ctx
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory

RXNORM_PENICILLIN = {"system": "rxnorm", "code": "7980", "display": "Penicillin G"}
RXNORM_AMOXICILLIN = {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "723", "display": "Amoxicillin"}
SNOMED_HIVES = {"system": "http://snomed.info/sct", "code": "126485001", "display": "Urticaria"}
CVX_COVID = {"system": "cvx", "code": "208", "display": "COVID-19, mRNA, 30 mcg/0.3 mL"}


def seeing(organization, *roles: str, years: int | None = 40) -> tuple[Ctx, object]:
    """(a clinician's context, a patient they are seeing now)."""
    department = DepartmentFactory(organization=organization)
    ctx = clinician(organization, *(roles or ("doctor",)), department=department)
    patient = patient_at(organization, years=years)
    walk_in(ctx, patient, department)
    return ctx, patient


def allergy(ctx: Ctx, patient, substance=None, **kwargs):
    return history_services.allergy_create(
        ctx=ctx,
        patient_id=patient.id,
        substance=substance or RXNORM_PENICILLIN,
        category=kwargs.pop("category", "medication"),
        **kwargs,
    )
