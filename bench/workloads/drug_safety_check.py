"""Medication safety check before signing (issue target: median under 20 ms): a 10-drug regimen against
20 active medications and 5 allergies (2 coded, 3 free text), with doses, conditions and pregnancy.

(a) reference: the same answer for interactions read from a table precomputed for this very regimen:
one dictionary lookup per pair of drugs checked (245 pairs) and per drug-allergy pair (50). It is
the floor of any checker that looks rules up by pair, and what a pair-indexed knowledge base costs
at best. (b) `terminology.public.safety_check`: validation, one indexed query for the knowledge
release in force, then the pure engine over the cached index. (c) the engine alone
(`drug_safety.check` on the cached index), to show what (b) spends outside it. The index build,
done once per process and release, is timed at setup and shown in the description.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bench.runner import CheckFailed, Variant, Workload

ITERATION_DIVISOR = 1
PROPOSED = [
    ("clarithromycin", "oral", "1000", "mg"),
    ("amoxicillin-clavulanate", "oral", "", ""),
    ("paracetamol", "oral", "6", "g"),
    ("ibuprofen", "oral", "1200", "mg"),
    ("omeprazole", "oral", "20", "mg"),
    ("enoxaparin", "SC", "", ""),
    ("ondansetron", "IV", "8", "mg"),
    ("tramadol", "oral", "200", "mg"),
    ("furosemide", "oral", "40", "mg"),
    ("metformin", "oral", "2000", "mg"),
]
CURRENT = [
    "warfarin",
    "simvastatin",
    "amlodipine",
    "lisinopril",
    "spironolactone",
    "digoxin",
    "sertraline",
    "levothyroxine",
    "aspirin",
    "clopidogrel",
    "insulin-glargine",
    "gliclazide",
    "allopurinol",
    "prednisolone",
    "salbutamol",
    "tenofovir-lamivudine-dolutegravir",
    "co-trimoxazole",
    "ferrous-sulfate",
    "folic-acid",
    "bisoprolol",
]
CONDITIONS = ["K25.9", "N18.4", "I50.9", "E11.9"]
# What must be among the alerts, so that a fast wrong answer is not timed.
EXPECTED = {
    "DDI-0003",
    "DDI-0002",
    "DDI-0007",
    "DOSE-paracetamol-oral",
    "COND-nsaids-peptic-ulcer",
    "COND-metformin-severe-renal",
}


def build(dsn: str) -> Workload:
    from phb.kernel.context import Ctx
    from phb.terminology import drug_safety, public, selectors, services
    from phb.terminology.coding import RXNORM, SNOMED_CT, Coding

    services.code_system_load(ctx=Ctx.system(reason="bench: drug knowledge"), slug="drugs")
    selectors._knowledge = None
    started = time.perf_counter()
    knowledge = selectors.drug_knowledge()
    build_ms = (time.perf_counter() - started) * 1000

    proposed = [
        public.ProposedDrug(f"line-{n}", code, route, Decimal(amount) if amount else None, unit)
        for n, (code, route, amount, unit) in enumerate(PROPOSED, 1)
    ]
    allergies = [
        public.AllergySubstance(Coding(RXNORM, "1191", "Aspirin")),
        public.AllergySubstance(Coding(SNOMED_CT, "91936005", "Allergy to penicillin")),
        public.AllergySubstance(None, "sulfa"),
        public.AllergySubstance(None, "latex"),
        public.AllergySubstance(None, "Augmentin"),
    ]

    def phb() -> list[Any]:
        return public.safety_check(
            proposed=proposed, current=CURRENT, allergies=allergies, conditions=CONDITIONS, pregnant=False
        )

    def engine() -> list[Any]:
        return drug_safety.check(
            knowledge, proposed=proposed, current=CURRENT, allergies=allergies, conditions=CONDITIONS
        )

    # The reference's table: every pair the check looks at, answered once by the engine at setup.
    codes = [p.drug_code for p in proposed]
    pairs = [(a, b) for i, a in enumerate(codes) for b in codes[i + 1 :]] + [(a, b) for a in codes for b in CURRENT]
    table = {pair: tuple(r.id for r in knowledge.interactions_between(*pair)) for pair in pairs}
    allergy_keys = [knowledge.allergen_keys(a) for a in allergies]
    allergy_table = {(code, n): bool(found) for code in codes for n, found in enumerate(allergy_keys)}

    def reference() -> tuple[list[tuple[str, str, str]], list[tuple[str, int]]]:
        found = [(rule, a, b) for a, b in pairs for rule in table[(a, b)]]
        flagged = [key for key, hit in allergy_table.items() if hit]
        return found, flagged

    def interactions(alerts: list[Any]) -> set[tuple[str, str, str]]:
        return {(a.rule, *a.drugs) for a in alerts if a.kind == "interaction"}

    expected_interactions = set(reference()[0])

    def check_alerts(alerts: Any) -> None:
        rules = {a.rule for a in alerts}
        if not rules >= EXPECTED:
            raise CheckFailed(f"missing alerts: {sorted(EXPECTED - rules)}")
        if interactions(alerts) != expected_interactions:
            raise CheckFailed("the check and the pair table disagree on interactions")

    def check_reference(answer: Any) -> None:
        if set(answer[0]) != expected_interactions:
            raise CheckFailed("the pair table is not deterministic")

    alerts = phb()
    return Workload(
        name="drug_safety_check",
        description=(
            f"Safety check of {len(PROPOSED)} proposed drugs against {len(CURRENT)} active, 5 allergies, "
            f"{len(CONDITIONS)} conditions ({len(alerts)} alerts; knowledge {knowledge.version}, "
            f"{len(knowledge.drugs)} drugs, {len(knowledge.interactions)} rules; index build {build_ms:.0f} ms, "
            "once per process and release)"
        ),
        reference=Variant("a. precomputed pair table (dict lookups)", reference, check_reference),
        variants=[
            Variant("b. terminology.public.safety_check", phb, check_alerts),
            Variant("c. drug_safety.check (engine, cached index)", engine, check_alerts),
        ],
    )
