"""How right the master patient index is, not how fast (issue target: precision at least 0.98 and recall
at least 0.90 for the "possible" band).

Through `mpi.find_matches` on PostgreSQL: 2,000 people on record as a second registration records them
again (`population.recorded_again`: typos, spelling variants, swapped names or day and month, missing or
estimated birth dates, new phones) and 2,000 new people. Twice: with 20,000 on record (the issue's
setting) and with all 100,000. The generated names come from short lists, so a larger registry holds
many more namesakes, the people a record without a birth date cannot be told apart from.

For 20,000, the other 80,000 are marked merged (find_matches skips merged records) in a transaction that
is rolled back. For each band (predicted "possible or certain", and "certain" alone): a true positive is
a recorded-again person whose original is matched in that band, a false negative one whose original is
not, a false positive any other record matched in that band (for a new person, every record matched).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from bench.runner import CheckFailed, Quality
from bench.workloads import patient_fixtures

AGAIN = 2000
NEW = 2000
SMALL_REGISTRY = 20_000
TARGETS = {"possible": {"precision": 0.98, "recall": 0.90}}
BANDS = {"possible": ("possible", "certain"), "certain": ("certain",)}


def _hide_all_but(on_record: int) -> None:
    """Mark the bench patients beyond the first `on_record` as merged (inside the caller's transaction)."""
    from django.db import connection

    hidden = [patient_fixtures.patient_id(key) for key in range(on_record, patient_fixtures.POPULATION)]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patients_patient SET merged_into_id = %s WHERE id = ANY(%s)",
            [patient_fixtures.patient_id(0), hidden],
        )
        if cursor.rowcount != len(hidden):
            raise CheckFailed(f"{cursor.rowcount} records hidden instead of {len(hidden)}")


def measure(on_record: int) -> dict[str, Any]:
    from django.db import transaction

    from phb.demo import population
    from phb.patients import mpi
    from phb.patients.models import Patient

    fixture = patient_fixtures.ensure_patients()
    rng = random.Random(patient_fixtures.SEED + 4)
    again = [
        (population.recorded_again(p, seed=patient_fixtures.SEED + i), patient_fixtures.patient_id(p.key))
        for i, p in enumerate(rng.sample(fixture.people[:on_record], AGAIN))
    ]
    new = population.people(NEW, seed=patient_fixtures.SEED + 5)
    counts = {band: {"true_positive": 0, "false_positive": 0, "false_negative": 0} for band in BANDS}
    # What the new registration said of the birth date, for the possible band's false positives.
    causes = {"no birth date": 0, "estimated birth date": 0, "birth date given": 0}

    def tally(person: Any, matches: list[Any], original: uuid.UUID | None) -> None:
        for band, predicted in BANDS.items():
            found = {m.patient.id for m in matches if m.band in predicted}
            if original is not None:
                counts[band]["true_positive" if original in found else "false_negative"] += 1
            counts[band]["false_positive"] += len(found - {original})
        wrong = len({m.patient.id for m in matches} - {original})
        if person.birth_date is None:
            causes["no birth date"] += wrong
        elif person.birth_date_estimated:
            causes["estimated birth date"] += wrong
        else:
            causes["birth date given"] += wrong

    with transaction.atomic():
        if on_record < patient_fixtures.POPULATION:
            _hide_all_but(on_record)
        originals = {original for _, original in again}
        if Patient.objects.filter(id__in=originals, merged_into__isnull=True).count() != len(originals):
            raise CheckFailed("some of the people recorded again are not on record: the figures would mean nothing")
        for person, original in again:
            tally(person, mpi.find_matches(patient_fixtures.demographics(person)), original)
        for person in new:
            tally(person, mpi.find_matches(patient_fixtures.demographics(person)), None)
        transaction.set_rollback(True)

    bands = {}
    for band, c in counts.items():
        tp, fp, fn = c["true_positive"], c["false_positive"], c["false_negative"]
        if tp + fn != AGAIN:
            raise CheckFailed(f"{band}: {tp + fn} people recorded again counted instead of {AGAIN}")
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn)
        target = TARGETS.get(band)
        met = None if target is None else precision >= target["precision"] and recall >= target["recall"]
        bands[band] = {**c, "precision": round(precision, 4), "recall": round(recall, 4), "target": target}
        bands[band]["meets_target"] = met
    note = ", ".join(f"{n} with {cause}" for cause, n in causes.items())
    return {
        "on_record": on_record,
        "recorded_again": AGAIN,
        "new_people": NEW,
        "bands": bands,
        "false_positives_by_birth_date": causes,
        "notes": [f"possible band's false positives, by what the new registration gave: {note}"],
    }


def _measure(on_record: int) -> Callable[[], dict[str, Any]]:
    return lambda: measure(on_record)


def build(dsn: str) -> list[Quality]:
    return [
        Quality(
            name=f"mpi_quality_{on_record // 1000}k",
            description=(
                f"master patient index: {AGAIN:,} people recorded again and {NEW:,} new people against "
                f"{on_record:,} on record"
            ),
            measure=_measure(on_record),
        )
        for on_record in (SMALL_REGISTRY, patient_fixtures.POPULATION)
    ]
