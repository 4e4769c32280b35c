"""Reads of terminology: look a code up, search a system by code or words, check a coding; the drug
catalogue and the medication-safety check, from an in-process index of the release in force.

Code systems are reference data: no organization owns them and they hold no personal data, so these
reads take no request context and record nothing (callers decide who may search, see `policies`).
Search is by code prefix when the text looks like a code ("E11", "e11.9", "E119"), by words otherwise
(any order, each word a prefix: "diab mell typ 2"); on PostgreSQL from a B-tree index on the code key
and a full-text GIN index on the folded display, on SQLite by plain matching."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import reduce
from operator import or_
from types import MappingProxyType
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.db.models.functions import Length

from phb.kernel import memo
from phb.kernel.errors import NotFound, ProblemError, ValidationFailed
from phb.terminology import coding, drug_safety, models
from phb.terminology.coding import Coding, Concept, UnknownCodeSystem

MAX_QUERY = 100
MAX_WORDS = 8
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
# A single token with a digit among its first three characters reads as a code ("E11", "e11.9", "8480-6").
_CODE_LIKE = re.compile(r"[A-Za-z0-9]{0,2}[0-9][A-Za-z0-9.\-]{0,10}")
_FIELDS = ("code", "display", "selectable", "level", "parent_code", "active", "heading", "properties")


def resolve_system(system: str) -> str:
    """The canonical URI of `system` (a URI or a short name PHB knows); UnknownCodeSystem otherwise."""
    uri = coding.system_uri(system)
    if uri is None:
        raise UnknownCodeSystem(f"no code system is known as {system[:100]!r}")
    return uri


def _held(uri: str) -> models.CodeSystem:
    held = models.CodeSystem.objects.filter(uri=uri).first()
    if held is None:
        raise UnknownCodeSystem(f"PHB holds no concepts of {uri}: it can be recorded, not looked up or searched")
    return held


def code_system_list() -> list[models.CodeSystem]:
    """The code systems PHB holds, with their number of active concepts (`concept_count`)."""
    return list(
        models.CodeSystem.objects.annotate(concept_count=Count("concepts", filter=Q(concepts__active=True))).order_by(
            "name"
        )
    )


def code_system_get(system: str) -> models.CodeSystem:
    return _held(resolve_system(system))


def _concept(uri: str, values: Iterable[Any]) -> Concept:
    fields = dict(zip(_FIELDS, values, strict=True))
    return Concept(system=uri, **fields | {"properties": MappingProxyType(fields["properties"] or {})})


def lookup(system: str, code: str) -> Concept | None:
    """The concept `code` of `system` (inactive ones included), or None. The code is matched whatever
    its case and punctuation ("e119" finds E11.9). UnknownCodeSystem when PHB holds no such system."""
    uri = resolve_system(system)
    key = coding.code_key(code or "")
    if not key or len(code) > coding.MAX_CODE:
        return None
    rows = list(models.Concept.objects.filter(system__uri=uri, code_key=key).values_list(*_FIELDS)[:5])
    if not rows:
        _held(uri)
        return None
    rows.sort(key=lambda row: row[0] != code.strip())  # an exact match before one by key
    return _concept(uri, rows[0])


def _words_filter(words: list[str]) -> Q:
    """Every word, as a prefix of a word of the display (a one-character word as a whole word)."""
    conditions = Q()
    for word in words:
        if len(word) > 1:
            conditions &= Q(search_text__startswith=word) | Q(search_text__contains=f" {word}")
        else:
            conditions &= (
                Q(search_text=word)
                | Q(search_text__startswith=f"{word} ")
                | Q(search_text__contains=f" {word} ")
                | Q(search_text__endswith=f" {word}")
            )
    return conditions


def tsquery(words: list[str]) -> str:
    """`words` as a PostgreSQL tsquery: all of them, each a prefix (one character: the whole word)."""
    return " & ".join(f"{w}:*" if len(w) > 1 else w for w in words)


def _search_words(uri: str, words: list[str], limit: int) -> QuerySet[models.Concept]:
    concepts = models.Concept.objects.filter(system__uri=uri, active=True, heading=False)
    if connection.vendor == "postgresql":
        # Words are folded to [a-z0-9]: nothing in them is tsquery syntax.
        query = SearchQuery(tsquery(words), search_type="raw", config="simple")
        concepts = concepts.alias(document=SearchVector("search_text", config="simple")).filter(document=query)
    else:
        concepts = concepts.filter(_words_filter(words))
    # A display that begins with one of the words is about it ("Pneumonia, unspecified organism"
    # before "Typhoid pneumonia"); among those, recordable codes first, then the shortest displays.
    leading = Case(When(reduce(or_, (Q(search_text__startswith=w) for w in words)), then=Value(0)), default=Value(1))
    return concepts.order_by("-selectable", leading, Length("display"), "code_key")[:limit]


def _search_code(uri: str, key: str, limit: int) -> QuerySet[models.Concept]:
    concepts = models.Concept.objects.filter(system__uri=uri, active=True, heading=False, code_key__startswith=key)
    exact = Case(When(code_key=key, then=Value(0)), default=Value(1))
    return concepts.order_by(exact, "-selectable", Length("code_key"), "code_key")[:limit]


def search(system: str, text: str, limit: int = DEFAULT_LIMIT) -> list[Concept]:
    """Active concepts of `system` matching `text`: by code prefix when it looks like a code (the
    exact code first, then recordable codes, shorter codes first), else by words (see above).
    ValidationFailed for an empty or over-long text or a bad limit; UnknownCodeSystem when PHB holds
    no such system."""
    uri = resolve_system(system)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed.field("q", "type a code or a few words", code="required")
    if len(text) > MAX_QUERY:
        raise ValidationFailed.field("q", f"at most {MAX_QUERY} characters", code="max_length")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.field("limit", f"a number from 1 to {MAX_LIMIT}", code="invalid")
    rows: list[Any] = []
    if _CODE_LIKE.fullmatch(text):
        rows = list(_search_code(uri, coding.code_key(text), limit).values_list(*_FIELDS))
    if not rows:
        words = coding.fold(text).split()
        if not words:
            raise ValidationFailed.field("q", "type a code or a few words (letters or digits)", code="invalid")
        if len(words) > MAX_WORDS:
            raise ValidationFailed.field("q", f"at most {MAX_WORDS} words", code="max_length")
        rows = list(_search_words(uri, words, limit).values_list(*_FIELDS))
    if not rows:
        _held(uri)
    return [_concept(uri, row) for row in rows]


@memo.cached(keep_none=True)  # a code table is not loaded in the middle of an import
def _content_of(uri: str) -> tuple[str, str] | None:
    """(content, name) of a code system PHB holds, or None."""
    return models.CodeSystem.objects.filter(uri=uri).values_list("content", "name").first()


def validate_coding(system: str, code: str, display: str = "", *, field: str = "", selectable: bool = False) -> Coding:
    """`system` + `code` + `display` checked and put in canonical form, or ValidationFailed.

    Well-formed: the system an absolute URI (or a short name PHB knows), the code a FHIR code of the
    shape its system uses, the display a short single line. In a system PHB holds completely
    (ICD-10-CM), the code must be one of its active codes, not a heading: the error's `code` says why
    (UNKNOWN_CODE, INACTIVE_CODE, CODE_NOT_SELECTABLE); with `selectable`, a code that cannot be
    recorded as is (ICD-10-CM: not billable) is refused too. A system held in part (the LOINC subset)
    or not at all (SNOMED CT, RxNorm, ...) accepts any well-formed code. The display, when blank, is
    the system's. `field` prefixes the field names of the errors ("diagnosis" -> "diagnosis.code")."""
    prefix = f"{field}." if field else ""
    system, code, display = (system or "").strip(), (code or "").strip(), " ".join((display or "").split())
    problems = [
        {"field": f"{prefix}{name}", "message": message, "code": "invalid"}
        for name, message in (("system", coding.system_problem(system)), ("display", coding.display_problem(display)))
        if message
    ]
    uri = coding.system_uri(system)
    if uri is not None and (message := coding.code_problem(uri, code)):
        problems.append({"field": f"{prefix}code", "message": message, "code": "invalid"})
    if problems:
        raise ValidationFailed("The coding is not well-formed.", errors=problems)
    assert uri is not None
    code = coding.normalize_code(uri, code)
    held = _content_of(uri)
    if held is None:
        return Coding(uri, code, display)
    content, name = held
    concept = lookup(uri, code)

    def refuse(error: str, message: str) -> ValidationFailed:
        return ValidationFailed(
            message, code=error, errors=[{"field": f"{prefix}code", "message": message, "code": error.lower()}]
        )

    if concept is None:
        if content == models.Content.FRAGMENT:
            return Coding(uri, code, display)
        raise refuse("UNKNOWN_CODE", f"{code} is not a code of {name}")
    if not concept.active:
        raise refuse("INACTIVE_CODE", f"{concept.code} is no longer a code of {name}")
    if concept.heading or (selectable and not concept.selectable):
        raise refuse(
            "CODE_NOT_SELECTABLE",
            f"{concept.code} ({concept.display}) groups more specific codes: choose one of them",
        )
    return Coding(uri, concept.code, display or concept.display)


