"""The drug catalogue and medication-safety knowledge PHB ships (`data/drugs/`, see its SOURCES.md):
read from the files of a release and validated, strictly, before anything is written.

This is patient-safety content: a rule that names a drug the catalogue lacks would never fire, a typo in
a severity would hide an alert. So every reference must resolve, every closed list must hold, every rule
must name its source, and the whole release is refused (naming the file and the entry) at the first
load that meets a problem. Pure: files in, `DrugRelease` out; `services` writes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from phb.terminology.coding import MAX_CODE, fold
from phb.terminology.drug_safety import (
    CAUTION_LEVELS,
    CLASS_KINDS,
    ROUTES,
    SEVERITIES,
    AllergyCrossRule,
    ConditionRule,
    Drug,
    DrugClass,
    DrugForm,
    InteractionRule,
    MaxDose,
    ReproductiveCaution,
    normalize_unit,
)

FILE_KINDS = (
    "catalogue",
    "classes",
    "interactions",
    "allergy_cross",
    "max_doses",
    "pregnancy_lactation",
    "condition_rules",
)
_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_RULE_ID = re.compile(r"DDI-[0-9]{4}")
_ICD10_PREFIX = re.compile(r"[A-Z][0-9]{0,2}(\.[0-9A-Z]{0,4})?")
_ATC = re.compile(r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?")
_RXCUI = re.compile(r"[1-9][0-9]{0,9}")
_VERSION = re.compile(r"[0-9]{4}\.[0-9]{1,2}\.[0-9]+")


class KnowledgeInvalid(ValueError):
    """The files of a release break a rule of their format: nothing of the release is loaded."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:25])
        more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        super().__init__(f"the drug knowledge release is invalid ({len(problems)} problems):\n  {shown}{more}")


@dataclass(frozen=True)
class DrugRelease:
    version: str
    sha256: str
    drugs: tuple[Drug, ...]
    classes: tuple[DrugClass, ...]
    interactions: tuple[InteractionRule, ...]
    allergy_cross: tuple[AllergyCrossRule, ...]
    max_doses: tuple[MaxDose, ...]
    cautions: tuple[ReproductiveCaution, ...]
    condition_rules: tuple[ConditionRule, ...]

    def counts(self) -> dict[str, int]:
        return {
            "drugs": len(self.drugs),
            "classes": len(self.classes),
            "interactions": len(self.interactions),
            "allergy_cross": len(self.allergy_cross),
            "max_doses": len(self.max_doses),
            "cautions": len(self.cautions),
            "condition_rules": len(self.condition_rules),
        }


def release_files(release_path: Path) -> tuple[dict[str, Any], dict[str, list[Path]]]:
    """The release manifest and, for each kind of file, the files it lists (relative to it)."""
    manifest = json.loads(release_path.read_text(encoding="utf-8"))
    files: dict[str, list[Path]] = {}
    for kind in FILE_KINDS:
        names = manifest.get("files", {}).get(kind)
        if isinstance(names, str):
            names = [names]
        if not names or not all(isinstance(n, str) and n for n in names):
            raise KnowledgeInvalid([f"{release_path.name}: `files.{kind}` must name one file or a list of files"])
        files[kind] = [release_path.parent / name for name in names]
    return manifest, files


def release_sha256(release_path: Path) -> str:
    """One digest over the manifest and every file it lists (name and bytes): a change to any of them
    is a new release to load."""
    _, files = release_files(release_path)
    digest = hashlib.sha256()
    for path in [release_path, *(p for kind in FILE_KINDS for p in files[kind])]:
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _load(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=yaml.CSafeLoader)
    except (ValueError, yaml.YAMLError) as e:
        raise KnowledgeInvalid([f"{path.name}: not readable: {e}"]) from None
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise KnowledgeInvalid([f"{path.name}: must be a list of entries"])
    return data


