"""The medication-safety check through `terminology.public`: the regression pairs always fire (both
orders, proposed x proposed and proposed x current), allergies and cross-sensitivity, duplicates, doses,
pregnancy and lactation, conditions, and the bad inputs."""

from decimal import Decimal

import pytest

from phb.kernel.errors import NotFound, ValidationFailed
from phb.terminology.public import (
    DRUGS,
    RXNORM,
    SEVERITIES,
    SNOMED_CT,
    AllergySubstance,
    Coding,
    ProposedDrug,
    knowledge_version,
    safety_check,
)
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


def check(*codes, current=(), **kwargs):
    proposed = [ProposedDrug(f"line-{n}", code) for n, code in enumerate(codes, 1)]
    return safety_check(proposed=proposed, current=list(current), **kwargs)


def interaction(alerts, *drugs):
    found = [a for a in alerts if a.kind == "interaction" and set(a.drugs) == set(drugs)]
    assert found, f"no interaction between {drugs} in {[(a.rule, a.drugs) for a in alerts]}"
    return found


# (a, b, expected severity) — each must fire whatever the order, as two new drugs or as new x current.
REGRESSION = [
    ("warfarin", "aspirin", "major"),
    ("simvastatin", "clarithromycin", "contraindicated"),
    ("sildenafil", "glyceryl-trinitrate", "contraindicated"),
    ("sildenafil", "isosorbide-mononitrate", "contraindicated"),
    ("sildenafil", "isosorbide-dinitrate", "contraindicated"),
    ("tadalafil", "glyceryl-trinitrate", "contraindicated"),
    ("methotrexate", "trimethoprim", "major"),
    ("methotrexate", "co-trimoxazole", "major"),
    ("lisinopril", "spironolactone", "major"),
    ("enalapril", "spironolactone", "major"),
    ("tramadol", "sertraline", "major"),
    ("tramadol", "fluoxetine", "major"),
    ("warfarin", "ibuprofen", "major"),
    ("clopidogrel", "omeprazole", "major"),
    ("digoxin", "amiodarone", "major"),
    ("rifampicin", "dolutegravir", "major"),
    ("tizanidine", "ciprofloxacin", "contraindicated"),
]


@pytest.mark.parametrize(("a", "b", "severity"), REGRESSION)
def test_the_regression_pairs_fire_in_every_arrangement(a, b, severity):
    for alerts in (check(a, b), check(b, a), check(a, current=[b]), check(b, current=[a])):
        found = interaction(alerts, a, b)
        assert found[0].severity == severity
        assert found[0].requires_override
        assert found[0].source
        assert found[0].management
        assert found[0].mechanism
        assert found[0].rule.startswith("DDI-")


def test_a_combination_carries_its_ingredients_rules():
    """Rifampicin's rule with dolutegravir fires for the RH tablet against the TLD tablet."""
    found = interaction(
        check("rifampicin-isoniazid", current=["tenofovir-lamivudine-dolutegravir"]),
        "rifampicin-isoniazid",
        "tenofovir-lamivudine-dolutegravir",
    )
    assert found[0].rule == "DDI-0039"
    assert "twice daily" in found[0].management


def test_the_most_specific_rule_of_an_effect_wins():
    """Warfarin + aspirin is the named pair, not the anticoagulant x antiplatelet class rule too."""
    alerts = [a for a in check("warfarin", "aspirin") if a.kind == "interaction"]
    assert [a.rule for a in alerts] == ["DDI-0001"]


def test_a_pair_with_two_effects_gives_two_alerts():
    """Clarithromycin + amiodarone: both prolong the QT; clarithromycin + digoxin is named."""
    alerts = check("clarithromycin", current=["amiodarone", "digoxin"])
    assert {a.rule for a in alerts if a.kind == "interaction"} >= {"DDI-0019", "DDI-0036"}


def test_a_safe_regimen_gives_no_alert():
    assert check("paracetamol", "amoxicillin") == []
    assert check("paracetamol", current=["amoxicillin", "metformin"]) == []


def test_current_medications_are_not_checked_against_each_other():
    assert check("metformin", current=["warfarin", "aspirin"]) == []


