"""NEWS2, the National Early Warning Score 2: a pure function of one set of adult observations.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
assessment of acute-illness severity in the NHS. Updated report of a working party. London: RCP, 2017.
Chart 1 ("The NEWS scoring system") gives the bands below; Chart 2 ("NEWS thresholds and triggers")
the clinical risk: aggregate 0-4 low, a score of 3 in any single parameter ("red score") low-medium,
aggregate 5-6 medium, 7 or more high. The SpO2 bands of scale 2 (for patients with hypercapnic
respiratory failure, target saturation 88-92 %) were checked against the chart and against Table 1
of the BTS/RCP Thorax letter reproducing it: 88-92 % scores 0, and so does 93 % or more breathing
air; on oxygen 93-94 % scores 1, 95-96 % scores 2, 97 % or more scores 3.

    Respiration rate /min   ≤8: 3   9-11: 1   12-20: 0   21-24: 2   ≥25: 3
    SpO2 scale 1 (%)        ≤91: 3  92-93: 2  94-95: 1   ≥96: 0
    SpO2 scale 2 (%)        ≤83: 3  84-85: 2  86-87: 1   88-92 (or ≥93 on air): 0
                            on oxygen: 93-94: 1  95-96: 2  ≥97: 3
    Air or oxygen           air: 0  oxygen: 2
    Systolic BP (mmHg)      ≤90: 3  91-100: 2  101-110: 1  111-219: 0  ≥220: 3
    Pulse /min              ≤40: 3  41-50: 1  51-90: 0  91-110: 1  111-130: 2  ≥131: 3
    Consciousness (ACVPU)   alert: 0  new confusion, voice, pain, unresponsive: 3
    Temperature (°C)        ≤35.0: 3  35.1-36.0: 1  36.1-38.0: 0  38.1-39.0: 1  ≥39.1: 2

The chart's bands are written for whole numbers (temperature: one decimal); a value between two
bands (35.05 °C) falls in the band whose upper bound it does not exceed, so the bands are contiguous.
NEWS2 is for adults (the RCP does not recommend it under 16 years, nor in pregnancy).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

Number = int | float | Decimal


class Consciousness(StrEnum):
    """ACVPU: alert, new confusion, responds to voice, responds to pain, unresponsive."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class Response(StrEnum):
    """The clinical response the aggregate calls for (Chart 2)."""

    LOW = "low"
    LOW_MEDIUM = "low_medium"
    MEDIUM = "medium"
    HIGH = "high"


PARAMETERS = (
    "respiration_rate",
    "spo2",
    "air_or_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)


@dataclass(frozen=True)
class Observations:
    """One complete set of observations. `spo2_scale` is 2 only for a patient with hypercapnic
    respiratory failure whose target saturation a clinician set at 88-92 %."""

    respiration_rate: Number
    spo2: Number
    on_oxygen: bool
    systolic_bp: Number
    pulse: Number
    consciousness: Consciousness | str
    temperature: Number
    spo2_scale: int = 1


@dataclass(frozen=True)
class Score:
    subscores: dict[str, int]
    aggregate: int
    single_parameter_3: bool  # a "red score": some parameter scores 3
    response: Response
    spo2_scale: int


def _banded(value: Number, bands: tuple[tuple[Number, int], ...], above: int) -> int:
    """The score of the first band whose upper bound (inclusive) `value` does not exceed."""
    for upper, score in bands:
        if value <= upper:
            return score
    return above


def respiration_rate_score(rate: Number) -> int:
    return _banded(rate, ((8, 3), (11, 1), (20, 0), (24, 2)), 3)


def spo2_scale_1_score(spo2: Number) -> int:
    return _banded(spo2, ((91, 3), (93, 2), (95, 1)), 0)


def spo2_scale_2_score(spo2: Number, *, on_oxygen: bool) -> int:
    if spo2 <= 92:
        return _banded(spo2, ((83, 3), (85, 2), (87, 1)), 0)
    if not on_oxygen:
        return 0  # 93 % or more breathing air
    return _banded(spo2, ((94, 1), (96, 2)), 3)


def air_or_oxygen_score(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0


def systolic_bp_score(systolic: Number) -> int:
    return _banded(systolic, ((90, 3), (100, 2), (110, 1), (219, 0)), 3)


def pulse_score(pulse: Number) -> int:
    return _banded(pulse, ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), 3)


def consciousness_score(level: Consciousness | str) -> int:
    level = Consciousness(level)
    return 0 if level == Consciousness.ALERT else 3


def temperature_score(celsius: Number) -> int:
    value = Decimal(str(celsius))
    return _banded(value, ((Decimal("35.0"), 3), (Decimal("36.0"), 1), (Decimal("38.0"), 0), (Decimal("39.0"), 1)), 2)


def response_level(aggregate: int, single_parameter_3: bool) -> Response:
    """Chart 2: 7 or more high; 5-6 medium; a red score with an aggregate under 5 low-medium; else low."""
    if aggregate >= 7:
        return Response.HIGH
    if aggregate >= 5:
        return Response.MEDIUM
    if single_parameter_3:
        return Response.LOW_MEDIUM
    return Response.LOW


def score(obs: Observations) -> Score:
    """Sub-scores, aggregate, red-score flag and clinical response of one complete set."""
    if obs.spo2_scale not in (1, 2):
        raise ValueError("the SpO2 scale is 1 or 2")
    spo2 = (
        spo2_scale_1_score(obs.spo2) if obs.spo2_scale == 1 else spo2_scale_2_score(obs.spo2, on_oxygen=obs.on_oxygen)
    )
    subscores = {
        "respiration_rate": respiration_rate_score(obs.respiration_rate),
        "spo2": spo2,
        "air_or_oxygen": air_or_oxygen_score(obs.on_oxygen),
        "systolic_bp": systolic_bp_score(obs.systolic_bp),
        "pulse": pulse_score(obs.pulse),
        "consciousness": consciousness_score(obs.consciousness),
        "temperature": temperature_score(obs.temperature),
    }
    aggregate = sum(subscores.values())
    red = any(value == 3 for value in subscores.values())
    return Score(
        subscores=subscores,
        aggregate=aggregate,
        single_parameter_3=red,
        response=response_level(aggregate, red),
        spo2_scale=obs.spo2_scale,
    )