# --------------------------------------------------------------------------------------------------
# The drug catalogue and its safety knowledge, as an in-process index
# --------------------------------------------------------------------------------------------------


class DrugUnknown(NotFound):
    code, title = "DRUG_UNKNOWN", "Unknown drug"


class DrugKnowledgeMissing(ProblemError):
    """No drug release is loaded: a safety check cannot be trusted, so none is made (fail closed)."""

    status, code, title = 503, "DRUG_KNOWLEDGE_NOT_LOADED", "Drug knowledge not loaded"


_knowledge: tuple[Any, drug_safety.Knowledge] | None = None
_knowledge_lock = threading.Lock()


def drug_knowledge_release() -> models.DrugKnowledgeRelease | None:
    """The knowledge release in force (the latest loaded), or None."""
    return models.DrugKnowledgeRelease.objects.order_by("-loaded_at", "-id").first()


def drug_knowledge() -> drug_safety.Knowledge:
    """The index of the release in force, built once per process and per release: each call costs one
    indexed query (the latest release's id), a rebuild about as long as reading the ~2,000 rows."""
    global _knowledge
    latest = models.DrugKnowledgeRelease.objects.order_by("-loaded_at", "-id").values_list("id", "version").first()
    if latest is None:
        raise DrugKnowledgeMissing("no drug knowledge release is loaded: run `phb terminology load drugs`")
    cached = _knowledge
    if cached is not None and cached[0] == latest[0]:
        return cached[1]
    with _knowledge_lock:
        cached = _knowledge
        if cached is not None and cached[0] == latest[0]:
            return cached[1]
        knowledge = _build_knowledge(latest[1])
        _knowledge = (latest[0], knowledge)
        return knowledge


