"""What other apps may use of terminology: the coding value type, lookups, search and checks.

from phb.terminology.public import ICD10_CM, lookup, search, validate_coding

coding = validate_coding(ICD10_CM, "e11.9")        # Coding(system=ICD10_CM, code="E11.9", display=...)
validate_coding(SNOMED_CT, "44054006", "Diabetes")  # not held: any well-formed code is accepted
search("icd10-cm", "diab mell typ 2", 10)           # [Concept(...), ...]
"""

from phb.terminology.coding import ICD10_CM, LOINC, RXNORM, SNOMED_CT, Coding, Concept, UnknownCodeSystem
from phb.terminology.selectors import lookup, search, validate_coding

__all__ = [
    "ICD10_CM",
    "LOINC",
    "RXNORM",
    "SNOMED_CT",
    "Coding",
    "Concept",
    "UnknownCodeSystem",
    "lookup",
    "search",
    "validate_coding",
]
