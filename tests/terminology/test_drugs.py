"""The drug catalogue: loaded as a code system with its knowledge, looked up by code, RxNorm code and
text, searched by name, synonym and brand; every RxNorm code of the test data resolves."""

import csv
from pathlib import Path

import pytest

from phb.kernel.errors import NotFound, ValidationFailed
from phb.terminology.coding import fold
from phb.terminology.models import CodeSystem, Concept, DrugInteraction, DrugKnowledgeRelease
from phb.terminology.public import (
    DRUGS,
    RXNORM,
    SNOMED_CT,
    Coding,
    drug_for_coding,
    drug_for_text,
    drug_get,
    drug_search,
    search,
    validate_coding,
)
from phb.terminology.sources import SOURCES
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db
# The RxNorm codes of the Synthea test patients' medication requests (see data/drugs/SOURCES.md).
SYNTHEA_CODES = Path(__file__).parent / "data" / "rxnorm-codes-in-synthea-subset.csv"


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


def test_the_catalogue_is_a_complete_code_system_with_its_knowledge():
    system = CodeSystem.objects.get(uri=DRUGS)
    assert (system.slug, system.content) == ("drugs", "complete")
    assert "National Library of Medicine" in system.copyright
    release = SOURCES["drugs"].release
    assert Concept.objects.filter(system=system, active=True).count() == len(release.drugs)
    assert DrugInteraction.objects.count() == len(release.interactions)
    latest = DrugKnowledgeRelease.objects.order_by("-loaded_at").first()
    assert (latest.version, latest.sha256) == (release.version, release.sha256)


def test_a_drug_and_its_properties():
    drug = drug_get("amoxicillin-clavulanate")
    assert drug.name == "Amoxicillin + clavulanic acid"
    assert "Augmentin" in drug.brands
    assert {"penicillins", "beta-lactams", "antibacterials"} <= set(drug.classes)
    assert drug.ingredients == ("amoxicillin",)
    assert drug.forms[0].route == "oral"
    assert drug.forms[0].unit == "tablet"
    assert drug.coding == Coding(DRUGS, "amoxicillin-clavulanate", "Amoxicillin + clavulanic acid")
    assert drug_get("morphine").controlled
    assert not drug.controlled
    with pytest.raises(NotFound) as raised:
        drug_get("nope")
    assert raised.value.code == "DRUG_UNKNOWN"


def test_a_drug_code_is_a_valid_coding_and_an_unknown_one_is_not():
    assert validate_coding("drugs", "warfarin").display == "Warfarin"
    with pytest.raises(ValidationFailed) as raised:
        validate_coding("drugs", "no-such-drug")
    assert raised.value.code == "UNKNOWN_CODE"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Augmentin", "amoxicillin-clavulanate"),
        ("acetaminophen", "paracetamol"),
        ("coartem", "artemether-lumefantrine"),
        ("nitroglycerin", "glyceryl-trinitrate"),
        ("amox", "amoxicillin"),
        ("Co-trimoxazole", "co-trimoxazole"),
        ("sulfamethoxazole trimethoprim", "co-trimoxazole"),
        ("TLD", "tenofovir-lamivudine-dolutegravir"),
    ],
)
def test_search_by_name_synonym_or_brand(query, code):
    assert drug_search(query)[0].code == code


def test_the_terminology_search_finds_drugs_by_brand_and_synonym_too():
    assert search("drugs", "Augmentin")[0].code == "amoxicillin-clavulanate"
    assert search("drugs", "acetaminophen")[0].code == "paracetamol"


def test_search_ranks_whole_names_first_and_refuses_bad_input():
    codes = [d.code for d in drug_search("amoxicillin")]
    assert codes[:2] == ["amoxicillin", "amoxicillin-clavulanate"]
    assert len(drug_search("a", limit=3)) <= 3
    for bad in ("", "   ", "x" * 101):
        with pytest.raises(ValidationFailed):
            drug_search(bad)
    with pytest.raises(ValidationFailed):
        drug_search("amox", limit=0)


def test_drug_for_text_is_exact_whatever_the_case_and_accents():
    assert drug_for_text("AUGMENTIN").code == "amoxicillin-clavulanate"
    assert drug_for_text("Paracétamol").code == "paracetamol"
    assert drug_for_text("amox") is None
    assert drug_for_text("") is None


def test_drug_for_coding():
    assert drug_for_coding(Coding(DRUGS, "warfarin")).code == "warfarin"
    assert drug_for_coding(Coding("drugs", "warfarin")).code == "warfarin"
    assert drug_for_coding(Coding(RXNORM, "855332")).code == "warfarin"
    assert drug_for_coding(Coding(RXNORM, "1")) is None
    assert drug_for_coding(Coding(SNOMED_CT, "387458008")) is None


def test_every_rxnorm_code_of_the_test_patients_resolves():
    with SYNTHEA_CODES.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 94
    unresolved = [
        (r["rxcui"], r["display_in_source"]) for r in rows if drug_for_coding(Coding(RXNORM, r["rxcui"])) is None
    ]
    assert unresolved == []
    for rxcui, expected in {
        "562251": "amoxicillin-clavulanate",
        "1870230": "adrenaline",
        "748962": "norethisterone",
        "705129": "glyceryl-trinitrate",
        "861467": "pethidine",
    }.items():
        assert drug_for_coding(Coding(RXNORM, rxcui)).code == expected


def test_every_name_synonym_and_brand_finds_its_drug():
    for drug in SOURCES["drugs"].release.drugs:
        for term in (drug.name, *drug.synonyms):
            assert drug_for_text(term).code == drug.code, term
        assert drug.code in [d.code for d in drug_search(fold(drug.name)[:40], limit=50)]
