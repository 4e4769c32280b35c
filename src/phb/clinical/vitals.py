"""The vital signs PHB records, as data: each one's LOINC code, UCUM unit, physiological bounds (a
value outside them is refused as a typing or device error), reference ranges by age band (a value
outside is flagged low or high) and critical limits (a value beyond them raises a critical alert).

Codes and units are LOINC's and UCUM's (docs/clinical.md lists them with every range). Reference
ranges are the usual paediatric and adult ranges of resuscitation and triage teaching; an adult's critical limits are the values NEWS2 scores 3 (a "red score"), so an alert and the early
warning score agree. A hospital changes them here, in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from phb.clinical.news2 import Consciousness

# ---- codes (LOINC) -------------------------------------------------------------------------------
SYSTOLIC_BP = "8480-6"
DIASTOLIC_BP = "8462-4"
HEART_RATE = "8867-4"
RESPIRATORY_RATE = "9279-1"
TEMPERATURE = "8310-5"
SPO2 = "59408-5"  # oxygen saturation in arterial blood by pulse oximetry
CONSCIOUSNESS = "67775-7"  # level of responsiveness (ACVPU)
WEIGHT = "29463-7"
HEIGHT = "8302-2"
BMI = "39156-5"
BLOOD_GLUCOSE = "2339-0"
PAIN_SCORE = "72514-3"  # pain severity, 0-10 verbal numeric rating


# ---- interpretation flags (HL7 v3 ObservationInterpretation) ------------------------------------
NORMAL = "N"
LOW = "L"
HIGH = "H"
CRITICAL_LOW = "LL"
CRITICAL_HIGH = "HH"
CRITICAL_ABNORMAL = "AA"  # a coded value that is critical (consciousness other than alert)
ABNORMAL = "A"
CRITICAL = frozenset({CRITICAL_LOW, CRITICAL_HIGH, CRITICAL_ABNORMAL})


@dataclass(frozen=True)
class Band:
    """Ranges for one age band: (low, high) inclusive reference range; critical when below
    `critical_below` or above `critical_above` (None: no such limit)."""

    reference: tuple[Decimal, Decimal] | None = None
    critical_below: Decimal | None = None
    critical_above: Decimal | None = None


@dataclass(frozen=True)
class VitalSign:
    name: str  # the field name in the API and in errors
    code: str
    unit: str  # UCUM
    display: str
    minimum: Decimal | None = None  # physiological bounds, inclusive
    maximum: Decimal | None = None
    whole: bool = False  # whole numbers only (counts and scores)
    decimals: int = 1
    coded: tuple[str, ...] = ()  # a coded value's allowed codes
    bands: dict[str, Band] = field(default_factory=dict)  # by age band name; missing: no flag


def _d(value: str | int) -> Decimal:
    return Decimal(str(value))


def _band(
    low: str | int | None, high: str | int | None, below: str | int | None = None, above: str | int | None = None
) -> Band:
    reference = (_d(low), _d(high)) if low is not None and high is not None else None
    return Band(
        reference=reference,
        critical_below=_d(below) if below is not None else None,
        critical_above=_d(above) if above is not None else None,
    )


# Age bands, youngest first: (name, upper bound in completed years, exclusive).
AGE_BANDS = (("infant", 1), ("toddler", 3), ("preschool", 6), ("school", 13), ("adolescent", 16), ("adult", None))
ADULT = "adult"
NEWS2_MIN_AGE_YEARS = 16


def _all_ages(band: Band) -> dict[str, Band]:
    return {name: band for name, _ in AGE_BANDS}


CATALOGUE: tuple[VitalSign, ...] = (
    VitalSign(
        "systolic_bp",
        SYSTOLIC_BP,
        "mm[Hg]",
        "Systolic blood pressure",
        _d(20),
        _d(300),
        whole=True,
        bands={
            "infant": _band(70, 100, below=60),
            "toddler": _band(80, 110, below=70),
            "preschool": _band(80, 110, below=70),
            "school": _band(90, 120, below=80),
            "adolescent": _band(100, 135, below=91, above=219),
            "adult": _band(100, 139, below=91, above=219),  # NEWS2 scores 3 at ≤90 and ≥220
        },
    ),
    VitalSign(
        "diastolic_bp",
        DIASTOLIC_BP,
        "mm[Hg]",
        "Diastolic blood pressure",
        _d(10),
        _d(200),
        whole=True,
        bands={
            "infant": _band(35, 65),
            "toddler": _band(40, 70),
            "preschool": _band(45, 75),
            "school": _band(50, 80),
            "adolescent": _band(60, 85, above=119),
            "adult": _band(60, 89, above=119),  # 120 or more: hypertensive emergency range
        },
    ),
    VitalSign(
        "heart_rate",
        HEART_RATE,
        "/min",
        "Heart rate",
        _d(20),
        _d(300),
        whole=True,
        bands={
            "infant": _band(100, 160, below=80, above=200),
            "toddler": _band(90, 150, below=70, above=180),
            "preschool": _band(80, 140, below=60, above=170),
            "school": _band(70, 120, below=55, above=150),
            "adolescent": _band(60, 100, below=41, above=130),
            "adult": _band(60, 100, below=41, above=130),  # NEWS2 scores 3 at ≤40 and ≥131
        },
    ),
    VitalSign(
        "respiratory_rate",
        RESPIRATORY_RATE,
        "/min",
        "Respiratory rate",
        _d(2),
        _d(80),
        whole=True,
        bands={
            "infant": _band(30, 60, below=20, above=70),
            "toddler": _band(24, 40, below=15, above=60),
            "preschool": _band(22, 34, below=12, above=50),
            "school": _band(18, 30, below=10, above=40),
            "adolescent": _band(12, 20, below=9, above=24),
            "adult": _band(12, 20, below=9, above=24),  # NEWS2 scores 3 at ≤8 and ≥25
        },
    ),
    VitalSign(
        "temperature",
        TEMPERATURE,
        "Cel",
        "Body temperature",
        _d("25.0"),
        _d("45.0"),
        bands=_all_ages(_band("36.1", "38.0", below="35.1", above="40.9")),  # NEWS2 scores 3 at ≤35.0
    ),
    VitalSign(
        "spo2",
        SPO2,
        "%",
        "Oxygen saturation (pulse oximetry)",
        _d(40),
        _d(100),
        whole=True,
        # Scale 1; on scale 2 (hypercapnic respiratory failure) see `spo2_band`.
        bands=_all_ages(_band(96, 100, below=92)),  # NEWS2 scale 1 scores 3 at ≤91
    ),
    VitalSign(
        "consciousness",
        CONSCIOUSNESS,
        "",
        "Level of consciousness (ACVPU)",
        coded=tuple(level.value for level in Consciousness),
    ),
    VitalSign("weight", WEIGHT, "kg", "Body weight", _d("0.2"), _d(500), decimals=2),
    VitalSign("height", HEIGHT, "cm", "Body height", _d(20), _d(272)),
    VitalSign(
        "bmi",
        BMI,
        "kg/m2",
        "Body mass index (derived)",
        bands={"adolescent": Band(), "adult": _band("18.5", "24.9")},
    ),
    VitalSign(
        "blood_glucose",
        BLOOD_GLUCOSE,
        "mg/dL",
        "Blood glucose",
        _d(10),
        _d(1500),
        whole=True,
        bands=_all_ages(_band(70, 140, below=54, above=400)),  # below 54: level 2 hypoglycaemia
    ),
    VitalSign(
        "pain_score",
        PAIN_SCORE,
        "{score}",
        "Pain score (0-10)",
        _d(0),
        _d(10),
        whole=True,
        bands=_all_ages(_band(0, 3)),
    ),
)
BY_NAME = {sign.name: sign for sign in CATALOGUE}
BY_CODE = {sign.code: sign for sign in CATALOGUE}
RECORDABLE = tuple(sign.name for sign in CATALOGUE if sign.name != "bmi")  # BMI is derived, never typed

# Scale 2 of SpO2 (hypercapnic respiratory failure, target 88-92 %): NEWS2 scale 2 scores 3 at ≤83.
SPO2_SCALE_2 = _band(88, 92, below=84)


def age_band(birth_date: dt.date | None, on: dt.date) -> str:
    """The age band on the day `on`; an unknown birth date is taken as an adult's (the ranges that
    alert soonest for most measurements, and the early warning score computed)."""
    if birth_date is None:
        return ADULT
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    for name, upper in AGE_BANDS:
        if upper is None or years < upper:
            return name
    return ADULT


def is_adult_for_news2(birth_date: dt.date | None, on: dt.date) -> bool:
    if birth_date is None:
        return True
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return years >= NEWS2_MIN_AGE_YEARS


@dataclass(frozen=True)
class Interpretation:
    flag: str
    reference: tuple[Decimal, Decimal] | None


def interpret(sign: VitalSign, value: Decimal | str, band_name: str, *, spo2_scale: int = 1) -> Interpretation:
    """The flag of a (valid) value: critical first, then outside the reference range, else normal."""
    if sign.coded:
        if sign.name == "consciousness":
            return Interpretation(NORMAL if value == Consciousness.ALERT else CRITICAL_ABNORMAL, None)
        return Interpretation(NORMAL, None)
    band = SPO2_SCALE_2 if sign.name == "spo2" and spo2_scale == 2 else sign.bands.get(band_name)
    if band is None:
        return Interpretation("", None)
    assert isinstance(value, Decimal)
    if band.critical_below is not None and value < band.critical_below:
        return Interpretation(CRITICAL_LOW, band.reference)
    if band.critical_above is not None and value > band.critical_above:
        return Interpretation(CRITICAL_HIGH, band.reference)
    if band.reference is not None:
        low, high = band.reference
        if value < low:
            return Interpretation(LOW, band.reference)
        if value > high:
            return Interpretation(HIGH, band.reference)
        return Interpretation(NORMAL, band.reference)
    return Interpretation("", None)
