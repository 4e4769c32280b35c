"""Medication (FHIR R4) from a generic of PHB's drug catalogue (code system `drugs`): its code (with the
ATC code when the catalogue has one), its dosage form when it comes in only one, and for a fixed-dose
combination its ingredients (each a generic of the catalogue). The catalogue is the same for every
organization; a Medication's id is the drug's code and its version the catalogue release's."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import coding, ref

DRUGS = "https://phb.health/fhir/CodeSystem/drugs"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
FORM_SYSTEM = "https://phb.health/fhir/CodeSystem/drug-form"


def to_fhir(code: str, display: str, properties: dict[str, Any], *, active: bool, version: str) -> dict[str, Any]:
    """The Medication of catalogue drug `code` (`properties` as the catalogue stores them)."""
    codings = [coding(DRUGS, code, display)]
    if properties.get("atc"):
        codings.append(coding(ATC, properties["atc"]))
    resource: dict[str, Any] = {
        "resourceType": "Medication",
        "id": code,
        "meta": {"versionId": version or "1"},
        "code": {"coding": codings, "text": display},
        "status": "active" if active else "inactive",
    }
    forms = {f["form"] for f in properties.get("forms", ())}
    if len(forms) == 1:
        form = forms.pop()
        resource["form"] = {"coding": [coding(FORM_SYSTEM, form)], "text": form}
    ingredients = properties.get("ingredients") or ()
    if ingredients:
        resource["ingredient"] = [{"itemReference": ref("Medication", i), "isActive": True} for i in ingredients]
    return resource
