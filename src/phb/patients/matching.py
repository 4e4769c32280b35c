"""The master patient index: is this person already known?

Candidates are found by *blocking* (cheap indexed lookups: the phonetic key of either name, the date of
birth or its day/month swap, the phone number, an exact national identifier) and then *scored*, one
pair at a time, in points of evidence for and against being the same person, the way Fellegi and Sunter
weigh agreement on each field:

- names: Jaro-Winkler similarity of the folded names, also tried swapped (given <-> family) and against
  the other names (a middle name used as first name), with the phonetic keys agreeing as a floor;
- date of birth: exact, day and month swapped, one digit mistyped, or near when either is estimated;
- sex (when both are known), phone number, national identifiers (exact via their blind index; two
  different identifiers of the same kind are strong evidence of two people).

The sum falls into one of three bands: CERTAIN (link, do not create), POSSIBLE (warn the user and queue
for review), or no match. `bench/workloads/mpi_quality.py` measures precision and recall of the bands on
a generated population with known duplicates.

The phonetic key ("skeleton") is ours: Soundex and Metaphone were made for English spelling and split
common Nigerian variants (Mohammed/Muhammad, Chukwuemeka/Chukwuemeke, Aisha/Ayisha, Adebayo/Adebayor).
It folds accents and tone marks (Adéwálé -> adewale, Ṣeun -> seun), merges letters that spell the same
sound (ph/f, ck/c/k/q, sh/s, z/s, x/ks, kh/k, gh/g, th/t, dh/d, v/f), keeps the first letter (any vowel
becoming "a"), drops the other vowels and h, w, y, and collapses repeated letters.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import JaroWinkler

CERTAIN = 12.0
POSSIBLE = 7.0
MAX_CANDIDATES = 200

_VOWELS = set("aeiouy")
_SOUNDS = (
    ("ph", "f"),
    ("sh", "s"),
    ("kh", "k"),
    ("gh", "g"),
    ("th", "t"),
    ("dh", "d"),
    ("ck", "k"),
    ("q", "k"),
    ("x", "ks"),
    ("z", "s"),
    ("v", "f"),
)


def fold(text: str) -> str:
    """Lower case, without accents, tone marks or anything but letters and single spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^a-z]+", " ", letters).split())


def phonetic_key(name: str) -> str:
    """The skeleton of a (single) name: equal for common spelling variants of the same name."""
    word = fold(name).replace(" ", "")
    if not word:
        return ""
    # "ch" (as in Chukwu, Nkechi) is one sound of its own: keep it apart from c -> k.
    word = word.replace("ch", "\x01").replace("c", "k").replace("\x01", "c")
    for spelling, sound in _SOUNDS:
        word = word.replace(spelling, sound)
    first = "a" if word[0] in _VOWELS else word[0]
    skeleton = [first]
    for letter in word[1:]:
        if letter in _VOWELS or letter in "hwy":
            continue
        if letter != skeleton[-1]:
            skeleton.append(letter)
    return "".join(skeleton)


def search_text(given_name: str, family_name: str, other_names: str = "") -> str:
    """The folded full name that name search runs on (trigram index on PostgreSQL)."""
    return " ".join(p for p in (fold(given_name), fold(other_names), fold(family_name)) if p)


@dataclass(frozen=True)
class Demographics:
    """What is compared: the fields of a patient that is about to be created, or of one that exists."""

    given_name: str
    family_name: str
    other_names: str = ""
    birth_date: dt.date | None = None
    birth_date_estimated: bool = False
    sex: str = "unknown"
    phone: str = ""
    identifiers: dict[str, str] = field(default_factory=dict)  # kind -> blind index

    @classmethod
    def of(cls, patient: Any) -> Demographics:
        return cls(
            given_name=patient.given_name,
            family_name=patient.family_name,
            other_names=patient.other_names,
            birth_date=patient.birth_date,
            birth_date_estimated=patient.birth_date_estimated,
            sex=patient.sex,
            phone=patient.phone,
            identifiers={
                kind: value for kind in ("nin", "passport", "ssn") if (value := getattr(patient, f"{kind}_index", None))
            },
        )


@dataclass(frozen=True)
class Score:
    points: float
    reasons: tuple[str, ...]

    @property
    def band(self) -> str:
        if self.points >= CERTAIN:
            return "certain"
        if self.points >= POSSIBLE:
            return "possible"
        return "none"