def test_unknown_current_codes_are_ignored_and_an_unknown_proposed_code_is_refused():
    assert check("paracetamol", current=["no-such-drug", ""]) == []
    with pytest.raises(NotFound) as raised:
        check("no-such-drug")
    assert raised.value.code == "DRUG_UNKNOWN"


def test_alerts_are_sorted_most_severe_first_and_deterministic():
    alerts = check("clarithromycin", "sertraline", current=["simvastatin", "warfarin", "citalopram", "tramadol"])
    ranks = [SEVERITIES.index(a.severity) for a in alerts]
    assert ranks == sorted(ranks)
    assert alerts == check(
        "clarithromycin", "sertraline", current=["simvastatin", "warfarin", "citalopram", "tramadol"]
    )


# ---- allergies --------------------------------------------------------------------------------------


def allergy(alerts):
    return [a for a in alerts if a.kind == "allergy"]


def test_amoxicillin_in_a_patient_recorded_as_allergic_to_penicillin_as_text():
    alerts = allergy(check("amoxicillin", allergies=[AllergySubstance(None, "penicillin")]))
    assert [(a.rule, a.severity) for a in alerts] == [("ALG-penicillins", "contraindicated")]
    assert alerts[0].items == ("line-1",)
    assert alerts[0].requires_override


def test_amoxicillin_in_a_patient_allergic_to_co_amoxiclav_coded_in_rxnorm():
    coded = AllergySubstance(Coding(RXNORM, "562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet"))
    alerts = allergy(check("amoxicillin", allergies=[coded]))
    assert [(a.rule, a.severity) for a in alerts] == [("ALG-same-substance", "contraindicated")]


@pytest.mark.parametrize(
    "substance",
    [
        AllergySubstance(None, "Augmentin"),
        AllergySubstance(None, "Allergy to penicillin"),
        AllergySubstance(None, "PENICILLINS"),
        AllergySubstance(Coding(DRUGS, "benzylpenicillin")),
        AllergySubstance(Coding(SNOMED_CT, "91936005", "Allergy to penicillin")),
    ],
)
def test_a_penicillin_allergy_recorded_in_other_ways(substance):
    alerts = allergy(check("phenoxymethylpenicillin", allergies=[substance]))
    assert alerts
    assert alerts[0].severity == "contraindicated"


def test_a_cephalosporin_in_a_penicillin_allergic_patient_is_a_lower_severity_cross_sensitivity():
    alerts = allergy(check("ceftriaxone", allergies=[AllergySubstance(None, "penicillin")]))
    assert [(a.rule, a.severity) for a in alerts] == [("ALG-penicillins-cephalosporins", "moderate")]
    assert not alerts[0].requires_override
    carbapenem = allergy(check("meropenem", allergies=[AllergySubstance(None, "amoxicillin")]))
    assert [(a.rule, a.severity) for a in carbapenem] == [("ALG-penicillins-carbapenems", "minor")]


def test_a_sulfa_allergy_and_co_trimoxazole():
    alerts = allergy(check("co-trimoxazole", "furosemide", allergies=[AllergySubstance(None, "sulfa")]))
    assert [(a.rule, a.items) for a in alerts] == [("ALG-sulfonamides", ("line-1",))]


def test_an_allergy_nothing_knows_and_one_to_something_else_give_no_alert():
    allergies = [
        AllergySubstance(None, "peanuts"),
        AllergySubstance(Coding(SNOMED_CT, "762952008", "Peanut")),
        AllergySubstance(None, ""),
    ]
    assert check("amoxicillin", allergies=allergies) == []


# ---- duplicates, doses -------------------------------------------------------------------------------


def test_two_ssris_are_a_duplicate():
    alerts = [a for a in check("sertraline", current=["fluoxetine"]) if a.kind == "duplicate"]
    assert [(a.rule, a.severity, a.drugs) for a in alerts] == [("DUP-ssri", "major", ("sertraline", "fluoxetine"))]


