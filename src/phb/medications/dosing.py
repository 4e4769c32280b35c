"""The arithmetic of a structured dose, as pure functions: doses a day and their times of day for a
frequency, the quantity to supply, the daily amount in mg the maximum-dose check compares, and the
label text ("Take 1 tablet three times a day for 5 days").

The daily amount is computed only where the units say how: a dose counted in the form's unit
(tablets, capsules, ...) times a solid strength ("500 mg"); a dose in mL times a liquid strength
("125 mg/5 mL"); a dose in mg, g or micrograms directly. Anything else (units, puffs of an inhaler
with no per-puff strength, a PRN dose) is None: the check then skips the maximum-dose rule rather
than guess."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from phb.medications.models import Frequency

# Times of day of each frequency, in the organization's time zone.
TIMES: dict[str, tuple[dt.time, ...]] = {
    Frequency.OD: (dt.time(8),),
    Frequency.BD: (dt.time(8), dt.time(20)),
    Frequency.TDS: (dt.time(8), dt.time(14), dt.time(20)),
    Frequency.QDS: (dt.time(8), dt.time(12), dt.time(16), dt.time(20)),
    Frequency.AT_NIGHT: (dt.time(22),),
}
FIRST_DOSE = dt.time(8)  # every N hours starts from here
MASS_TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "mcg": Decimal("0.001"), "microgram": Decimal("0.001")}
MASS_TO_MG |= {"µg": Decimal("0.001"), "ug": Decimal("0.001"), "micrograms": Decimal("0.001")}
VOLUME_TO_ML = {"ml": Decimal(1), "l": Decimal(1000)}
_STRENGTH = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[a-zA-Zµ]+)\s*(?:/\s*(?P<per>\d+(?:\.\d+)?)?\s*(?P<per_unit>[a-zA-Z]+))?\s*$"
)
WORDS = {
    Frequency.OD: "once a day",
    Frequency.BD: "twice a day",
    Frequency.TDS: "three times a day",
    Frequency.QDS: "four times a day",
    Frequency.AT_NIGHT: "at night",
    Frequency.PRN: "when required",
    Frequency.ONCE: "once only",
}


def valid_interval(hours: int | None) -> bool:
    """Every N hours, with N dividing the day (1, 2, 3, 4, 6, 8, 12, 24): the times repeat daily."""
    return hours is not None and 1 <= hours <= 24 and 24 % hours == 0


def doses_per_day(frequency: str, interval_hours: int | None = None) -> int | None:
    """How many doses a day; None for "when required" and "once only" (no daily rhythm)."""
    if frequency in TIMES:
        return len(TIMES[frequency])
    if frequency == Frequency.EVERY_N_HOURS and valid_interval(interval_hours):
        assert interval_hours is not None
        return 24 // interval_hours
    return None


def times_of_day(frequency: str, interval_hours: int | None = None) -> tuple[dt.time, ...]:
    """The local times a dose is due: 3 a day are 08:00, 14:00, 20:00; every 6 hours from 08:00 are
    08:00, 14:00, 20:00, 02:00 (sorted). None for PRN and once-only doses."""
    if frequency in TIMES:
        return TIMES[frequency]
    if frequency == Frequency.EVERY_N_HOURS and valid_interval(interval_hours):
        assert interval_hours is not None
        return tuple(sorted(dt.time((FIRST_DOSE.hour + i * interval_hours) % 24) for i in range(24 // interval_hours)))
    return ()


def derived_quantity(
    *, dose_quantity: Decimal, frequency: str, interval_hours: int | None, duration_days: int | None
) -> Decimal | None:
    """The quantity to supply, in the dose's unit: dose x doses a day x days (whole units, rounded
    up), or the one dose of a once-only prescription. None when it cannot be derived (PRN, no duration)."""
    if frequency == Frequency.ONCE:
        return dose_quantity
    per_day = doses_per_day(frequency, interval_hours)
    if per_day is None or not duration_days:
        return None
    return (dose_quantity * per_day * duration_days).to_integral_value(rounding=ROUND_CEILING)


def parse_strength(strength: str) -> tuple[Decimal, str, Decimal | None, str] | None:
    """ "500 mg" → (500, "mg", None, ""); "125 mg/5 mL" → (125, "mg", 5, "ml"); None if unreadable."""
    match = _STRENGTH.match(strength or "")
    if match is None:
        return None
    try:
        amount = Decimal(match["amount"])
        per = Decimal(match["per"]) if match["per"] else (Decimal(1) if match["per_unit"] else None)
    except InvalidOperation:
        return None
    return amount, match["unit"].lower(), per, (match["per_unit"] or "").lower()


def dose_in_mg(*, dose_quantity: Decimal, dose_unit: str, strength: str, form_unit: str) -> Decimal | None:
    """One dose in mg, when the units allow it (see the module's docstring)."""
    unit = (dose_unit or "").strip().lower()
    if unit in MASS_TO_MG:
        return dose_quantity * MASS_TO_MG[unit]
    parsed = parse_strength(strength)
    if parsed is None:
        return None
    amount, amount_unit, per, per_unit = parsed
    if amount_unit not in MASS_TO_MG:
        return None
    mg = amount * MASS_TO_MG[amount_unit]
    if per is None:  # a solid strength: so many mg in each tablet, capsule, ...
        counted = {(form_unit or "").strip().lower(), "tablet", "tablets", "capsule", "capsules"} - {""}
        if unit in counted or unit.rstrip("s") in counted:
            return dose_quantity * mg
        return None
    if per_unit in VOLUME_TO_ML and unit in VOLUME_TO_ML and per > 0:
        return dose_quantity * VOLUME_TO_ML[unit] / (per * VOLUME_TO_ML[per_unit]) * mg
    return None


def daily_amount_mg(
    *,
    dose_quantity: Decimal,
    dose_unit: str,
    strength: str,
    form_unit: str,
    frequency: str,
    interval_hours: int | None = None,
) -> Decimal | None:
    """The amount a day in mg: one dose in mg x doses a day (a once-only dose counts once). None when
    not computable."""
    one = dose_in_mg(dose_quantity=dose_quantity, dose_unit=dose_unit, strength=strength, form_unit=form_unit)
    if one is None:
        return None
    per_day = 1 if frequency == Frequency.ONCE else doses_per_day(frequency, interval_hours)
    if per_day is None:
        return None
    return (one * per_day).quantize(Decimal("0.001"))


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _unit(unit: str, quantity: Decimal) -> str:
    unit = unit.strip()
    if quantity == 1 or not unit or unit.lower() in MASS_TO_MG or unit.lower() in VOLUME_TO_ML or unit.endswith("s"):
        return unit
    return unit + "s"


def directions(
    *,
    dose_quantity: Decimal,
    dose_unit: str,
    frequency: str,
    interval_hours: int | None = None,
    duration_days: int | None = None,
    route: str = "",
) -> str:
    """The label: "Take 1 tablet three times a day for 5 days"."""
    verb = {"topical": "Apply", "inhalation": "Inhale", "injection": "Inject"}.get(route.lower(), "Take")
    if frequency == Frequency.EVERY_N_HOURS and interval_hours:
        how_often = f"every {interval_hours} hours"
    else:
        how_often = WORDS.get(frequency, frequency)
    text = f"{verb} {_number(dose_quantity)} {_unit(dose_unit, dose_quantity)} {how_often}"
    if duration_days and frequency != Frequency.ONCE:
        text += f" for {duration_days} day{'s' if duration_days != 1 else ''}"
    return text


def supply(
    *,
    dose_quantity: Decimal,
    dose_unit: str,
    strength: str,
    form_unit: str,
    frequency: str,
    interval_hours: int | None = None,
    duration_days: int | None = None,
) -> tuple[Decimal, str] | None:
    """(quantity, unit) to supply for the course, or None when it cannot be derived. A dose written in
    mg of a solid form is supplied in the form's units (1 g of "500 mg" tablets three times a day for
    5 days: 30 tablets)."""
    unit = (dose_unit or "").strip().lower()
    parsed = parse_strength(strength)
    if unit in MASS_TO_MG and form_unit and parsed is not None and parsed[2] is None and parsed[1] in MASS_TO_MG:
        per_unit_mg = parsed[0] * MASS_TO_MG[parsed[1]]
        if per_unit_mg > 0:
            units = derived_quantity(
                dose_quantity=dose_quantity * MASS_TO_MG[unit] / per_unit_mg,
                frequency=frequency,
                interval_hours=interval_hours,
                duration_days=duration_days,
            )
            if units is not None:
                return units.to_integral_value(rounding=ROUND_CEILING), form_unit
            return None
    count = derived_quantity(
        dose_quantity=dose_quantity, frequency=frequency, interval_hours=interval_hours, duration_days=duration_days
    )
    return (count, dose_unit) if count is not None else None