def _build_knowledge(version: str) -> drug_safety.Knowledge:
    drugs = []
    rows = models.Concept.objects.filter(system__uri=coding.DRUGS).values_list(
        "code", "display", "active", "properties"
    )
    for code, display, active, p in rows:
        drugs.append(
            drug_safety.Drug(
                code=code,
                name=display,
                synonyms=tuple(p.get("synonyms", ())),
                brands=tuple(p.get("brands", ())),
                atc=p.get("atc", ""),
                classes=tuple(p.get("classes", ())),
                forms=tuple(
                    drug_safety.DrugForm(f["form"], f["route"], tuple(f["strengths"]), f["unit"])
                    for f in p.get("forms", ())
                ),
                controlled=bool(p.get("controlled")),
                rxnorm=tuple(p.get("rxnorm", ())),
                ingredients=tuple(p.get("ingredients", ())),
                active=active,
            )
        )
    return drug_safety.Knowledge.build(
        version=version,
        drugs=drugs,
        classes=[
            drug_safety.DrugClass(
                code=c.code,
                name=c.name,
                kind=c.kind,
                members=tuple(c.members),
                includes=tuple(c.includes),
                aliases=tuple(c.aliases),
                atc=c.atc,
                severity=c.severity,
                advice=c.advice,
                source=c.source,
            )
            for c in models.DrugClass.objects.order_by("code")
        ],
        interactions=[
            drug_safety.InteractionRule(
                id=r.rule_id,
                a=r.a,
                b=r.b,
                severity=r.severity,
                effect=r.effect,
                mechanism=r.mechanism,
                management=r.management,
                source=r.source,
                note=r.note,
                group=r.group,
            )
            for r in models.DrugInteraction.objects.order_by("rule_id")
        ],
        allergy_cross=[
            drug_safety.AllergyCrossRule(
                id=r.rule_id,
                allergen=r.allergen,
                reacts_with=r.reacts_with,
                severity=r.severity,
                mechanism=r.mechanism,
                management=r.management,
                source=r.source,
            )
            for r in models.DrugAllergyCross.objects.order_by("rule_id")
        ],
        max_doses=[
            drug_safety.MaxDose(
                id=d.rule_id,
                drug=d.drug,
                route=d.route,
                amount=d.amount.normalize(),
                unit=d.unit,
                note=d.note,
                source=d.source,
            )
            for d in models.DrugMaxDose.objects.order_by("rule_id")
        ],
        cautions=[
            drug_safety.ReproductiveCaution(
                subject=c.subject,
                pregnancy=c.pregnancy,
                pregnancy_text=c.pregnancy_text,
                lactation=c.lactation,
                lactation_text=c.lactation_text,
                source=c.source,
            )
            for c in models.DrugReproductiveCaution.objects.order_by("subject")
        ],
        condition_rules=[
            drug_safety.ConditionRule(
                id=r.rule_id,
                subject=r.subject,
                icd10=tuple(r.icd10),
                condition=r.condition,
                severity=r.severity,
                mechanism=r.mechanism,
                management=r.management,
                source=r.source,
            )
            for r in models.DrugConditionRule.objects.order_by("rule_id")
        ],
    )


