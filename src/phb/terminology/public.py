"""What other apps may use of terminology: the coding value type, lookups, search and checks; the drug
catalogue and the medication-safety check.

from phb.terminology.public import ICD10_CM, lookup, search, validate_coding

coding = validate_coding(ICD10_CM, "e11.9")        # Coding(system=ICD10_CM, code="E11.9", display=...)
validate_coding(SNOMED_CT, "44054006", "Diabetes")  # not held: any well-formed code is accepted
search("icd10-cm", "diab mell typ 2", 10)           # [Concept(...), ...]

from phb.terminology.public import ProposedDrug, drug_search, knowledge_version, safety_check

drug_search("augmentin")                            # [Drug(code="amoxicillin-clavulanate", ...)]
alerts = safety_check(proposed=[ProposedDrug("line-1", "clarithromycin")], current=["simvastatin"])
alerts[0].severity, alerts[0].rule                  # ("contraindicated", "DDI-0003")
knowledge_version()                                 # "2026.11.1": record it with the check
"""

from phb.terminology.coding import DRUGS, ICD10_CM, LOINC, RXNORM, SNOMED_CT, Coding, Concept, UnknownCodeSystem
from phb.terminology.drug_safety import (
    SEVERITIES,
    AllergySubstance,
    Drug,
    DrugForm,
    ProposedDrug,
    SafetyAlert,
)
from phb.terminology.selectors import (
    DrugKnowledgeMissing,
    DrugUnknown,
    drug_for_coding,
    drug_for_text,
    drug_get,
    drug_search,
    knowledge_version,
    lookup,
    safety_check,
    search,
    validate_coding,
)

__all__ = [
    "DRUGS",
    "ICD10_CM",
    "LOINC",
    "RXNORM",
    "SEVERITIES",
    "SNOMED_CT",
    "AllergySubstance",
    "Coding",
    "Concept",
    "Drug",
    "DrugForm",
    "DrugKnowledgeMissing",
    "DrugUnknown",
    "ProposedDrug",
    "SafetyAlert",
    "UnknownCodeSystem",
    "drug_for_coding",
    "drug_for_text",
    "drug_get",
    "drug_search",
    "knowledge_version",
    "lookup",
    "safety_check",
    "search",
    "validate_coding",
]


# --- the drug catalogue as other systems see it (the FHIR API's Medication) ---------------------------
from typing import Any

from django.db.models import QuerySet

from phb.terminology.models import Concept as _Concept


def drug_concepts() -> QuerySet[Any]:
    """The catalogue's drugs as stored concepts (code, display, active, properties: forms, ATC, RxNorm,
    ingredients), with their code system (its version is the catalogue release's). No health data."""
    return _Concept.objects.filter(system__uri=DRUGS).select_related("system")


__all__ += ["drug_concepts"]
