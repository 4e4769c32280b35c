"""Duplicate scoring at create against 100,000 patients (issue target: median under 50 ms): the blocking
query in raw SQL (reference) vs `mpi.find_matches`, which runs it through the ORM and scores every
candidate.

The demographics alternate between people on record as a second registration records them
(`population.recorded_again`: typos, swapped names, missing fields) and new people. (b)/(a) is what
scoring the candidates costs over finding them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import patient_fixtures

ITERATION_DIVISOR = 10
EACH = 100  # recorded again, and new
FOUND_AT_LEAST = 0.8  # of the recorded again, the original among the results

# The columns find_matches loads (mpi.find_matches's only()).
COLUMNS = (
    "id, hpn, given_name, family_name, other_names, birth_date, birth_date_estimated, sex, phone, "
    "nin_index, passport_index, ssn_index"
)


@dataclass(frozen=True)
class Case:
    demographics: Any  # matching.Demographics
    original: uuid.UUID | None  # the record of the same person, None for a new person


def cases(fixture: patient_fixtures.Fixture) -> list[Case]:
    from phb.demo import population

    rng = random.Random(patient_fixtures.SEED + 2)
    again = [
        Case(patient_fixtures.demographics(population.recorded_again(p, seed=i)), patient_fixtures.patient_id(p.key))
        for i, p in enumerate(rng.sample(fixture.people, EACH))
    ]
    new = [
        Case(patient_fixtures.demographics(p), None) for p in population.people(EACH, seed=patient_fixtures.SEED + 3)
    ]
    return [case for pair in zip(again, new, strict=True) for case in pair]


def blocking_sql(demographics: Any) -> tuple[str, dict[str, Any]]:
    """mpi._blocking's candidate query, written in SQL."""
    from phb.patients import matching

    given = matching.phonetic_key(demographics.given_name)
    family = matching.phonetic_key(demographics.family_name)
    others = sorted({matching.phonetic_key(o) for o in matching.fold(demographics.other_names).split()} - {""})
    params: dict[str, Any] = {"given": given, "family": family}
    conditions = [
        "(family_key = %(family)s AND given_key = %(given)s)",
        "(family_key = %(given)s AND given_key = %(family)s)",
    ]
    if others:
        conditions.append("(family_key = %(family)s AND given_key = ANY(%(others)s))")
        params["others"] = others
    if demographics.birth_date is not None:
        days = {demographics.birth_date}
        if swapped := matching.swapped_day_month(demographics.birth_date):
            days.add(swapped)
        conditions.append("(birth_date = ANY(%(days)s) AND (family_key = %(family)s OR given_key = %(given)s))")
        params["days"] = sorted(days)
    if demographics.phone:
        conditions.append("phone = %(phone)s")
        params["phone"] = demographics.phone
    for kind, index in sorted(demographics.identifiers.items()):
        conditions.append(f"{kind}_index = %({kind})s")
        params[kind] = index
    sql = (
        f"SELECT {COLUMNS} FROM patients_patient WHERE ({' OR '.join(conditions)}) AND merged_into_id IS NULL "
        f"LIMIT {matching.MAX_CANDIDATES}"
    )
    return sql, params


def _rotation(items: list[Case], fn: Callable[[Case], Any]) -> Callable[[], Any]:
    position = 0

    def run() -> Any:
        nonlocal position
        case = items[position % len(items)]
        position += 1
        return fn(case)

    return run


def _checker(items: list[Case], ids: Callable[[Case], set[uuid.UUID]]) -> Callable[[Any], None]:
    def check(_: Any) -> None:
        again = [case for case in items if case.original is not None]
        found = sum(case.original in ids(case) for case in again)
        if found < FOUND_AT_LEAST * len(again):
            raise CheckFailed(f"the original found for {found} of {len(again)} people recorded again")

    return check


def build(dsn: str) -> Workload:
    import psycopg

    from phb.patients import mpi

    fixture = patient_fixtures.ensure_patients()
    items = cases(fixture)
    conn = psycopg.connect(dsn, autocommit=True)

    def raw(case: Case) -> list[tuple[Any, ...]]:
        sql, params = blocking_sql(case.demographics)
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def phb(case: Case) -> list[Any]:
        return mpi.find_matches(case.demographics)

    return Workload(
        name="duplicate_scoring",
        description=f"duplicate check at create against {patient_fixtures.POPULATION:,} patients",
        reference=Variant(
            "a. raw SQL blocking query", _rotation(items, raw), _checker(items, lambda c: {r[0] for r in raw(c)})
        ),
        variants=[
            Variant(
                "b. mpi.find_matches (blocking + scoring)",
                _rotation(items, phb),
                _checker(items, lambda c: {m.patient.id for m in phb(c)}),
            )
        ],
        teardown=conn.close,
    )
