"""The medication-safety check, pure: a proposed regimen against an in-memory `Knowledge` index of the
drug catalogue and PHB's safety rules, returning alerts. No database here: `selectors` builds the index
once per knowledge release and the check is a few thousand dictionary lookups, so it can run on every
keystroke of a prescription and before every signature.

What it checks, for the drugs proposed (never the current medications against each other, which were
checked when they were prescribed): interactions (proposed x proposed, proposed x current), allergies
(the substance itself, a shared ingredient, cross-sensitivity between classes), duplicate therapy, a
daily dose above the maximum, pregnancy and lactation cautions, and drug-condition contraindications.
A combination product carries the rules of each ingredient (its `ingredients`), so that rifampicin's
rules fire for a rifampicin-isoniazid tablet and paracetamol's duplicate for a paracetamol-codeine one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations

from phb.terminology.coding import DRUGS, RXNORM, Coding, code_key, fold

SEVERITIES: tuple[str, ...] = ("contraindicated", "major", "moderate", "minor")  # most severe first
ALERT_KINDS: tuple[str, ...] = ("interaction", "allergy", "duplicate", "dose", "pregnancy", "lactation", "condition")
CLASS_KINDS: tuple[str, ...] = ("therapeutic", "pharmacologic", "allergy_group", "duplicate_therapy")
CAUTION_LEVELS: tuple[str, ...] = ("contraindicated", "avoid", "caution")  # pregnancy and lactation
# A caution level as the severity of its alert: "avoid" needs a reason to go ahead, "caution" does not.
CAUTION_SEVERITY = {"contraindicated": "contraindicated", "avoid": "major", "caution": "moderate"}
ROUTES: tuple[str, ...] = (
    "oral",
    "sublingual",
    "buccal",
    "IV",
    "IM",
    "SC",
    "intradermal",
    "intrathecal",
    "epidural",
    "infiltration",
    "intra-articular",
    "intravesical",
    "topical",
    "transdermal",
    "inhaled",
    "nasal",
    "rectal",
    "vaginal",
    "ophthalmic",
    "otic",
    "intrauterine",
    "subdermal",
)
_ROUTE_ALIASES = {
    "po": "oral",
    "by mouth": "oral",
    "per os": "oral",
    "sl": "sublingual",
    "iv": "IV",
    "intravenous": "IV",
    "im": "IM",
    "intramuscular": "IM",
    "sc": "SC",
    "sq": "SC",
    "subcut": "SC",
    "subcutaneous": "SC",
    "pr": "rectal",
    "pv": "vaginal",
    "inhalation": "inhaled",
    "nebulised": "inhaled",
    "nebulized": "inhaled",
    "intranasal": "nasal",
    "eye": "ophthalmic",
    "ear": "otic",
    "skin": "topical",
    "cutaneous": "topical",
} | {route.lower(): route for route in ROUTES}
# Routes whose systemic exposure is negligible: such a proposed drug is not checked for interactions,
# condition rules or dose (allergies, duplicates, pregnancy and lactation still apply).
LOCAL_ROUTES = frozenset({"topical", "ophthalmic", "otic", "intrauterine"})
_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
_KIND_RANK = {kind: rank for rank, kind in enumerate(ALERT_KINDS)}
# Mass units a dose may be given in, as milligrams.
_MASS_MG = {
    "g": Decimal(1000),
    "gram": Decimal(1000),
    "mg": Decimal(1),
    "milligram": Decimal(1),
    "microgram": Decimal("0.001"),
    "mcg": Decimal("0.001"),
    "ug": Decimal("0.001"),
    "µg": Decimal("0.001"),
    "μg": Decimal("0.001"),
    "ng": Decimal("0.000001"),
}
# Words that say how a substance was recorded rather than what it is ("allergy to penicillin").
_ALLERGY_NOISE = frozenset(
    [
        "allergy",
        "allergies",
        "allergic",
        "to",
        "of",
        "intolerance",
        "intolerant",
        "reaction",
        "reactions",
        "sensitivity",
        "hypersensitivity",
        "adverse",
        "drug",
        "drugs",
        "history",
        "h",
        "o",
        "ho",
        "and",
        "or",
    ]
)


# --------------------------------------------------------------------------------------------------
# Value types (re-exported by `public`)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrugForm:
    """One dosage form of a generic: how it is given and in which strengths it comes."""

    form: str  # tablet, capsule, oral suspension, injection, ...
    route: str  # one of ROUTES
    strengths: tuple[str, ...]  # "500 mg", "125 mg/5 mL", ...
    unit: str  # what a dose is counted in: tablet, capsule, mL, puff, ...


@dataclass(frozen=True, slots=True)
class Drug:
    """A generic of the catalogue (one product or a fixed-dose combination)."""

    code: str
    name: str
    synonyms: tuple[str, ...]
    brands: tuple[str, ...]
    atc: str
    classes: tuple[str, ...]  # every class it belongs to, its ingredients' included
    forms: tuple[DrugForm, ...]
    controlled: bool
    rxnorm: tuple[str, ...]
    ingredients: tuple[str, ...] = ()  # for a combination: the catalogue generics it contains
    active: bool = True  # false when a newer release dropped it (records keep pointing at it)

    @property
    def coding(self) -> Coding:
        return Coding(DRUGS, self.code, self.name)


@dataclass(frozen=True, slots=True)
class ProposedDrug:
    """A drug about to be prescribed. `key` is the caller's name for it (a line of the prescription);
    `daily_amount` with `daily_unit` (Decimal("3000"), "mg") asks for the dose check: the total per
    day, and for a weekly or rarer regimen the average per day (methotrexate 15 mg weekly: 15/7 mg)."""

    key: str
    drug_code: str
    route: str = ""
    daily_amount: Decimal | None = None
    daily_unit: str = ""


@dataclass(frozen=True, slots=True)
class AllergySubstance:
    """A recorded allergy's substance: a coding (PHB drugs, RxNorm, SNOMED CT, ...) and/or free text."""

    coding: Coding | None
    text: str = ""