def test_the_same_drug_twice_and_a_shared_ingredient():
    twice = [a for a in check("amoxicillin", "amoxicillin") if a.kind == "duplicate"]
    assert [(a.rule, a.items) for a in twice] == [("DUP-same-drug", ("line-1", "line-2"))]
    shared = [a for a in check("amoxicillin-clavulanate", current=["amoxicillin"]) if a.kind == "duplicate"]
    assert [a.rule for a in shared] == ["DUP-same-ingredient"]


def dose(code, amount, unit, route=""):
    return [
        a
        for a in safety_check(
            proposed=[ProposedDrug("x", code, route, Decimal(amount) if amount is not None else None, unit)],
            current=[],
        )
        if a.kind == "dose"
    ]


def test_paracetamol_above_the_maximum_daily_dose():
    over = dose("paracetamol", "6", "g", "oral")
    assert [(a.rule, a.severity) for a in over] == [("DOSE-paracetamol-oral", "major")]
    assert dose("paracetamol", "3", "g", "oral") == []
    assert dose("paracetamol", "3000", "mg", "PO") == []
    assert dose("paracetamol", "6000", "mg", "") != []  # no route: the oral limit
    assert dose("paracetamol", "4000000", "microgram", "IV") == []
    assert dose("paracetamol", "12", "tablet", "oral") == []  # no comparable unit
    assert dose("paracetamol", None, "", "oral") == []


# ---- pregnancy, lactation, conditions -------------------------------------------------------------------


def test_warfarin_in_pregnancy_and_breastfeeding():
    alerts = check("warfarin", pregnant=True, lactating=True)
    assert [(a.kind, a.severity, a.rule) for a in alerts] == [
        ("pregnancy", "contraindicated", "PREG-warfarin"),
        ("lactation", "moderate", "LACT-warfarin"),
    ]
    assert check("warfarin") == []


def test_a_class_caution_applies_to_its_members():
    alerts = check("lisinopril", pregnant=True)
    assert [(a.rule, a.severity) for a in alerts] == [("PREG-ace-inhibitors", "contraindicated")]


def test_an_nsaid_with_a_peptic_ulcer():
    alerts = check("ibuprofen", conditions=["K25.9", "I10"])
    assert [(a.kind, a.rule, a.severity) for a in alerts] == [("condition", "COND-nsaids-peptic-ulcer", "major")]
    assert "K25.9" in alerts[0].title
    assert check("ibuprofen", conditions=["k259"])[0].rule == "COND-nsaids-peptic-ulcer"
    assert check("paracetamol", conditions=["K25.9"]) == []


def test_metformin_in_severe_renal_impairment():
    alerts = check("metformin", conditions=["N18.5"])
    assert [(a.rule, a.severity) for a in alerts] == [("COND-metformin-severe-renal", "contraindicated")]
    assert check("metformin", conditions=["N18.2"]) == []


def test_a_topical_drug_is_not_checked_for_interactions():
    proposed = [ProposedDrug("gel", "diclofenac", "topical")]
    assert safety_check(proposed=proposed, current=["warfarin"]) == []
    proposed = [ProposedDrug("tab", "diclofenac", "oral")]
    assert interaction(safety_check(proposed=proposed, current=["warfarin"]), "diclofenac", "warfarin")


# ---- bad input ---------------------------------------------------------------------------------------


def test_bad_input_is_a_validation_error():
    with pytest.raises(ValidationFailed):
        safety_check(proposed=[ProposedDrug("a", "paracetamol"), ProposedDrug("a", "ibuprofen")], current=[])
    with pytest.raises(ValidationFailed):
        safety_check(
            proposed=[ProposedDrug("a", "paracetamol", daily_amount=Decimal("-1"), daily_unit="g")], current=[]
        )
    with pytest.raises(ValidationFailed):
        safety_check(proposed=[ProposedDrug("", "paracetamol")], current=[])
    with pytest.raises(ValidationFailed):
        safety_check(proposed=[ProposedDrug(str(n), "paracetamol") for n in range(51)], current=[])


def test_the_knowledge_version_is_the_release_loaded():
    assert knowledge_version() == "2026.11.1"