class _Checker:
    """Collects the problems of every file, so that one run names them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def entry(self, path: Path, number: int, entry: dict[str, Any], key: str) -> Callable[[str], None]:
        label = f"{path.name}: entry {number} ({entry.get(key, '?')})"

        def problem(message: str) -> None:
            self.problems.append(f"{label}: {message}")

        return problem


def _text(entry: dict[str, Any], name: str, problem: Callable[[str], None], *, required: bool = True) -> str:
    value = entry.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        problem(f"`{name}` must be text")
        return ""
    value = " ".join(value.split())
    if required and not value:
        problem(f"`{name}` is required")
    return value


def _texts(entry: dict[str, Any], name: str, problem: Callable[[str], None]) -> tuple[str, ...]:
    value = entry.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str | int) and str(v).strip() for v in value):
        problem(f"`{name}` must be a list of non-empty texts")
        return ()
    return tuple(" ".join(str(v).split()) for v in value)


def _unknown_fields(entry: dict[str, Any], allowed: set[str], problem: Callable[[str], None]) -> None:
    extra = set(entry) - allowed
    if extra:
        problem(f"unknown field(s) {', '.join(sorted(extra))}")


def read_drug_release(release_path: Path) -> DrugRelease:
    """Read and validate the release whose manifest is `release_path`; KnowledgeInvalid on any problem."""
    manifest, files = release_files(release_path)
    check = _Checker()
    version = manifest.get("version", "")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        check.problems.append(f"{release_path.name}: `version` must look like 2026.11.1")

    # ---- catalogue -------------------------------------------------------------------------------
    raw_drugs: list[tuple[Path, int, dict[str, Any]]] = [
        (path, n, entry) for path in files["catalogue"] for n, entry in enumerate(_load(path), 1)
    ]
    raw_classes: list[tuple[Path, int, dict[str, Any]]] = [
        (path, n, entry) for path in files["classes"] for n, entry in enumerate(_load(path), 1)
    ]
    drug_codes = {str(e.get("code", "")) for _, _, e in raw_drugs}
    class_codes = {str(e.get("code", "")) for _, _, e in raw_classes}
    drugs: dict[str, dict[str, Any]] = {}
    seen_rxnorm: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    drug_fields = {
        "code",
        "name",
        "synonyms",
        "brands",
        "atc",
        "classes",
        "ingredients",
        "forms",
        "controlled",
        "rxnorm",
    }
    for path, number, entry in raw_drugs:
        problem = check.entry(path, number, entry, "code")
        _unknown_fields(entry, drug_fields, problem)
        code = _text(entry, "code", problem)
        if code and (not _SLUG.fullmatch(code) or len(code) > MAX_CODE):
            problem(f"`code` must be a lower-case slug of at most {MAX_CODE} characters")
        if code in drugs:
            problem("this code is already in the catalogue")
        if code in class_codes:
            problem("this code is also a class code")
        name = _text(entry, "name", problem)
        synonyms, brands = _texts(entry, "synonyms", problem), _texts(entry, "brands", problem)
        for term in (name, *synonyms):
            folded = fold(term)
            if folded in seen_names and seen_names[folded] != code:
                problem(f"the name or synonym {term!r} is already {seen_names[folded]}'s")
            seen_names.setdefault(folded, code)
        atc = _text(entry, "atc", problem, required=False)
        if atc and not _ATC.fullmatch(atc):
            problem(f"`atc` {atc!r} is not an ATC code")
        classes = _texts(entry, "classes", problem)
        for c in classes:
            if c not in class_codes:
                problem(f"class {c!r} is not in the classes file")
        ingredients = _texts(entry, "ingredients", problem)
        for i in ingredients:
            if i not in drug_codes or i == code:
                problem(f"ingredient {i!r} is not another drug of the catalogue")
        controlled = entry.get("controlled", False)
        if not isinstance(controlled, bool):
            problem("`controlled` must be true or false")
        rxnorm = _texts(entry, "rxnorm", problem)
        for rxcui in rxnorm:
            if not _RXCUI.fullmatch(rxcui):
                problem(f"RxCUI {rxcui!r} is not well-formed")
            elif rxcui in seen_rxnorm:
                problem(f"RxCUI {rxcui} is already {seen_rxnorm[rxcui]}'s")
            else:
                seen_rxnorm[rxcui] = code
        forms = []
        raw_forms = entry.get("forms") or []
        if not isinstance(raw_forms, list) or not raw_forms:
            problem("`forms` must list at least one form")
            raw_forms = []
        for form in raw_forms:
            if not isinstance(form, dict):
                problem("a form must be {form, route, strengths, unit}")
                continue
            _unknown_fields(form, {"form", "route", "strengths", "unit"}, problem)
            route = _text(form, "route", problem)
            if route and route not in ROUTES:
                problem(f"route {route!r} is not one of {', '.join(ROUTES)}")
            forms.append(
                DrugForm(
                    form=_text(form, "form", problem),
                    route=route,
                    strengths=_texts(form, "strengths", problem),
                    unit=_text(form, "unit", problem),
                )
            )
        drugs[code] = {
            "code": code,
            "name": name,
            "synonyms": synonyms,
            "brands": brands,
            "atc": atc,
            "classes": classes,
            "ingredients": ingredients,
            "forms": tuple(forms),
            "controlled": bool(controlled),
            "rxnorm": rxnorm,
        }

    # ---- classes ---------------------------------------------------------------------------------
    class_entries: dict[str, dict[str, Any]] = {}
    class_fields = {"code", "name", "kind", "atc", "includes", "members", "aliases", "severity", "advice", "source"}
    for path, number, entry in raw_classes:
        problem = check.entry(path, number, entry, "code")
        _unknown_fields(entry, class_fields, problem)
        code = _text(entry, "code", problem)
        if code and not _SLUG.fullmatch(code):
            problem("`code` must be a lower-case slug")
        if code in class_entries:
            problem("this class code is already used")
        kind = _text(entry, "kind", problem)
        if kind and kind not in CLASS_KINDS:
            problem(f"kind {kind!r} is not one of {', '.join(CLASS_KINDS)}")
        if kind == "duplicate_therapy" and not code.startswith("dup-"):
            problem("a duplicate_therapy class code starts with `dup-`")
        severity = _text(entry, "severity", problem, required=kind == "duplicate_therapy")
        if severity and severity not in SEVERITIES:
            problem(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        advice = _text(entry, "advice", problem, required=kind == "duplicate_therapy")
        source = _text(entry, "source", problem, required=kind != "therapeutic")
        atc = _text(entry, "atc", problem, required=False)
        if atc and not _ATC.fullmatch(atc):
            problem(f"`atc` {atc!r} is not an ATC code")
        includes = _texts(entry, "includes", problem)
        for c in includes:
            if c not in class_codes or c == code:
                problem(f"included class {c!r} is not another class")
        members = _texts(entry, "members", problem)
        for m in members:
            if m not in drug_codes:
                problem(f"member {m!r} is not a drug of the catalogue")
        class_entries[code] = {
            "code": code,
            "name": _text(entry, "name", problem),
            "kind": kind,
            "atc": atc,
            "includes": includes,
            "members": members,
            "aliases": _texts(entry, "aliases", problem),
            "severity": severity,
            "advice": advice,
            "source": source,
        }
    for code, entry in class_entries.items():
        for alias in (entry["name"], *entry["aliases"]):
            if fold(alias) in seen_names:
                check.problems.append(
                    f"classes: {code}: the name or alias {alias!r} is also {seen_names[fold(alias)]}'s name or synonym"
                )
    _check_cycles(class_entries, "includes", "classes", check)
    _check_cycles(drugs, "ingredients", "catalogue", check)
    if check.problems:
        raise KnowledgeInvalid(check.problems)

    # Membership, flattened: a drug is in the classes its entry names and those that list it; a class
    # holds its sub-classes' members; a combination is in every class of its ingredients.
    direct: dict[str, set[str]] = {code: set(entry["classes"]) for code, entry in drugs.items()}
    for code, entry in class_entries.items():
        for member in entry["members"]:
            direct[member].add(code)
    parents: dict[str, set[str]] = {}
    for code, entry in class_entries.items():
        for child in entry["includes"]:
            parents.setdefault(child, set()).add(code)

    def ancestors(class_code: str) -> set[str]:
        out, pending = {class_code}, [class_code]
        while pending:
            for parent in parents.get(pending.pop(), ()):
                if parent not in out:
                    out.add(parent)
                    pending.append(parent)
        return out

    own: dict[str, set[str]] = {}
    for code, classes in direct.items():
        own[code] = set().union(*(ancestors(c) for c in classes)) if classes else set()

    def effective(code: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out = set(own[code])
        for ingredient in drugs[code]["ingredients"]:
            if ingredient not in seen:
                out |= effective(ingredient, seen | {code})
        return out

    drug_classes = {code: effective(code) for code in drugs}
    members: dict[str, set[str]] = {code: set() for code in class_entries}
    for code, classes in drug_classes.items():
        for c in classes:
            members[c].add(code)
    classes_out = tuple(
        DrugClass(**(entry | {"members": tuple(sorted(members[code]))})) for code, entry in class_entries.items()
    )
    drugs_out = tuple(Drug(**(entry | {"classes": tuple(sorted(drug_classes[code]))})) for code, entry in drugs.items())
    known = drug_codes | class_codes

    # ---- interactions ----------------------------------------------------------------------------
    interactions = []
    rule_ids: set[str] = set()
    pairs: dict[tuple[str, str, str], str] = {}
    ddi_fields = {"id", "a", "b", "severity", "effect", "mechanism", "management", "source", "note", "group"}
    for path in files["interactions"]:
        for number, entry in enumerate(_load(path), 1):
            problem = check.entry(path, number, entry, "id")
            _unknown_fields(entry, ddi_fields, problem)
            rule_id = _text(entry, "id", problem)
            if rule_id and not _RULE_ID.fullmatch(rule_id):
                problem("`id` must look like DDI-0001")
            if rule_id in rule_ids:
                problem("this id is already used")
            rule_ids.add(rule_id)
            a, b = _text(entry, "a", problem), _text(entry, "b", problem)
            for side in (a, b):
                if side and side not in known:
                    problem(f"{side!r} is neither a drug nor a class")
            effect = _text(entry, "effect", problem)
            pair = (*sorted((a, b)), effect)
            if pair in pairs:
                problem(f"{a} x {b} ({effect}) is already rule {pairs[pair]}")
            pairs[pair] = rule_id
            severity = _severity(entry, problem)
            interactions.append(
                InteractionRule(
                    id=rule_id,
                    a=a,
                    b=b,
                    severity=severity,
                    effect=effect,
                    mechanism=_text(entry, "mechanism", problem),
                    management=_text(entry, "management", problem),
                    source=_text(entry, "source", problem),
                    note=_text(entry, "note", problem, required=False),
                    group=_text(entry, "group", problem, required=False),
                )
            )

    # ---- allergy cross-sensitivity ---------------------------------------------------------------
    allergy_cross = []
    cross_ids: set[str] = set()
    for path in files["allergy_cross"]:
        for number, entry in enumerate(_load(path), 1):
            problem = check.entry(path, number, entry, "id")
            _unknown_fields(
                entry, {"id", "allergen", "reacts_with", "severity", "mechanism", "management", "source"}, problem
            )
            rule_id = _text(entry, "id", problem)
            if rule_id and not re.fullmatch(r"ALG-[a-z0-9-]+", rule_id):
                problem("`id` must look like ALG-penicillins")
            if rule_id in cross_ids:
                problem("this id is already used")
            cross_ids.add(rule_id)
            allergen, reacts = _text(entry, "allergen", problem), _text(entry, "reacts_with", problem)
            for side in (allergen, reacts):
                if side and side not in known:
                    problem(f"{side!r} is neither a drug nor a class")
            allergy_cross.append(
                AllergyCrossRule(
                    id=rule_id,
                    allergen=allergen,
                    reacts_with=reacts,
                    severity=_severity(entry, problem),
                    mechanism=_text(entry, "mechanism", problem),
                    management=_text(entry, "management", problem),
                    source=_text(entry, "source", problem),
                )
            )

    # ---- maximum doses ---------------------------------------------------------------------------
    max_doses = []
    dose_ids: set[str] = set()
    for path in files["max_doses"]:
        for number, entry in enumerate(_load(path), 1):
            problem = check.entry(path, number, entry, "drug")
            _unknown_fields(entry, {"drug", "route", "max", "unit", "note", "source"}, problem)
            drug = _text(entry, "drug", problem)
            if drug and drug not in drug_codes:
                problem(f"{drug!r} is not a drug of the catalogue")
            route = _text(entry, "route", problem)
            if route and route not in ROUTES:
                problem(f"route {route!r} is not one of {', '.join(ROUTES)}")
            rule_id = f"DOSE-{drug}-{route.lower()}"
            if rule_id in dose_ids:
                problem(f"a maximum for {drug} ({route}) is already given")
            dose_ids.add(rule_id)
            try:
                amount = Decimal(str(entry.get("max")))
                if not amount.is_finite() or amount <= 0:
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                problem("`max` must be a positive number (the amount per day)")
                amount = Decimal(0)
            unit = normalize_unit(_text(entry, "unit", problem))
            max_doses.append(
                MaxDose(
                    id=rule_id,
                    drug=drug,
                    route=route,
                    amount=amount,
                    unit=unit,
                    note=_text(entry, "note", problem, required=False),
                    source=_text(entry, "source", problem),
                )
            )

    # ---- pregnancy and lactation -----------------------------------------------------------------
    cautions = []
    subjects: set[str] = set()
    caution_fields = {"subject", "pregnancy", "pregnancy_text", "lactation", "lactation_text", "source"}
    for path in files["pregnancy_lactation"]:
        for number, entry in enumerate(_load(path), 1):
            problem = check.entry(path, number, entry, "subject")
            _unknown_fields(entry, caution_fields, problem)
            subject = _text(entry, "subject", problem)
            if subject and subject not in known:
                problem(f"{subject!r} is neither a drug nor a class")
            if subject in subjects:
                problem("this subject already has an entry")
            subjects.add(subject)
            levels = {}
            for state in ("pregnancy", "lactation"):
                level = _text(entry, state, problem, required=False)
                if level and level not in CAUTION_LEVELS:
                    problem(f"`{state}` {level!r} is not one of {', '.join(CAUTION_LEVELS)}")
                levels[state] = level
                _text(entry, f"{state}_text", problem, required=bool(level))
            if not levels["pregnancy"] and not levels["lactation"]:
                problem("give a pregnancy or a lactation level")
            cautions.append(
                ReproductiveCaution(
                    subject=subject,
                    pregnancy=levels["pregnancy"],
                    pregnancy_text=_text(entry, "pregnancy_text", lambda _: None, required=False),
                    lactation=levels["lactation"],
                    lactation_text=_text(entry, "lactation_text", lambda _: None, required=False),
                    source=_text(entry, "source", problem),
                )
            )

    # ---- drug-condition rules --------------------------------------------------------------------
    condition_rules = []
    condition_ids: set[str] = set()
    condition_fields = {"id", "subject", "icd10", "condition", "severity", "mechanism", "management", "source"}
    for path in files["condition_rules"]:
        for number, entry in enumerate(_load(path), 1):
            problem = check.entry(path, number, entry, "id")
            _unknown_fields(entry, condition_fields, problem)
            rule_id = _text(entry, "id", problem)
            if rule_id and not re.fullmatch(r"COND-[a-z0-9-]+", rule_id):
                problem("`id` must look like COND-nsaids-peptic-ulcer")
            if rule_id in condition_ids:
                problem("this id is already used")
            condition_ids.add(rule_id)
            subject = _text(entry, "subject", problem)
            if subject and subject not in known:
                problem(f"{subject!r} is neither a drug nor a class")
            prefixes = _texts(entry, "icd10", problem)
            if not prefixes:
                problem("`icd10` must list at least one ICD-10-CM code prefix")
            for prefix in prefixes:
                if not _ICD10_PREFIX.fullmatch(prefix):
                    problem(f"{prefix!r} is not an ICD-10-CM code prefix (K25, N18.4)")
            condition_rules.append(
                ConditionRule(
                    id=rule_id,
                    subject=subject,
                    icd10=prefixes,
                    condition=_text(entry, "condition", problem),
                    severity=_severity(entry, problem),
                    mechanism=_text(entry, "mechanism", problem),
                    management=_text(entry, "management", problem),
                    source=_text(entry, "source", problem),
                )
            )

    if check.problems:
        raise KnowledgeInvalid(check.problems)
    return DrugRelease(
        version=version,
        sha256=release_sha256(release_path),
        drugs=drugs_out,
        classes=classes_out,
        interactions=tuple(interactions),
        allergy_cross=tuple(allergy_cross),
        max_doses=tuple(max_doses),
        cautions=tuple(cautions),
        condition_rules=tuple(condition_rules),
    )


def _severity(entry: dict[str, Any], problem: Callable[[str], None]) -> str:
    severity = _text(entry, "severity", problem)
    if severity and severity not in SEVERITIES:
        problem(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return severity


def _check_cycles(entries: dict[str, dict[str, Any]], field: str, filename: str, check: _Checker) -> None:
    """No class includes itself through others; no combination contains itself."""
    state: dict[str, int] = {}

    def visit(code: str, path: list[str]) -> None:
        if state.get(code) == 2:
            return
        if state.get(code) == 1:
            check.problems.append(f"{filename}: {' -> '.join([*path, code])} is a cycle of `{field}`")
            return
        state[code] = 1
        for child in entries.get(code, {}).get(field, ()):
            if child in entries:
                visit(child, [*path, code])
        state[code] = 2

    for code in entries:
        visit(code, [])
