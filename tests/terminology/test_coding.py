"""Checking a coding: well-formed in any system; known to the system when PHB holds it completely;
any well-formed code when it holds a part of it (LOINC) or none of it (SNOMED CT, RxNorm, ...)."""

import dataclasses

import pytest

from phb.kernel.errors import ValidationFailed
from phb.terminology import public
from phb.terminology.coding import code_key, fold, normalize_code
from phb.terminology.models import Concept
from phb.terminology.sources import SOURCES
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db
ICD = public.ICD10_CM


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


def refused(*args, **kwargs):
    with pytest.raises(ValidationFailed) as caught:
        public.validate_coding(*args, **kwargs)
    return caught.value


def test_an_icd10_cm_code_comes_back_canonical_with_its_display():
    assert public.validate_coding(ICD, "e119") == public.Coding(
        ICD, "E11.9", "Type 2 diabetes mellitus without complications"
    )
    assert public.validate_coding("icd10-cm", " E11.9 ", "T2DM, diet controlled").display == "T2DM, diet controlled"
    assert public.validate_coding(ICD, "E11").code == "E11"  # a category may be recorded ...


def test_with_selectable_only_a_billable_code_is_accepted():
    problem = refused(ICD, "E11", selectable=True)  # ... unless billable codes are required
    assert problem.code == "CODE_NOT_SELECTABLE"
    assert public.validate_coding(ICD, "E11.9", selectable=True).code == "E11.9"
    assert public.validate_coding(ICD, "B20", selectable=True).code == "B20"


def test_an_unknown_icd10_cm_code_is_refused_with_a_stable_code():
    problem = refused(ICD, "E11.99", field="diagnosis")
    assert problem.code == "UNKNOWN_CODE"
    assert problem.status == 400
    assert problem.extra["errors"] == [
        {"field": "diagnosis.code", "message": "E11.99 is not a code of ICD-10-CM", "code": "unknown_code"}
    ]


def test_an_inactive_code_is_refused():
    Concept.objects.filter(system__uri=ICD, code="E11.9").update(active=False)
    assert refused(ICD, "E11.9").code == "INACTIVE_CODE"


def test_a_heading_is_not_a_code():
    Concept.objects.filter(system__uri=ICD, code="E11").update(heading=True)  # no heading has a code's shape
    assert refused(ICD, "E11").code == "CODE_NOT_SELECTABLE"


@pytest.mark.parametrize("code", ["XYZ", "E11.99999", "1", "E08-E13", "E11..9", "\u216010"])
def test_a_code_of_the_wrong_shape_is_malformed(code):
    problem = refused(ICD, code)
    assert problem.code == "VALIDATION_ERROR"
    assert problem.extra["errors"][0]["field"] == "code"


def test_a_system_not_held_accepts_any_well_formed_code():
    """SNOMED CT arrives from Synthea: system + code + display are stored as given."""
    coding = public.validate_coding(public.SNOMED_CT, "44054006", "Diabetes mellitus type 2 (disorder)")
    assert coding == public.Coding("http://snomed.info/sct", "44054006", "Diabetes mellitus type 2 (disorder)")
    assert public.validate_coding("snomed-ct", "44054006").system == public.SNOMED_CT
    assert public.validate_coding("http://example.org/codes", "any code 1").code == "any code 1"
    assert public.validate_coding("urn:oid:2.16.840.1.113883.6.238", "2106-3").code == "2106-3"
    assert refused(public.SNOMED_CT, "diabetes").extra["errors"][0]["field"] == "code"
    assert public.validate_coding(public.RXNORM, "860975").code == "860975"


def test_the_loinc_subset_accepts_other_well_formed_loinc_codes():
    assert public.validate_coding(public.LOINC, "8480-6").display == "Systolic Blood Pressure"
    assert public.validate_coding(public.LOINC, "2345-7", "Glucose").code == "2345-7"  # not held, well-formed
    assert refused(public.LOINC, "8480-5").extra["errors"][0]["code"] == "invalid"  # wrong check digit
    assert refused(public.LOINC, "abc-1").code == "VALIDATION_ERROR"


def test_every_shipped_loinc_code_passes_its_check_digit():
    for row in SOURCES["loinc"].read():
        assert public.validate_coding(public.LOINC, row.code).code == row.code


@pytest.mark.parametrize(
    ("system", "code", "display", "field"),
    [
        ("", "E11.9", "", "system"),
        ("diabetes codes", "E11.9", "", "system"),
        ("ftp://example.org", "1", "", "system"),
        ("http://example.org/" + "x" * 300, "1", "", "system"),
        ("http://example.org", "", "", "code"),
        ("http://example.org", "a\tb", "", "code"),
        ("http://example.org", "a  b", "", "code"),
        ("http://example.org", "x" * 41, "", "code"),
        ("http://example.org", "1", "x" * 501, "display"),
        ("http://example.org", "1", "line\x00", "display"),
    ],
)
def test_a_malformed_coding_names_the_bad_field(system, code, display, field):
    problem = refused(system, code, display, field="dx")
    assert problem.code == "VALIDATION_ERROR"
    assert f"dx.{field}" in [e["field"] for e in problem.extra["errors"]]


def test_the_display_is_one_line():
    assert public.validate_coding("http://example.org", "1", "  two\n words ").display == "two words"


def test_value_types_are_frozen():
    coding = public.Coding(ICD, "E11.9", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        coding.code = "E10"
    concept = public.lookup(ICD, "E11.9")
    assert concept.coding == public.Coding(ICD, "E11.9", "Type 2 diabetes mellitus without complications")
    with pytest.raises(TypeError):
        concept.properties["x"] = 1


def test_normalization_helpers():
    assert fold("Ménière's disease, type 2 (E11.9)") == "menieres disease type 2 e11 9"
    assert fold("Alzheimer\u2019s") == "alzheimers"
    assert code_key("e11.9") == code_key("E119") == "E119"
    assert normalize_code(ICD, "s52501a") == "S52.501A"
    assert normalize_code(ICD, "i10") == "I10"


def test_every_icd10_cm_code_held_has_the_shape_of_a_code_and_no_heading_has():
    from phb.terminology.coding import BY_URI

    pattern = BY_URI[ICD].pattern
    rows = Concept.objects.filter(system__uri=ICD).values_list("code", "heading")
    assert all(bool(pattern.fullmatch(code)) != heading for code, heading in rows)
