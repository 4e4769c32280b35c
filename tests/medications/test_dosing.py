"""The arithmetic of a structured dose: the daily amount in mg the maximum-dose check compares (tablets
x a solid strength, mL x a liquid strength, mg, g and micrograms directly; None when the units do not
say), doses a day and their times, the quantity to supply, and the label's directions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from phb.medications import dosing

D = Decimal


@pytest.mark.parametrize(
    ("dose", "unit", "strength", "form_unit", "frequency", "interval", "expected"),
    [
        ("1", "tablet", "500 mg", "tablet", "TDS", None, D(1500)),  # 1 tablet x 500 mg x 3
        ("2", "tablets", "500 mg", "tablet", "QDS", None, D(4000)),
        ("1", "capsule", "250 mg", "capsule", "BD", None, D(500)),
        ("5", "mL", "125 mg/5 mL", "mL", "TDS", None, D(375)),  # 5 mL of 125 mg/5 mL x 3
        ("10", "ml", "250 mg/5 mL", "mL", "BD", None, D(1000)),
        ("2.5", "mL", "25 mg/mL", "mL", "OD", None, D("62.5")),
        ("1000", "mg", "500 mg", "tablet", "QH", 6, D(4000)),  # mg directly, every 6 hours: 4 a day
        ("1", "g", "500 mg", "tablet", "BD", None, D(2000)),
        ("100", "mcg", "100 micrograms", "puff", "BD", None, D("0.2")),
        ("1", "tablet", "1.2 g", "tablet", "OD", None, D(1200)),
        ("1", "tablet", "75 mg", "tablet", "ONCE", None, D(75)),  # once only: one dose
        ("1", "tablet", "500 mg", "tablet", "PRN", None, None),  # when required: no daily rhythm
        ("2", "puff", "0.4 mg/dose", "spray", "BD", None, None),  # a puff is not a dose unit we can weigh
        ("1", "tablet", "500 mg/125 mg", "tablet", "TDS", None, None),  # a combination's strength
        ("10", "units", "100 units/mL", "mL", "OD", None, None),
        ("1", "tablet", "", "tablet", "OD", None, None),
        ("5", "mL", "500 mg", "tablet", "OD", None, None),  # mL of a solid strength
    ],
)
def test_the_daily_amount_in_mg(dose, unit, strength, form_unit, frequency, interval, expected):
    got = dosing.daily_amount_mg(
        dose_quantity=D(dose),
        dose_unit=unit,
        strength=strength,
        form_unit=form_unit,
        frequency=frequency,
        interval_hours=interval,
    )
    assert got == expected


def test_times_of_day():
    assert dosing.times_of_day("TDS") == (dt.time(8), dt.time(14), dt.time(20))
    assert dosing.times_of_day("BD") == (dt.time(8), dt.time(20))
    assert dosing.times_of_day("ON") == (dt.time(22),)
    assert dosing.times_of_day("QH", 8) == (dt.time(0), dt.time(8), dt.time(16))
    assert dosing.times_of_day("QH", 5) == ()  # does not divide the day
    assert dosing.times_of_day("PRN") == ()
    assert dosing.doses_per_day("QDS") == 4
    assert dosing.doses_per_day("ONCE") is None


def test_the_quantity_to_supply():
    assert dosing.supply(
        dose_quantity=D(1), dose_unit="tablet", strength="500 mg", form_unit="tablet", frequency="TDS", duration_days=5
    ) == (D(15), "tablet")
    # 1 g of 500 mg tablets three times a day for 5 days: 30 tablets.
    assert dosing.supply(
        dose_quantity=D(1), dose_unit="g", strength="500 mg", form_unit="tablet", frequency="TDS", duration_days=5
    ) == (D(30), "tablet")
    assert dosing.supply(
        dose_quantity=D("2.5"),
        dose_unit="mL",
        strength="125 mg/5 mL",
        form_unit="mL",
        frequency="TDS",
        duration_days=7,
    ) == (D("53"), "mL")  # 52.5 rounded up
    assert dosing.supply(
        dose_quantity=D(1), dose_unit="tablet", strength="50 mg", form_unit="tablet", frequency="ONCE"
    ) == (D(1), "tablet")
    assert (
        dosing.supply(dose_quantity=D(1), dose_unit="tablet", strength="", form_unit="tablet", frequency="PRN") is None
    )
    assert (
        dosing.supply(dose_quantity=D(1), dose_unit="tablet", strength="", form_unit="tablet", frequency="OD") is None
    )  # no duration


def test_directions_on_the_label():
    assert (
        dosing.directions(dose_quantity=D(1), dose_unit="tablet", frequency="TDS", duration_days=5)
        == "Take 1 tablet three times a day for 5 days"
    )
    assert (
        dosing.directions(dose_quantity=D(2), dose_unit="tablet", frequency="QH", interval_hours=6, duration_days=1)
        == "Take 2 tablets every 6 hours for 1 day"
    )
    assert dosing.directions(dose_quantity=D("7.5"), dose_unit="mL", frequency="BD") == "Take 7.5 mL twice a day"
    assert dosing.directions(dose_quantity=D(1), dose_unit="tablet", frequency="PRN") == "Take 1 tablet when required"
    assert (
        dosing.directions(dose_quantity=D(1), dose_unit="application", frequency="BD", route="topical")
        == "Apply 1 application twice a day"
    )