@dataclass(frozen=True, slots=True)
class SafetyAlert:
    kind: str  # one of ALERT_KINDS
    severity: str  # one of SEVERITIES
    rule: str  # the stable id of the rule that fired: "DDI-0042", "ALG-penicillins", "DUP-ssri", ...
    title: str
    mechanism: str
    management: str
    source: str
    items: tuple[str, ...]  # the ProposedDrug keys concerned
    drugs: tuple[str, ...]  # the drug codes concerned (proposed and/or current)

    @property
    def requires_override(self) -> bool:
        """A prescriber must give a reason to sign despite this alert."""
        return self.severity in ("contraindicated", "major")


# --------------------------------------------------------------------------------------------------
# The knowledge, as records (what the data files hold and the tables store)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrugClass:
    code: str
    name: str
    kind: str  # one of CLASS_KINDS
    members: tuple[str, ...] = ()  # drug codes, flattened (sub-classes and combinations included)
    includes: tuple[str, ...] = ()  # sub-classes, as declared
    aliases: tuple[str, ...] = ()  # other names an allergy may be recorded under ("penicillin", "sulfa")
    atc: str = ""
    severity: str = ""  # duplicate_therapy: the severity of a duplicate
    advice: str = ""  # duplicate_therapy: what to do about one
    source: str = ""


@dataclass(frozen=True, slots=True)
class InteractionRule:
    id: str  # "DDI-0001"
    a: str  # a drug code or a class code
    b: str
    severity: str
    effect: str  # the clinical effect, short ("bleeding risk"): the alert's title, and the group in
    # which only the most specific rule of a pair is reported
    mechanism: str
    management: str
    source: str
    note: str = ""
    group: str = ""  # rules of one group are one concern: a pair reports only the most specific (default: effect)


@dataclass(frozen=True, slots=True)
class AllergyCrossRule:
    id: str  # "ALG-penicillins"
    allergen: str  # a class code (or drug code) the recorded allergen belongs to
    reacts_with: str  # a class code (or drug code) of drugs that may cross-react
    severity: str
    mechanism: str
    management: str
    source: str


