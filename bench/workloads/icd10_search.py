"""ICD-10-CM search among all 98,466 concepts (issue target: median under 20 ms): raw SQL (reference)
vs `terminology.public.search`, for the codes a clinician types and, separately, for words.

Queries come in rotation from two realistic lists: codes and code prefixes as typed ("E11", "e11.9",
"E119", "S72.0", ...), and words in any order, each the start of a word ("diab mell typ 2", "fracture
femur", ...). The reference is the SQL the search comes down to (the B-tree index on the code key for
codes, the full-text GIN index for words, the same ranking and limit), sent through psycopg with the
text already folded: what remains is the search's own cost (telling codes from words, folding the text,
the ORM, building the results). Both must return the same codes in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.runner import CheckFailed, Variant, Workload

ITERATION_DIVISOR = 10  # each search costs about a millisecond
LIMIT = 20
CODES = [
    "E11",
    "e11.9",
    "E119",
    "I10",
    "J45.909",
    "S72.0",
    "O80",
    "Z00.00",
    "B20",
    "R50.9",
    "M54.5",
    "N39.0",
    "K21.9",
    "F32.A",
    "A09",
    "B54",
    "D57",
    "O14.1",
    "J18",
    "S06.0X0A",
]
WORDS = [
    "diab mell typ 2",
    "fracture femur",
    "hypertension",
    "asthma",
    "malaria",
    "chest pain",
    "pneumonia",
    "urinary tract infection",
    "low back pain",
    "hiv",
    "sickle cell",
    "typhoid fever",
    "pre eclampsia",
    "gastroenteritis",
    "otitis media",
    "heart failure",
    "migraine",
    "depress episode",
    "neonatal jaundice",
    "tuberculosis lung",
]
# What the first results must hold, so that a fast wrong answer is not timed.
EXPECTED = {"e11.9": "E11.9", "E119": "E11.9", "B20": "B20", "diab mell typ 2": "E11.9", "chest pain": "R07.9"}

# The same columns the search reads, so that the ratio is the search's own cost.
COLUMNS = "c.code, c.display, c.selectable, c.level, c.parent_code, c.active, c.heading, c.properties"
CODE_SQL = f"""
SELECT {COLUMNS} FROM terminology_concept c JOIN terminology_codesystem s ON s.id = c.system_id
WHERE s.uri = %(uri)s AND c.active AND NOT c.heading AND c.code_key LIKE %(prefix)s
ORDER BY (c.code_key = %(key)s) DESC, c.selectable DESC, length(c.code_key), c.code_key
LIMIT %(limit)s
"""
WORDS_SQL = f"""
SELECT {COLUMNS} FROM terminology_concept c JOIN terminology_codesystem s ON s.id = c.system_id
WHERE s.uri = %(uri)s AND c.active AND NOT c.heading
  AND to_tsvector('simple'::regconfig, COALESCE(c.search_text, '')) @@ to_tsquery('simple'::regconfig, %(query)s)
ORDER BY c.selectable DESC, CASE WHEN c.search_text LIKE ANY(%(leading)s) THEN 0 ELSE 1 END,
         length(c.display), c.code_key
LIMIT %(limit)s
"""


def _rotation(items: list[str], search: Callable[[str], list[str]]) -> Callable[[], list[str]]:
    position = 0

    def run() -> list[str]:
        nonlocal position
        text = items[position % len(items)]
        position += 1
        return search(text)

    return run


def _checker(items: list[str], search: Callable[[str], list[str]], reference: Callable[[str], list[str]]):
    def check(_: Any) -> None:
        for text in items:
            found = search(text)
            if not found:
                raise CheckFailed(f"{text!r}: nothing found")
            if text in EXPECTED and EXPECTED[text] not in found[:10]:
                raise CheckFailed(f"{text!r}: {EXPECTED[text]} is not among the first 10 of {found}")
            if found != reference(text):
                raise CheckFailed(f"{text!r}: the search and the raw SQL disagree")

    return check


def build(dsn: str) -> list[Workload]:
    import psycopg

    from phb.kernel.context import Ctx
    from phb.terminology import coding, public, selectors, services

    loaded = services.code_system_load(ctx=Ctx.system(reason="bench: ICD-10-CM"), slug="icd10-cm")
    if loaded.concepts < 98_000:
        raise CheckFailed(f"ICD-10-CM holds {loaded.concepts} concepts")
    # Server-side parameters, never prepared: a generic plan of `LIKE $1` could not use the index.
    conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
    conn.execute("ANALYZE terminology_concept")

    def raw(text: str) -> list[str]:
        text = text.strip()
        rows: list[tuple[Any, ...]] = []
        if selectors._CODE_LIKE.fullmatch(text):
            key = coding.code_key(text)
            params = {"uri": public.ICD10_CM, "prefix": key + "%", "key": key, "limit": LIMIT}
            rows = conn.execute(CODE_SQL, params).fetchall()
        if not rows:
            words = coding.fold(text).split()
            params = {
                "uri": public.ICD10_CM,
                "query": selectors.tsquery(words),
                "leading": [w + "%" for w in words],
                "limit": LIMIT,
            }
            rows = conn.execute(WORDS_SQL, params).fetchall()
        return [row[0] for row in rows]

    def phb(text: str) -> list[str]:
        return [c.code for c in public.search("icd10-cm", text, LIMIT)]

    return [
        Workload(
            name=f"icd10_search_{kind}",
            description=f"ICD-10-CM search among {loaded.concepts:,} concepts: {len(items)} {label}, in rotation",
            reference=Variant("a. raw SQL (same query and ranking)", _rotation(items, raw), _checker(items, raw, raw)),
            variants=[
                Variant("b. terminology.public.search", _rotation(items, phb), _checker(items, phb, raw)),
            ],
            teardown=conn.close if kind == "words" else None,
        )
        for kind, items, label in (("codes", CODES, "codes and code prefixes"), ("words", WORDS, "word queries"))
    ]
