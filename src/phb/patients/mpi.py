"""The master patient index over the database: find the records that may be the same person as the
demographics given (blocking by indexed keys, then scoring each candidate, see `matching`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from phb.patients import matching
from phb.patients.models import Patient


@dataclass(frozen=True)
class Match:
    patient: Patient
    score: matching.Score

    @property
    def band(self) -> str:
        return self.score.band


def _blocking(demographics: matching.Demographics) -> Q:
    """Cheap, indexed conditions that every true duplicate should meet at least one of: both names
    sounding alike (or swapped), one name sounding alike with the same date of birth (or day and month
    swapped), a middle name used as given name, the same phone or national identifier."""
    given = matching.phonetic_key(demographics.given_name)
    family = matching.phonetic_key(demographics.family_name)
    others = {matching.phonetic_key(o) for o in matching.fold(demographics.other_names).split()} - {""}
    query = Q(family_key=family, given_key=given) | Q(family_key=given, given_key=family)
    if others:
        query |= Q(family_key=family, given_key__in=others)
    if demographics.birth_date is not None:
        days: set[dt.date] = {demographics.birth_date}
        if swapped := matching.swapped_day_month(demographics.birth_date):
            days.add(swapped)
        query |= Q(birth_date__in=days) & (Q(family_key=family) | Q(given_key=given))
    if demographics.phone:
        query |= Q(phone=demographics.phone)
    for kind, index in demographics.identifiers.items():
        query |= Q(**{f"{kind}_index": index})
    return query


def find_matches(
    demographics: matching.Demographics, *, exclude: Iterable[uuid.UUID] = (), include_all: bool = False
) -> list[Match]:
    """Records (never merged ones) in the possible or certain band, best first; every scored candidate
    with `include_all`."""
    candidates = (
        Patient.objects.filter(_blocking(demographics), merged_into__isnull=True)
        .exclude(id__in=list(exclude))
        .only(
            "id",
            "hpn",
            "given_name",
            "family_name",
            "other_names",
            "birth_date",
            "birth_date_estimated",
            "sex",
            "phone",
            "nin_index",
            "passport_index",
            "ssn_index",
        )[: matching.MAX_CANDIDATES]
    )
    matches = [Match(p, matching.score(demographics, matching.Demographics.of(p))) for p in candidates]
    if not include_all:
        matches = [m for m in matches if m.band != "none"]
    return sorted(matches, key=lambda m: -m.score.points)
