"""Search by code prefix and by words, ranked; lookup; bad input and unknown systems get clear errors."""

import pytest

from phb.kernel.errors import ValidationFailed
from phb.terminology import selectors
from phb.terminology.coding import ICD10_CM, LOINC, UnknownCodeSystem
from phb.terminology.models import Concept
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


def codes(text, limit=20, system="icd10-cm"):
    return [c.code for c in selectors.search(system, text, limit)]


@pytest.mark.parametrize("text", ["E11.9", "e11.9", "E119", "e119", " E11.9 "])
def test_a_code_is_found_however_it_is_typed(text):
    found = selectors.search("icd10-cm", text, 5)
    assert found[0].code == "E11.9"
    assert found[0].display == "Type 2 diabetes mellitus without complications"
    assert found[0].coding.system == ICD10_CM


def test_a_code_prefix_lists_the_exact_code_then_recordable_codes_shorter_first():
    found = selectors.search("icd10-cm", "E11", 50)
    assert found[0].code == "E11"
    assert not found[0].selectable
    rest = found[1:]
    assert all(c.code.startswith("E11") for c in rest)
    selectable = [c.selectable for c in rest]
    assert selectable == sorted(selectable, reverse=True)  # recordable codes first
    assert [c.code for c in rest[:2]] == ["E11.8", "E11.9"]  # the 4-character ones first
    lengths = [len(c.code) for c in rest if c.selectable]
    assert lengths == sorted(lengths)


def test_headings_and_inactive_codes_are_not_offered():
    assert "E08-E13" not in codes("E08")
    Concept.objects.filter(system__uri=ICD10_CM, code="E11.9").update(active=False)
    assert "E11.9" not in codes("E11.9") + codes("type 2 diabetes without complications")
    assert selectors.lookup("icd10-cm", "E11.9").active is False  # still looked up


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("diab mell typ 2", "E11"),
        ("mell 2 diab typ", "E11"),  # any order
        ("TYPE 2 DIABETES", "E11"),
        ("fracture femur", "S72"),
        ("femur fract", "S72"),
        ("chest pain", "R07"),
        ("alzheimers", "G30"),  # the apostrophe of "Alzheimer's" joins the word
        ("alzheimer's", "G30"),
        ("meniere", "H81.0"),  # "Ménière's disease": accents folded
        ("hiv", "B20"),
    ],
)
def test_words_in_any_order_each_the_start_of_a_word(text, expected):
    found = codes(text, 50)
    assert found, text
    assert any(code.startswith(expected) for code in found[:10]), (text, found[:10])


def test_word_search_ranks_recordable_codes_then_displays_beginning_with_a_word_then_shorter():
    found = selectors.search("icd10-cm", "pneumonia", 50)
    assert all(c.selectable for c in found)  # plenty of billable codes match
    leading = [c.display.lower().startswith("pneumonia") for c in found]
    assert leading == sorted(leading, reverse=True)
    first = [c for c in found if c.display.lower().startswith("pneumonia")]
    assert [len(c.display) for c in first] == sorted(len(c.display) for c in first)
    assert "J18.9" in [c.code for c in first[:5]]  # Pneumonia, unspecified organism
    assert "E11.9" in codes("diab mell typ 2", 5)


def test_a_one_character_word_is_a_whole_word():
    assert all("2" in c.display.split() or "2," in c.display for c in selectors.search("icd10-cm", "type 2 diab", 50))
    assert codes("hepatitis a", 5)[0].startswith("B15")


def test_a_code_like_text_that_is_no_code_is_searched_as_words():
    assert any(code.startswith("D51") for code in codes("b12", 50))  # no code starts with B12
    assert codes("T2DM") == []


def test_limit():
    assert len(codes("fracture", 7)) == 7
    assert len(codes("fracture", 50)) == 50


@pytest.mark.parametrize(
    ("text", "limit", "field", "code"),
    [
        ("", 20, "q", "required"),
        ("   ", 20, "q", "required"),
        ("x" * 101, 20, "q", "max_length"),
        ("%%% ---", 20, "q", "invalid"),
        ("a b c d e f g h i", 20, "q", "max_length"),
        ("asthma", 0, "limit", "invalid"),
        ("asthma", 51, "limit", "invalid"),
        ("asthma", True, "limit", "invalid"),
        ("asthma", "5", "limit", "invalid"),
    ],
)
def test_bad_search_input_is_a_validation_error(text, limit, field, code):
    with pytest.raises(ValidationFailed) as caught:
        selectors.search("icd10-cm", text, limit)
    assert caught.value.extra["errors"][0]["field"] == field
    assert caught.value.extra["errors"][0]["code"] == code


def test_hostile_text_is_only_words():
    assert isinstance(selectors.search("icd10-cm", "' OR 1=1 -- ; DROP TABLE x", 5), list)
    assert isinstance(selectors.search("icd10-cm", "diab:* | !mell & (", 5), list)
    assert Concept.objects.filter(system__uri=ICD10_CM).count() == 98_466


@pytest.mark.parametrize("system", ["icd-11", "http://example.org/none", "snomed-ct", "not a system", ""])
def test_a_system_not_held_is_a_clear_error(system):
    with pytest.raises(UnknownCodeSystem) as caught:
        selectors.search(system, "diabetes", 5)
    assert caught.value.code == "UNKNOWN_CODE_SYSTEM"
    assert caught.value.status == 404
    with pytest.raises(UnknownCodeSystem):
        selectors.lookup(system, "E11.9")


def test_the_system_may_be_named_by_uri_or_slug():
    assert codes("E11.9", 1, system=ICD10_CM) == codes("E11.9", 1, system="icd10-cm") == ["E11.9"]


def test_the_loinc_subset_is_searched_the_same_way():
    systolic = selectors.search("loinc", "8480", 5)[0]
    assert (systolic.system, systolic.code, systolic.display) == (LOINC, "8480-6", "Systolic Blood Pressure")
    assert systolic.properties["unit"] == "mm[Hg]"
    assert {"8480-6", "8462-4", "55284-4"} <= {c.code for c in selectors.search("loinc", "blood press", 20)}
    assert selectors.search("loinc", "84806", 5)[0].code == "8480-6"


def test_lookup():
    assert selectors.lookup("icd10-cm", "e119").code == "E11.9"
    hiv = selectors.lookup(ICD10_CM, "B20")
    assert (hiv.display, hiv.selectable, hiv.level, hiv.parent_code) == (
        "Human immunodeficiency virus [HIV] disease",
        True,
        "category",
        "1",
    )
    chapter = selectors.lookup("icd10-cm", "4")
    assert chapter.heading
    assert chapter.level == "chapter"
    assert selectors.lookup("icd10-cm", "E11.99") is None
    assert selectors.lookup("icd10-cm", "") is None
    assert selectors.lookup("icd10-cm", "E" * 500) is None
    assert selectors.lookup("loinc", "8480-6").properties == {"category": "vital-signs", "unit": "mm[Hg]"}


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("text", "index"),
    [("E11", "terminology_concept_code_key"), ("diab mell typ 2", "terminology_concept_words")],
)
def test_postgresql_searches_through_the_indexes(text, index):
    if text == "E11":
        query = selectors._search_code(ICD10_CM, "E11", 20)
    else:
        query = selectors._search_words(ICD10_CM, text.split(), 20)
    plan = query.values_list("code").explain()
    assert index in plan, plan
    assert "Seq Scan on terminology_concept" not in plan