def _similar(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    similarity = JaroWinkler.similarity(a, b)
    if phonetic_key(a) == phonetic_key(b):
        similarity = max(similarity, 0.93)
    return similarity


def _arrangements(a: Demographics, b: Demographics) -> tuple[float, float, str]:
    """The best way to line up `a`'s given and family names with any two of `b`'s names (given,
    family, other), and the other way round: (given similarity, family similarity, how)."""
    best = (0.0, 0.0, "")
    for x, y in ((a, b), (b, a)):
        given, family = fold(x.given_name), fold(x.family_name)
        names = [("g", fold(y.given_name)), ("f", fold(y.family_name))] + [
            ("o", o) for o in fold(y.other_names).split()
        ]
        for i, (pos_g, name_g) in enumerate(names):
            for j, (pos_f, name_f) in enumerate(names):
                if i == j:
                    continue
                penalty = 0.0 if (pos_g, pos_f) == ("g", "f") else 0.01
                s_g, s_f = _similar(given, name_g) - penalty, _similar(family, name_f) - penalty
                if s_g + s_f > best[0] + best[1]:
                    how = (
                        "names"
                        if (pos_g, pos_f) == ("g", "f")
                        else "names swapped"
                        if (pos_g, pos_f) == ("f", "g")
                        else "names in another order"
                    )
                    best = (s_g, s_f, how)
    return best


def _name_points(similarity: float) -> float:
    if similarity >= 0.97:
        return 3.0
    if similarity >= 0.92:
        return 2.25
    if similarity >= 0.88:
        return 1.25
    if similarity >= 0.84:
        return -1.0
    return -6.0


def _one_character_apart(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    diffs = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diffs) == 1:
        return True
    return len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]


def _birth_points(a: Demographics, b: Demographics) -> tuple[float, str]:
    if a.birth_date is None or b.birth_date is None:
        return 0.0, ""
    if a.birth_date == b.birth_date:
        return (
            (2.0, "estimated birth date") if a.birth_date_estimated or b.birth_date_estimated else (5.0, "birth date")
        )
    if a.birth_date_estimated or b.birth_date_estimated:
        years = abs(a.birth_date.year - b.birth_date.year)
        # An estimated age agrees with many people's: weak evidence for, strong only against.
        if years > 5:
            return -4.0, ""
        return {0: 0.5, 1: 0.0, 2: 0.0}.get(years, -1.0), "estimated age"
    if (a.birth_date.day, a.birth_date.month, a.birth_date.year) == (
        b.birth_date.month,
        b.birth_date.day,
        b.birth_date.year,
    ):
        return 4.0, "birth date with day and month swapped"
    if _one_character_apart(a.birth_date.isoformat(), b.birth_date.isoformat()):
        # A slip in the day or month is common; one in the year moves the age, as a namesake's would.
        same_year = a.birth_date.year == b.birth_date.year
        return (2.0 if same_year else 1.0), "birth date with one digit different"
    years = abs(a.birth_date.year - b.birth_date.year)
    return (-2.0, "") if years == 0 else (-3.5, "") if years == 1 else (-6.0, "")


def score(a: Demographics, b: Demographics) -> Score:
    """Points of evidence that `a` and `b` are the same person (see the module's description)."""
    points, reasons = 0.0, []
    shared_kinds = set(a.identifiers) & set(b.identifiers)
    same_identifier = [kind for kind in shared_kinds if a.identifiers[kind] == b.identifiers[kind]]
    if same_identifier:
        points += 15.0
        reasons.append(f"same {same_identifier[0]}")
    elif shared_kinds:
        points -= 10.0  # two different national identifiers of one kind: two people

    s_given, s_family, how = _arrangements(a, b)
    points += _name_points(s_given) + _name_points(s_family)
    if min(s_given, s_family) >= 0.88:
        reasons.append(how)
        if how != "names":
            points -= 1.0  # names in an unusual order: a little less sure
        if how == "names" and a.other_names and b.other_names:
            s_other = _similar(fold(a.other_names), fold(b.other_names))
            points += 1.5 if s_other >= 0.92 else -1.0 if s_other < 0.8 else 0.0

    birth, why = _birth_points(a, b)
    points += birth
    if birth > 0:
        reasons.append(why)

    known = {"female", "male"}
    if a.sex in known and b.sex in known:
        if a.sex == b.sex:
            points += 0.5
        else:
            points -= 4.0

    if a.phone and b.phone:
        if a.phone == b.phone:
            points += 2.0  # households share a phone: agreeing is evidence, not proof
            reasons.append("phone")
        else:
            points -= 0.5  # people change numbers: weak evidence
    return Score(points=round(points, 2), reasons=tuple(reasons))


def swapped_day_month(day: dt.date | None) -> dt.date | None:
    if day is None or day.day > 12 or day.day == day.month:
        return None
    return day.replace(month=day.day, day=day.month)
