"""Value types other apps hold (`Coding`, `Concept`), the code systems PHB knows by name, and the text
normalization search and loading share.

A coding is system + code + display, as in FHIR. PHB knows a few systems by name (their canonical URI,
a short slug for URLs, the shape of their codes); it holds the concepts of some of them (see
`sources`). Any other absolute URI is a system too: its codes are stored as given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from phb.kernel.errors import NotFound

ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
SNOMED_CT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# PHB's own drug catalogue (generics, see `data/drugs/`): codes are lower-case slugs of the INN.
DRUGS = "https://phb.health/fhir/CodeSystem/drugs"

MAX_SYSTEM = 255
MAX_CODE = 40
MAX_DISPLAY = 500


class UnknownCodeSystem(NotFound):
    """A system PHB does not know by that name, or holds no concepts of (it cannot search it)."""

    code, title = "UNKNOWN_CODE_SYSTEM", "Unknown code system"


@dataclass(frozen=True, slots=True)
class Coding:
    """A code of a code system, with its human-readable display."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True, slots=True)
class Concept:
    """A concept PHB holds: what `lookup` and `search` return."""

    system: str
    code: str
    display: str
    selectable: bool  # may be recorded as is (ICD-10-CM: billable)
    level: str = ""
    parent_code: str = ""
    active: bool = True
    heading: bool = False  # a chapter or block: names a range of codes, is not one
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def coding(self) -> Coding:
        return Coding(self.system, self.code, self.display)


def _loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the Luhn algorithm over the digits before the dash)."""
    number, check = code.split("-")
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return (10 - total % 10) % 10 == int(check)


@dataclass(frozen=True, slots=True)
class KnownSystem:
    uri: str
    slug: str
    name: str
    pattern: re.Pattern[str]  # the shape of a code, checked before any lookup
    example: str
    check: Callable[[str], bool] = lambda code: True


KNOWN_SYSTEMS = (
    KnownSystem(
        ICD10_CM, "icd10-cm", "ICD-10-CM", re.compile(r"[A-Z]([0-9][0-9A-Z]|[A-Z][0-9])(\.[0-9A-Z]{1,4})?"), "E11.9"
    ),
    KnownSystem(LOINC, "loinc", "LOINC", re.compile(r"[0-9]{1,7}-[0-9]"), "8480-6", _loinc_check_digit_ok),
    KnownSystem(SNOMED_CT, "snomed-ct", "SNOMED CT", re.compile(r"[1-9][0-9]{5,17}"), "44054006"),
    KnownSystem(RXNORM, "rxnorm", "RxNorm", re.compile(r"[1-9][0-9]{0,9}"), "860975"),
    KnownSystem(DRUGS, "drugs", "PHB drug catalogue", re.compile(r"[a-z0-9]+(-[a-z0-9]+)*"), "amoxicillin"),
)
BY_SLUG = {s.slug: s for s in KNOWN_SYSTEMS}
BY_URI = {s.uri: s for s in KNOWN_SYSTEMS}
# FHIR's `uri`: absolute, no whitespace. Codings name systems by http(s) URL or by OID/UUID URN.
_SYSTEM_URI = re.compile(r"(https?://[^\s/]+(/[^\s]*)?|urn:oid:[0-2](\.(0|[1-9][0-9]*))+|urn:uuid:[0-9a-f-]{36})")
# FHIR's `code`: no leading or trailing whitespace, single spaces inside.
_FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def system_uri(system: str) -> str | None:
    """The canonical URI for a slug PHB knows ("icd10-cm") or for an absolute URI; None for anything else."""
    system = (system or "").strip()
    if system in BY_SLUG:
        return BY_SLUG[system].uri
    if len(system) <= MAX_SYSTEM and _SYSTEM_URI.fullmatch(system):
        return system
    return None


def system_problem(system: str) -> str | None:
    """Why `system` cannot name a code system, or None."""
    if not system:
        return "name the code system (its URI, e.g. http://snomed.info/sct)"
    if system_uri(system) is None:
        return "the code system must be an absolute URI (e.g. http://snomed.info/sct) or a known short name"
    return None


def code_problem(uri: str, code: str) -> str | None:
    """Why `code` cannot be a code of the system at `uri`, or None (it may still be unknown to it)."""
    if not code:
        return "give the code"
    if len(code) > MAX_CODE:
        return f"a code has at most {MAX_CODE} characters"
    if _CONTROL.search(code) or not _FHIR_CODE.fullmatch(code):
        return "a code has no leading, trailing or repeated spaces and no control characters"
    known = BY_URI.get(uri)
    if known is not None and not (known.pattern.fullmatch(normalize_code(uri, code)) and known.check(code)):
        return f"{code!r} is not a well-formed {known.name} code (e.g. {known.example})"
    return None


def display_problem(display: str) -> str | None:
    if len(display) > MAX_DISPLAY:
        return f"a display has at most {MAX_DISPLAY} characters"
    if _CONTROL.search(display):
        return "a display has no control characters"
    return None


def normalize_code(uri: str, code: str) -> str:
    """The code as the system writes it: ICD-10-CM in capitals, with its dot ("e119" -> "E11.9")."""
    code = code.strip()
    if uri == ICD10_CM:
        code = code.upper().replace(" ", "")
        if "." not in code and len(code) > 3:
            code = f"{code[:3]}.{code[3:]}"
    return code


_NOT_KEY = str.maketrans({chr(i): None for i in range(128) if not (chr(i).isdigit() or chr(i).isupper())})


def code_key(code: str) -> str:
    """A code reduced to capitals and digits, for prefix search: "e11.9", "E119" and "E11.9" are one."""
    return code.upper().translate(_NOT_KEY)


# Every ASCII character but letters and digits separates words; an apostrophe joins them.
_SEPARATE = str.maketrans({chr(i): " " for i in range(128) if not chr(i).isalnum()} | {"'": None})


def fold(text: str) -> str:
    """Text as lower-case ASCII words separated by single spaces: accents dropped, apostrophes joined
    ("Ménière's" -> "menieres"), anything else not a letter or a digit a separator. Displays are
    folded when loaded, queries when searched, so that both meet on the same words."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.lower().translate(_SEPARATE).split())