@dataclass(frozen=True, slots=True)
class MaxDose:
    id: str  # "DOSE-paracetamol-oral"
    drug: str
    route: str
    amount: Decimal  # per day, adult
    unit: str
    note: str
    source: str


@dataclass(frozen=True, slots=True)
class ReproductiveCaution:
    subject: str  # a drug code or a class code
    pregnancy: str  # one of CAUTION_LEVELS, or "" for none
    pregnancy_text: str
    lactation: str
    lactation_text: str
    source: str


@dataclass(frozen=True, slots=True)
class ConditionRule:
    id: str  # "COND-nsaids-peptic-ulcer"
    subject: str  # a drug code or a class code
    icd10: tuple[str, ...]  # ICD-10-CM code prefixes ("K25", "N18.4")
    condition: str  # what the prefixes name, for the title ("peptic ulcer")
    severity: str
    mechanism: str
    management: str
    source: str


# --------------------------------------------------------------------------------------------------
# Helpers shared by the index and the loader
# --------------------------------------------------------------------------------------------------


def normalize_route(route: str) -> str:
    """A route as ROUTES spells it ("PO" -> "oral", "iv" -> "IV"); "" when it is none of them."""
    return _ROUTE_ALIASES.get(" ".join((route or "").lower().split()), "")


def normalize_unit(unit: str) -> str:
    """A dose unit in lower case and singular ("Tablets" -> "tablet", "MG" -> "mg")."""
    unit = " ".join((unit or "").strip().lower().split())
    if unit.endswith("s") and len(unit) > 3 and unit not in ("units", "ius"):
        unit = unit[:-1]
    return {"units": "unit", "ius": "iu", "international unit": "iu", "millilitre": "ml", "milliliter": "ml"}.get(
        unit, unit
    )


def convert(amount: Decimal, unit: str, to: str) -> Decimal | None:
    """`amount` of `unit` in `to` units, or None when they do not compare (mg vs tablet)."""
    unit, to = normalize_unit(unit), normalize_unit(to)
    if unit == to:
        return amount
    if unit in _MASS_MG and to in _MASS_MG:
        return amount * _MASS_MG[unit] / _MASS_MG[to]
    return None


def _fmt(amount: Decimal) -> str:
    text = f"{amount.normalize():f}"
    return text


# --------------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------------


@dataclass
class _Term:
    folded: str
    words: tuple[str, ...]
    rank: int  # 0: the name, 1: a synonym, 2: a brand