def drug_get(code: str) -> drug_safety.Drug:
    """The catalogue's drug `code` (one a newer release dropped included); DrugUnknown otherwise."""
    drug = drug_knowledge().drugs.get((code or "").strip()) if isinstance(code, str) else None
    if drug is None:
        raise DrugUnknown(f"{str(code)[:60]!r} is not a drug of the catalogue")
    return drug


def drug_search(query: str, limit: int = DEFAULT_LIMIT) -> list[drug_safety.Drug]:
    """Drugs by name, synonym or brand: whole term, then prefix, then every word a word's prefix;
    best first. ValidationFailed for an empty or over-long query or a bad limit."""
    query = (query or "").strip()
    if not query:
        raise ValidationFailed.field("q", "type a drug name, a synonym or a brand", code="required")
    if len(query) > MAX_QUERY:
        raise ValidationFailed.field("q", f"at most {MAX_QUERY} characters", code="max_length")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.field("limit", f"a number from 1 to {MAX_LIMIT}", code="invalid")
    if len(coding.fold(query).split()) > MAX_WORDS:
        raise ValidationFailed.field("q", f"at most {MAX_WORDS} words", code="max_length")
    return drug_knowledge().search(query, limit)


def drug_for_coding(value: Coding) -> drug_safety.Drug | None:
    """The drug a coding names: a code of the catalogue, or an RxNorm code the catalogue lists."""
    if value is None or not value.code:
        return None
    return drug_knowledge().drug_for_coding(Coding(coding.system_uri(value.system) or value.system, value.code))


def drug_for_text(text: str) -> drug_safety.Drug | None:
    """The drug whose name, synonym or brand is exactly `text` (whatever its case and accents)."""
    if not text or len(text) > MAX_QUERY:
        return None
    return drug_knowledge().drug_for_text(text)


MAX_PROPOSED = 50
MAX_CURRENT = 200
MAX_ALLERGIES = 100
MAX_CONDITIONS = 200


def safety_check(
    *,
    proposed: Sequence[drug_safety.ProposedDrug],
    current: Sequence[str],
    allergies: Sequence[drug_safety.AllergySubstance] = (),
    conditions: Sequence[str] = (),
    pregnant: bool = False,
    lactating: bool = False,
) -> list[drug_safety.SafetyAlert]:
    """The alerts of prescribing `proposed` to a patient on `current` drug codes, with `allergies`,
    active problems `conditions` (ICD-10-CM codes) and pregnancy or breastfeeding; most severe first.
    DrugUnknown for a proposed code the catalogue lacks; ValidationFailed for malformed input."""
    problems = []
    for name, values, most in (
        ("proposed", proposed, MAX_PROPOSED),
        ("current", current, MAX_CURRENT),
        ("allergies", allergies, MAX_ALLERGIES),
        ("conditions", conditions, MAX_CONDITIONS),
    ):
        if len(values) > most:
            problems.append({"field": name, "message": f"at most {most}", "code": "max_length"})
    keys = [p.key for p in proposed]
    if len(set(keys)) != len(keys) or not all(isinstance(k, str) and k for k in keys):
        problems.append({"field": "proposed", "message": "each proposed drug needs its own key", "code": "invalid"})
    for index, p in enumerate(proposed):
        if p.daily_amount is not None and (
            not isinstance(p.daily_amount, Decimal) or not p.daily_amount.is_finite() or p.daily_amount < 0
        ):
            problems.append(
                {"field": f"proposed[{index}].daily_amount", "message": "a number, zero or more", "code": "invalid"}
            )
    if problems:
        raise ValidationFailed("The safety check's input is not valid.", errors=problems)
    knowledge = drug_knowledge()
    for p in proposed:
        if p.drug_code not in knowledge.drugs:
            raise DrugUnknown(f"{str(p.drug_code)[:60]!r} is not a drug of the catalogue")
    return drug_safety.check(
        knowledge,
        proposed=proposed,
        current=[c for c in current if isinstance(c, str)],
        allergies=allergies,
        conditions=[c for c in conditions if isinstance(c, str)],
        pregnant=pregnant,
        lactating=lactating,
    )


def knowledge_version() -> str:
    """The knowledge release in force: record it with each check."""
    return drug_knowledge().version
