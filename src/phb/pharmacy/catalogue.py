"""The one place pharmacy asks the drug catalogue about a drug: whether a code names one, its generic
name, and whether it is a controlled substance (copied onto the product)."""

from __future__ import annotations

from dataclasses import dataclass

from phb.kernel.errors import NotFound, ValidationFailed
from phb.terminology.public import drug_get


@dataclass(frozen=True)
class DrugRef:
    code: str
    name: str
    controlled: bool


def drug_of(code: str) -> DrugRef:
    """The catalogue's drug for `code`; ValidationFailed DRUG_UNKNOWN (on `drug_code`) when the
    catalogue has no such drug, or no longer lists it (a product is made for a drug in use)."""
    try:
        drug = drug_get((code or "").strip())
    except NotFound:
        drug = None
    if drug is None or not drug.active:
        raise ValidationFailed(
            "not a drug of the catalogue",
            code="DRUG_UNKNOWN",
            errors=[{"field": "drug_code", "message": "not a drug of the catalogue", "code": "DRUG_UNKNOWN"}],
        )
    return DrugRef(code=drug.code, name=drug.name, controlled=drug.controlled)