@dataclass
class Knowledge:
    """Everything a check needs, indexed by drug code. Built once per release (`Knowledge.build`)."""

    version: str
    drugs: Mapping[str, Drug]
    classes: Mapping[str, DrugClass]
    interactions: Sequence[InteractionRule]
    allergy_cross: Sequence[AllergyCrossRule]
    max_doses: Sequence[MaxDose]
    cautions: Sequence[ReproductiveCaution]
    condition_rules: Sequence[ConditionRule]
    # Derived by `build`:
    keys: dict[str, frozenset[str]] = field(default_factory=dict)  # drug -> {itself, ingredients, classes}
    substances: dict[str, frozenset[str]] = field(default_factory=dict)  # drug -> {itself, ingredients}
    by_rxnorm: dict[str, str] = field(default_factory=dict)
    by_text: dict[str, str] = field(default_factory=dict)  # folded name/synonym/brand -> drug code
    class_by_text: dict[str, str] = field(default_factory=dict)  # folded class name/alias -> class code
    terms: dict[str, list[_Term]] = field(default_factory=dict)
    _interactions_by_key: dict[str, list[tuple[InteractionRule, str]]] = field(default_factory=dict)
    _cross_by_key: dict[str, list[AllergyCrossRule]] = field(default_factory=dict)
    _doses: dict[str, dict[str, MaxDose]] = field(default_factory=dict)
    _cautions_by_key: dict[str, list[ReproductiveCaution]] = field(default_factory=dict)
    _conditions_by_key: dict[str, list[tuple[ConditionRule, tuple[str, ...]]]] = field(default_factory=dict)
    _duplicate_classes: dict[str, tuple[DrugClass, ...]] = field(default_factory=dict)
    _class_ancestors: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        version: str,
        drugs: Iterable[Drug],
        classes: Iterable[DrugClass],
        interactions: Iterable[InteractionRule] = (),
        allergy_cross: Iterable[AllergyCrossRule] = (),
        max_doses: Iterable[MaxDose] = (),
        cautions: Iterable[ReproductiveCaution] = (),
        condition_rules: Iterable[ConditionRule] = (),
    ) -> Knowledge:
        k = cls(
            version=version,
            drugs={d.code: d for d in drugs},
            classes={c.code: c for c in classes},
            interactions=tuple(interactions),
            allergy_cross=tuple(allergy_cross),
            max_doses=tuple(max_doses),
            cautions=tuple(cautions),
            condition_rules=tuple(condition_rules),
        )
        k._index()
        return k

    def _index(self) -> None:
        for code, drug in self.drugs.items():
            substances = {code}
            pending = list(drug.ingredients)
            while pending:
                ingredient = pending.pop()
                if ingredient not in substances and ingredient in self.drugs:
                    substances.add(ingredient)
                    pending.extend(self.drugs[ingredient].ingredients)
            self.substances[code] = frozenset(substances)
            keys = set(substances) | set(drug.classes)
            for ingredient in substances:
                keys.update(self.drugs[ingredient].classes)
            self.keys[code] = frozenset(keys)
            for rxcui in drug.rxnorm:
                self.by_rxnorm.setdefault(rxcui, code)
            terms = self.terms[code] = []
            for rank, names in enumerate(((drug.name,), drug.synonyms, drug.brands)):
                for name in names:
                    folded = fold(name)
                    if folded:
                        terms.append(_Term(folded, tuple(folded.split()), rank))
                        # A name before a synonym before a brand, when two drugs share one.
                        current = self.by_text.get(folded)
                        if current is None or rank < self._text_rank(current, folded):
                            self.by_text[folded] = code
        parents: dict[str, set[str]] = {}
        for drug_class in self.classes.values():
            for child in drug_class.includes:
                parents.setdefault(child, set()).add(drug_class.code)
            for name in (drug_class.name, *drug_class.aliases):
                self.class_by_text.setdefault(fold(name), drug_class.code)
        for code in self.classes:
            ancestors, pending = {code}, [code]
            while pending:
                for parent in parents.get(pending.pop(), ()):
                    if parent not in ancestors:
                        ancestors.add(parent)
                        pending.append(parent)
            self._class_ancestors[code] = frozenset(ancestors)
        for rule in self.interactions:
            self._interactions_by_key.setdefault(rule.a, []).append((rule, rule.b))
            if rule.b != rule.a:
                self._interactions_by_key.setdefault(rule.b, []).append((rule, rule.a))
        for cross in self.allergy_cross:
            self._cross_by_key.setdefault(cross.allergen, []).append(cross)
        for dose in self.max_doses:
            self._doses.setdefault(dose.drug, {})[dose.route] = dose
        for caution in self.cautions:
            self._cautions_by_key.setdefault(caution.subject, []).append(caution)
        for rule in self.condition_rules:
            prefixes = tuple(code_key(prefix) for prefix in rule.icd10)
            self._conditions_by_key.setdefault(rule.subject, []).append((rule, prefixes))
        duplicates: dict[str, list[DrugClass]] = {}
        for drug_class in self.classes.values():
            if drug_class.kind == "duplicate_therapy":
                for member in drug_class.members:
                    duplicates.setdefault(member, []).append(drug_class)
        self._duplicate_classes = {code: tuple(found) for code, found in duplicates.items()}

    def _text_rank(self, code: str, folded: str) -> int:
        return min((t.rank for t in self.terms.get(code, ()) if t.folded == folded), default=3)

    # ---- lookups ------------------------------------------------------------------------------

    def drug_for_coding(self, coding: Coding) -> Drug | None:
        if coding.system == DRUGS:
            return self.drugs.get(coding.code.strip())
        if coding.system == RXNORM:
            code = self.by_rxnorm.get(coding.code.strip())
            return self.drugs[code] if code else None
        return None

    def drug_for_text(self, text: str) -> Drug | None:
        code = self.by_text.get(fold(text or ""))
        return self.drugs[code] if code else None

    def search(self, query: str, limit: int) -> list[Drug]:
        """Drugs whose name, a synonym or a brand matches `query`: the whole term, then terms that
        begin with it, then terms whose words begin with each word of it; names before synonyms
        before brands, active drugs only."""
        folded = fold(query)
        words = folded.split()
        if not words:
            return []
        scored: list[tuple[tuple[int, int, int, str], Drug]] = []
        for code, terms in self.terms.items():
            drug = self.drugs[code]
            if not drug.active:
                continue
            best: tuple[int, int] | None = None
            for term in terms:
                if term.folded == folded:
                    score = (0, term.rank)
                elif term.folded.startswith(folded):
                    score = (1, term.rank)
                elif all(any(w.startswith(q) for w in term.words) for q in words):
                    score = (2, term.rank)
                else:
                    continue
                if best is None or score < best:
                    best = score
            if best is not None:
                scored.append(((*best, len(drug.name), drug.name), drug))
        scored.sort(key=lambda pair: pair[0])
        return [drug for _, drug in scored[:limit]]

    def breadth(self, key: str) -> int:
        """How many drugs a rule's side covers: 1 for a drug, a class's number of members."""
        found = self.classes.get(key)
        return len(found.members) if found is not None else 1

    def class_members(self, class_code: str) -> tuple[str, ...]:
        found = self.classes.get(class_code)
        return found.members if found else ()

    # ---- the rules of a pair, a drug ------------------------------------------------------------

    def interactions_between(self, x: str, y: str) -> list[InteractionRule]:
        """The rules that apply to drugs `x` and `y`: for each concern (a rule's group, else its
        effect), the most specific (drug-drug before drug-class before class-class, narrower classes
        before broader), then the most severe: a named pair refines its class rule, not repeats it."""
        keys_y = self.keys[y]
        found: dict[str, InteractionRule] = {}
        for key in self.keys[x]:
            for rule, other in self._interactions_by_key.get(key, ()):
                if other in keys_y and rule.id not in found:
                    found[rule.id] = rule
        if len(found) <= 1:
            return list(found.values())
        best: dict[str, InteractionRule] = {}
        for rule in found.values():
            group = rule.group or rule.effect
            current = best.get(group)
            if current is None or self._rule_order(rule) < self._rule_order(current):
                best[group] = rule
        return sorted(best.values(), key=self._rule_order)

    def _rule_order(self, rule: InteractionRule) -> tuple[int, int, int, str]:
        """Named drugs first; between class rules, the narrower classes (fewer members) first."""
        specific = (rule.a in self.drugs) + (rule.b in self.drugs)
        breadth = sum(self.breadth(side) for side in (rule.a, rule.b) if side in self.classes)
        return (-specific, breadth, _RANK[rule.severity], rule.id)

    def allergen_keys(self, allergy: AllergySubstance) -> tuple[frozenset[str], frozenset[str], str] | None:
        """What a recorded allergen is: (its substances, the classes it belongs to, its name), or None
        when nothing in the catalogue or its classes names it. A coded drug first, then its text."""
        drug = self.drug_for_coding(allergy.coding) if allergy.coding else None
        texts = [allergy.text]
        if allergy.coding and allergy.coding.display:
            texts.append(allergy.coding.display)
        for text in texts:
            if drug is not None:
                break
            drug = self.drug_for_text(text)
        if drug is not None:
            classes = frozenset(key for key in self.keys[drug.code] if key in self.classes)
            return self.substances[drug.code], self._with_ancestors(classes), drug.name
        for text in texts:
            found = self._class_or_drug_in_text(text)
            if found is not None:
                return found
        return None

    def _with_ancestors(self, classes: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for code in classes:
            out |= self._class_ancestors.get(code, {code})
        return frozenset(out)

    def _class_or_drug_in_text(self, text: str) -> tuple[frozenset[str], frozenset[str], str] | None:
        """A class (an allergy group's alias: "penicillin", "sulfa") or a drug named in free text, the
        longest run of words first ("allergy to co-trimoxazole tablets" -> co-trimoxazole)."""
        words = [w for w in fold(text or "").split() if w not in _ALLERGY_NOISE]
        for size in range(min(len(words), 6), 0, -1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                class_code = self.class_by_text.get(phrase)
                if class_code is not None:
                    return frozenset(), self._with_ancestors([class_code]), self.classes[class_code].name
                code = self.by_text.get(phrase)
                if code is not None:
                    classes = frozenset(key for key in self.keys[code] if key in self.classes)
                    return self.substances[code], self._with_ancestors(classes), self.drugs[code].name
        return None


# --------------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------------


def _alert_order(alert: SafetyAlert) -> tuple[int, int, str, tuple[str, ...], tuple[str, ...]]:
    return (_RANK[alert.severity], _KIND_RANK[alert.kind], alert.rule, alert.items, alert.drugs)


def check(
    knowledge: Knowledge,
    *,
    proposed: Sequence[ProposedDrug],
    current: Sequence[str],
    allergies: Sequence[AllergySubstance] = (),
    conditions: Sequence[str] = (),
    pregnant: bool = False,
    lactating: bool = False,
) -> list[SafetyAlert]:
    """Every alert for `proposed` (drug codes known to `knowledge`: the caller checks that), most
    severe first, in a deterministic order. `current` codes the knowledge does not hold are ignored."""
    drugs = knowledge.drugs
    current_codes = list(dict.fromkeys(code for code in current if code in drugs))
    alerts: list[SafetyAlert] = []
    add = alerts.append

    # Interactions: proposed x proposed, proposed x current (a drug given locally is left out).
    systemic = [p for p in proposed if normalize_route(p.route) not in LOCAL_ROUTES]
    pairs: list[tuple[ProposedDrug, ProposedDrug | None, str, str]] = [
        (p, q, p.drug_code, q.drug_code) for p, q in combinations(systemic, 2) if p.drug_code != q.drug_code
    ]
    pairs += [(p, None, p.drug_code, code) for p in systemic for code in current_codes if code != p.drug_code]
    for p, q, x, y in pairs:
        items = (p.key,) if q is None else (p.key, q.key)
        for rule in knowledge.interactions_between(x, y):
            add(
                SafetyAlert(
                    kind="interaction",
                    severity=rule.severity,
                    rule=rule.id,
                    title=f"{drugs[x].name} with {drugs[y].name}: {rule.effect}",
                    mechanism=rule.mechanism,
                    management=f"{rule.management} {rule.note}".strip() if rule.note else rule.management,
                    source=rule.source,
                    items=items,
                    drugs=(x, y),
                )
            )

    # Allergies: the substance itself (or an ingredient shared), then cross-sensitivity of classes.
    resolved = [(a, knowledge.allergen_keys(a)) for a in allergies]
    for p in proposed:
        code = p.drug_code
        substances, keys = knowledge.substances[code], knowledge.keys[code]
        for _allergy, found in resolved:
            if found is None:
                continue
            allergen_substances, allergen_classes, allergen_name = found
            alert: SafetyAlert | None = None
            if substances & allergen_substances:
                alert = SafetyAlert(
                    kind="allergy",
                    severity="contraindicated",
                    rule="ALG-same-substance",
                    title=f"{drugs[code].name}: recorded allergy to {allergen_name}",
                    mechanism=f"{drugs[code].name} is, or contains, the substance the patient is recorded as allergic to.",
                    management="Do not give. Choose an agent of another class, or confirm the allergy record is wrong "
                    "and correct it before prescribing.",
                    source="PHB allergy check (recorded allergy, same substance)",
                    items=(p.key,),
                    drugs=(code,),
                )
            else:
                # The rule naming the narrowest group the drug is in decides (a COX-2 inhibitor in NSAID
                # hypersensitivity, not all NSAIDs); among equally narrow ones, the most severe.
                chosen: tuple[int, int, str] | None = None
                for allergen_key in sorted(allergen_classes | allergen_substances):
                    for rule in knowledge._cross_by_key.get(allergen_key, ()):
                        if rule.reacts_with not in keys:
                            continue
                        order = (knowledge.breadth(rule.reacts_with), _RANK[rule.severity], rule.id)
                        if chosen is None or order < chosen:
                            chosen = order
                            alert = SafetyAlert(
                                kind="allergy",
                                severity=rule.severity,
                                rule=rule.id,
                                title=f"{drugs[code].name}: recorded allergy to {allergen_name}",
                                mechanism=rule.mechanism,
                                management=rule.management,
                                source=rule.source,
                                items=(p.key,),
                                drugs=(code,),
                            )
            if alert is not None:
                add(alert)

    # Duplicate therapy: the same substance twice, or two drugs of one duplicate-therapy class.
    seen_duplicates: set[tuple[str, ...]] = set()
    for index, p in enumerate(proposed):
        code = p.drug_code
        partners = [(q.key, q.drug_code) for q in proposed[index + 1 :]] + [("", c) for c in current_codes]
        for other_key, other in partners:
            items = (p.key, other_key) if other_key else (p.key,)
            shared = knowledge.substances[code] & knowledge.substances[other]
            if shared:
                marker = ("same", *items, other)
                if marker in seen_duplicates:
                    continue
                seen_duplicates.add(marker)
                names = ", ".join(drugs[s].name for s in sorted(shared))
                same = code == other
                add(
                    SafetyAlert(
                        kind="duplicate",
                        severity="moderate",
                        rule="DUP-same-drug" if same else "DUP-same-ingredient",
                        title=f"{drugs[code].name} twice"
                        if same
                        else f"{names} in both {drugs[code].name} and {drugs[other].name}",
                        mechanism=f"{names} would be given twice"
                        + (" (already among the active medications)." if not other_key else "."),
                        management="Prescribe it once; if a change of dose or form is meant, stop the other first. "
                        "Count the total daily dose of a shared ingredient (paracetamol in combinations).",
                        source="PHB duplicate-therapy check (same substance)",
                        items=items,
                        drugs=(code,) if same else (code, other),
                    )
                )
                continue
            for drug_class in knowledge._duplicate_classes.get(code, ()):
                if other in drug_class.members:
                    marker = (drug_class.code, *items, other)
                    if marker in seen_duplicates:
                        continue
                    seen_duplicates.add(marker)
                    add(
                        SafetyAlert(
                            kind="duplicate",
                            severity=drug_class.severity or "moderate",
                            rule=f"DUP-{drug_class.code.removeprefix('dup-')}",
                            title=f"Two {drug_class.name.lower()}: {drugs[code].name} and {drugs[other].name}",
                            mechanism=f"{drugs[code].name} and {drugs[other].name} are both {drug_class.name.lower()}"
                            + (" (the second is already active)." if not other_key else "."),
                            management=drug_class.advice,
                            source=drug_class.source,
                            items=items,
                            drugs=(code, other),
                        )
                    )

    # Dose above the maximum (adult, per day), where a limit exists in a comparable unit.
    for p in systemic:
        if p.daily_amount is None:
            continue
        limits = knowledge._doses.get(p.drug_code)
        if not limits:
            continue
        route = normalize_route(p.route)
        limit = limits.get(route) if route else None
        if limit is None and not route:
            limit = next(iter(limits.values())) if len(limits) == 1 else limits.get("oral")
        if limit is None:
            continue
        amount = convert(p.daily_amount, p.daily_unit, limit.unit)
        if amount is None or amount <= limit.amount:
            continue
        name = drugs[p.drug_code].name
        add(
            SafetyAlert(
                kind="dose",
                severity="major",
                rule=limit.id,
                title=f"{name}: {_fmt(p.daily_amount)} {p.daily_unit} a day is above the maximum of "
                f"{_fmt(limit.amount)} {limit.unit}",
                mechanism=f"The usual adult maximum of {name} ({limit.route}) is {_fmt(limit.amount)} {limit.unit} "
                "a day; above it, toxicity rises.",
                management=limit.note or "Check the dose; lower it unless a specialist regimen requires it.",
                source=limit.source,
                items=(p.key,),
                drugs=(p.drug_code,),
            )
        )

    # Pregnancy and lactation: the drug's own caution, else its classes' most severe one.
    for p in proposed:
        for state, wanted in (("pregnancy", pregnant), ("lactation", lactating)):
            if not wanted:
                continue
            caution = _caution(knowledge, p.drug_code, state)
            if caution is None:
                continue
            level = getattr(caution, state)
            name = drugs[p.drug_code].name
            subject = knowledge.classes[caution.subject].name if caution.subject in knowledge.classes else name
            add(
                SafetyAlert(
                    kind=state,
                    severity=CAUTION_SEVERITY[level],
                    rule=f"{'PREG' if state == 'pregnancy' else 'LACT'}-{caution.subject}",
                    title=f"{name} in {'pregnancy' if state == 'pregnancy' else 'breastfeeding'}: {level}",
                    mechanism=f"{subject}: {getattr(caution, state + '_text')}",
                    management=_CAUTION_ADVICE[level],
                    source=caution.source,
                    items=(p.key,),
                    drugs=(p.drug_code,),
                )
            )

    # Conditions: ICD-10-CM code prefixes of the patient's active problems.
    condition_keys = [code_key(c) for c in conditions if c]
    if condition_keys:
        for p in systemic:
            fired: set[str] = set()
            for key in sorted(knowledge.keys[p.drug_code]):
                for rule, prefixes in knowledge._conditions_by_key.get(key, ()):
                    if rule.id in fired:
                        continue
                    matched = [c for c in conditions if c and code_key(c).startswith(prefixes)]
                    if not matched:
                        continue
                    fired.add(rule.id)
                    add(
                        SafetyAlert(
                            kind="condition",
                            severity=rule.severity,
                            rule=rule.id,
                            title=f"{drugs[p.drug_code].name} with {rule.condition} ({', '.join(sorted(matched))})",
                            mechanism=rule.mechanism,
                            management=rule.management,
                            source=rule.source,
                            items=(p.key,),
                            drugs=(p.drug_code,),
                        )
                    )

    alerts.sort(key=_alert_order)
    return alerts


_CAUTION_ADVICE = {
    "contraindicated": "Do not use: choose a safer alternative (see the text), unless a specialist has weighed "
    "the risk and records why.",
    "avoid": "Avoid: use only when no safer alternative suits and the benefit clearly outweighs the risk; record why.",
    "caution": "Use with caution: check the indication, the dose and the monitoring the text describes.",
}


def _caution(knowledge: Knowledge, code: str, state: str) -> ReproductiveCaution | None:
    """The caution that applies to `code` in `state` ("pregnancy" or "lactation"): the drug's own (or
    an ingredient's) when the data has one for that state, else the most severe of its classes'."""
    own: ReproductiveCaution | None = None
    best: ReproductiveCaution | None = None
    for key in sorted(knowledge.keys[code]):
        for caution in knowledge._cautions_by_key.get(key, ()):
            level = getattr(caution, state)
            if not level:
                continue
            if key in knowledge.drugs:
                if own is None or _RANK[CAUTION_SEVERITY[level]] < _RANK[CAUTION_SEVERITY[getattr(own, state)]]:
                    own = caution
            elif best is None or _RANK[CAUTION_SEVERITY[level]] < _RANK[CAUTION_SEVERITY[getattr(best, state)]]:
                best = caution
    return own or best