# ---- how rules combine --------------------------------------------------------------------------------


def test_a_named_pair_refines_its_class_rule_in_the_same_group():
    """Tramadol + sertraline is the named rule, not also serotonergic x serotonergic; simvastatin +
    clarithromycin the named rule, not also strong CYP3A4 inhibitor x substrate."""
    assert [a.rule for a in check("tramadol", current=["sertraline"])] == ["DDI-0007"]
    assert [a.rule for a in check("simvastatin", current=["clarithromycin"])] == ["DDI-0003"]


def test_between_class_rules_the_narrower_classes_win():
    """Ritonavir + rivaroxaban: the DOAC rule, not the general CYP3A4 substrate rule."""
    alerts = [a for a in check("ritonavir", current=["rivaroxaban"]) if a.kind == "interaction"]
    assert len(alerts) == 1
    assert "rivaroxaban" in alerts[0].source.lower() or "Xarelto" in alerts[0].source


def test_the_narrowest_cross_sensitivity_decides():
    """A COX-2 inhibitor in aspirin hypersensitivity, aztreonam in penicillin allergy: minor."""
    assert [
        (a.rule, a.severity) for a in allergy(check("celecoxib", allergies=[AllergySubstance(None, "aspirin")]))
    ] == [("ALG-nsaids-cox2", "minor")]
    assert [
        (a.rule, a.severity) for a in allergy(check("ibuprofen", allergies=[AllergySubstance(None, "aspirin")]))
    ] == [("ALG-nsaids", "major")]
    assert [a.severity for a in allergy(check("aztreonam", allergies=[AllergySubstance(None, "penicillin")]))] == [
        "minor"
    ]
    ceftazidime = allergy(check("aztreonam", allergies=[AllergySubstance(Coding(DRUGS, "ceftazidime"))]))
    assert [(a.rule, a.severity) for a in ceftazidime] == [("ALG-ceftazidime-aztreonam", "moderate")]


def test_west_african_regimens():
    """TB/HIV co-treatment, malaria in pregnancy, G6PD deficiency, IPTp with co-trimoxazole."""
    tld = check("tenofovir-lamivudine-dolutegravir", current=["rhze", "co-trimoxazole"])
    assert [a.rule for a in tld if a.kind == "interaction"] == ["DDI-0039"]
    iptp = check("sulfadoxine-pyrimethamine", current=["co-trimoxazole"], pregnant=True)
    assert any(a.kind == "interaction" and a.severity == "major" for a in iptp)
    assert any(
        a.kind == "allergy" for a in check("sulfadoxine-pyrimethamine", allergies=[AllergySubstance(None, "sulfa")])
    )
    primaquine = check("primaquine", conditions=["D55.0"], pregnant=True)
    assert [(a.kind, a.severity) for a in primaquine] == [
        ("pregnancy", "contraindicated"),
        ("condition", "contraindicated"),
    ]
    assert check("artemether-lumefantrine", current=["rifampicin"])[0].severity == "contraindicated"
    assert check("artemether-lumefantrine", pregnant=True)[0].severity == "moderate"


def test_an_intrauterine_system_is_not_checked_for_interactions():
    iud = [ProposedDrug("ius", "levonorgestrel", "intrauterine")]
    assert safety_check(proposed=iud, current=["rifampicin"]) == []
    pill = [ProposedDrug("pill", "ethinylestradiol-levonorgestrel", "oral")]
    assert safety_check(proposed=pill, current=["rifampicin"])[0].rule.startswith("DDI-")


def test_methotrexate_prescribed_daily_instead_of_weekly_is_caught():
    """15 mg once a week is about 2.1 mg a day on average; 10 mg every day is a fatal error."""
    weekly = safety_check(proposed=[ProposedDrug("mtx", "methotrexate", "oral", Decimal(15) / 7, "mg")], current=[])
    assert weekly == []
    daily = safety_check(proposed=[ProposedDrug("mtx", "methotrexate", "oral", Decimal(10), "mg")], current=[])
    assert [(a.kind, a.rule) for a in daily] == [("dose", "DOSE-methotrexate-oral")]
