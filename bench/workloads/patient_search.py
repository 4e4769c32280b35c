"""Staff name search among 100,000 patients (issue target: median under 30 ms, p95 under 60 ms): raw SQL
(reference) vs `selectors.patient_search` as a receptionist of the organization most of them are
registered at.

Queries are drawn from the patients registered there, in rotation, a third each: the exact full name
(with the other names, as on the record), the given and family name with a typo in one of them, and
one name only. The reference is the SQL the selector's search comes down to (trigram word similarity or
the phonetic keys, registered here and visible, not merged; the closest 25 by trigram similarity, with
the same planner setting): what remains is the selector's own cost (the ORM, the tenancy binding, the
break-the-glass lookup, the audit record, the ranking in Python).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import patient_fixtures

ITERATION_DIVISOR = 10  # each search costs milliseconds, not microseconds
QUERIES_PER_KIND = 40
LIMIT = 25


@dataclass(frozen=True)
class Query:
    text: str
    kind: str  # exact | typo | one name
    patient_id: uuid.UUID
    search_name: str  # the searched patient's, as stored


def _typo(rng: random.Random, word: str) -> str:
    """Two neighbouring letters swapped inside the word (or a letter doubled in a short one)."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def queries(fixture: patient_fixtures.Fixture) -> list[Query]:
    from phb.patients import matching

    rng = random.Random(patient_fixtures.SEED + 1)
    out = []
    for i, key in enumerate(rng.sample(fixture.home_keys, 3 * QUERIES_PER_KIND)):
        p = fixture.people[key]
        stored = matching.search_text(p.given_name, p.family_name, p.other_names)
        if i % 3 == 0:
            text, kind = " ".join(n for n in (p.given_name, p.other_names, p.family_name) if n), "exact"
        elif i % 3 == 1:
            given, family = p.given_name, p.family_name
            if rng.random() < 0.5:
                given = _typo(rng, given)
            else:
                family = _typo(rng, family)
            text, kind = f"{given} {family}", "typo"
        else:
            text, kind = (p.family_name if rng.random() < 0.5 else p.given_name), "one name"
        out.append(Query(text, kind, patient_fixtures.patient_id(key), stored))
    return out


# `search_name %> q` is what Django's trigram_word_similar lookup writes (word_similarity(q, name) above
# pg_trgm.word_similarity_threshold), or'ed with any word's phonetic key (selectors._name_filter).
RAW_NAME_SQL = (
    "SELECT p.id, p.search_name FROM patients_patientregistration r "
    "JOIN patients_patient p ON p.id = r.patient_id "
    "WHERE r.organization_id = %(org)s AND r.status IN ('pending', 'approved') AND p.merged_into_id IS NULL "
    "AND (p.search_name %%> %(q)s OR p.family_key = ANY(%(keys)s) OR p.given_key = ANY(%(keys)s)) {also}"
    "ORDER BY similarity(p.search_name, %(q)s) DESC, r.created_at DESC LIMIT %(limit)s"
)


def raw_name_search(conn: Any, organization_id: uuid.UUID, text: str, *, also: str = "", **params: Any) -> list[Any]:
    """The selector's name search in raw SQL (`also`: more conditions, with their `params`)."""
    from phb.patients import matching

    folded = matching.fold(text)
    keys = sorted({matching.phonetic_key(w) for w in folded.split()})
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # as the selector does (see _index_scans_preferred)
        sql = RAW_NAME_SQL.format(also=also)
        cur.execute(sql, {"org": organization_id, "q": folded, "keys": keys, "limit": LIMIT, **params})
        return cur.fetchall()


def _rotation(items: list[Query], search: Callable[[Query], Any]) -> Callable[[], Any]:
    position = 0

    def run() -> Any:
        nonlocal position
        query = items[position % len(items)]
        position += 1
        return search(query)

    return run


def _checker(items: list[Query], search: Callable[[Query], list[tuple[uuid.UUID, str]]]) -> Callable[[Any], None]:
    """Every exact full name finds its patient; with more than 25 namesakes, 25 of them."""

    def check(_: Any) -> None:
        for query in items:
            found = search(query)
            if not found:
                raise CheckFailed(f"{query.kind} {query.text!r}: nothing found")
            if len(found) > LIMIT:
                raise CheckFailed(f"{query.text!r}: {len(found)} results, more than {LIMIT}")
            if query.kind != "exact" or query.patient_id in {pid for pid, _ in found}:
                continue
            if len(found) < LIMIT or any(name != query.search_name for _, name in found):
                raise CheckFailed(f"{query.text!r}: the patient is not among the {len(found)} results")

    return check


def build(dsn: str) -> Workload:
    import psycopg

    from phb.accounts.roles import permissions_for
    from phb.kernel.context import Ctx
    from phb.patients import selectors

    fixture = patient_fixtures.ensure_patients()
    items = queries(fixture)
    receptionist = Ctx(
        actor_id=uuid.uuid5(patient_fixtures.NAMESPACE, "receptionist"),
        organization_id=fixture.home,
        roles=frozenset({"receptionist"}),
        permissions=permissions_for(["receptionist"]),
        ip="127.0.0.1",
    )
    conn = psycopg.connect(dsn, autocommit=True)

    def raw(query: Query) -> list[tuple[uuid.UUID, str]]:
        return raw_name_search(conn, fixture.home, query.text)

    def phb(query: Query) -> list[tuple[uuid.UUID, str]]:
        return [(f.patient.id, f.patient.search_name) for f in selectors.patient_search(ctx=receptionist, q=query.text)]

    return Workload(
        name="patient_search",
        description=f"staff name search among {patient_fixtures.POPULATION:,} patients (exact, typo, one name)",
        reference=Variant("a. raw SQL (trigram + phonetic keys)", _rotation(items, raw), _checker(items, raw)),
        variants=[Variant("b. selectors.patient_search", _rotation(items, phb), _checker(items, phb))],
        teardown=conn.close,
    )
