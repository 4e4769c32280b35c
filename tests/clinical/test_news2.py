"""NEWS2 at every boundary of every parameter of the RCP 2017 chart, on both SpO2 scales, and the
clinical response levels. The expected scores are the chart's (Chart 1 and Chart 2), typed here
independently of the module's bands."""

from decimal import Decimal

import pytest

from phb.clinical import news2
from phb.clinical.news2 import Consciousness, Observations, Response

# Each pair straddles a boundary of the chart: (value, expected score).
RESPIRATION = [(1, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)]
SPO2_SCALE_1 = [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SYSTOLIC = [(50, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (280, 3)]
PULSE = [(25, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)]
TEMPERATURE = [
    ("30.0", 3),
    ("35.0", 3),
    ("35.1", 1),
    ("36.0", 1),
    ("36.1", 0),
    ("38.0", 0),
    ("38.1", 1),
    ("39.0", 1),
    ("39.1", 2),
    ("42.0", 2),
]
# Scale 2, breathing air and on oxygen.
SPO2_SCALE_2_AIR = [(70, 3), (83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (97, 0), (100, 0)]
SPO2_SCALE_2_OXYGEN = [
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 1),
    (94, 1),
    (95, 2),
    (96, 2),
    (97, 3),
    (100, 3),
]


@pytest.mark.parametrize(("value", "expected"), RESPIRATION)
def test_respiration_rate(value, expected):
    assert news2.respiration_rate_score(value) == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_1)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_spo2_scale_1_does_not_depend_on_oxygen(value, expected, on_oxygen):
    result = news2.score(normal(spo2=value, on_oxygen=on_oxygen))
    assert result.subscores["spo2"] == expected
    assert result.subscores["air_or_oxygen"] == (2 if on_oxygen else 0)


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_2_AIR)
def test_spo2_scale_2_on_air(value, expected):
    assert news2.spo2_scale_2_score(value, on_oxygen=False) == expected
    assert news2.score(normal(spo2=value, spo2_scale=2)).subscores["spo2"] == expected


@pytest.mark.parametrize(("value", "expected"), SPO2_SCALE_2_OXYGEN)
def test_spo2_scale_2_on_oxygen(value, expected):
    assert news2.spo2_scale_2_score(value, on_oxygen=True) == expected
    result = news2.score(normal(spo2=value, spo2_scale=2, on_oxygen=True))
    assert result.subscores["spo2"] == expected
    assert result.subscores["air_or_oxygen"] == 2


def test_air_or_oxygen():
    assert news2.air_or_oxygen_score(False) == 0
    assert news2.air_or_oxygen_score(True) == 2


@pytest.mark.parametrize(("value", "expected"), SYSTOLIC)
def test_systolic_blood_pressure(value, expected):
    assert news2.systolic_bp_score(value) == expected


@pytest.mark.parametrize(("value", "expected"), PULSE)
def test_pulse(value, expected):
    assert news2.pulse_score(value) == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3), (Consciousness.ALERT, 0), (Consciousness.CONFUSION, 3)],
)
def test_consciousness(level, expected):
    assert news2.consciousness_score(level) == expected


def test_an_unknown_consciousness_level_is_refused():
    with pytest.raises(ValueError, match="'X' is not a valid Consciousness"):
        news2.consciousness_score("X")


@pytest.mark.parametrize(("value", "expected"), TEMPERATURE)
def test_temperature(value, expected):
    assert news2.temperature_score(Decimal(value)) == expected
    assert news2.temperature_score(float(value)) == expected


def test_values_between_the_charts_bands_fall_in_the_lower_band():
    assert news2.temperature_score(Decimal("35.05")) == 1
    assert news2.temperature_score(Decimal("38.04")) == 1
    assert news2.respiration_rate_score(Decimal("8.5")) == 1


def normal(**changes):
    values = {
        "respiration_rate": 16,
        "spo2": 97,
        "on_oxygen": False,
        "systolic_bp": 120,
        "pulse": 70,
        "consciousness": "A",
        "temperature": Decimal("37.0"),
        "spo2_scale": 1,
    }
    return Observations(**{**values, **changes})


def test_a_normal_set_scores_zero_and_low():
    result = news2.score(normal())
    assert result.aggregate == 0
    assert set(result.subscores) == set(news2.PARAMETERS)
    assert not result.single_parameter_3
    assert result.response == Response.LOW


@pytest.mark.parametrize(
    ("changes", "aggregate", "red", "response"),
    [
        ({"pulse": 95}, 1, False, Response.LOW),
        ({"pulse": 95, "temperature": Decimal("38.5"), "systolic_bp": 105, "spo2": 95}, 4, False, Response.LOW),
        ({"respiration_rate": 25}, 3, True, Response.LOW_MEDIUM),  # a red score alone
        ({"consciousness": "C", "pulse": 95}, 4, True, Response.LOW_MEDIUM),
        ({"pulse": 120, "systolic_bp": 95, "temperature": Decimal("38.5")}, 5, False, Response.MEDIUM),
        ({"respiration_rate": 25, "pulse": 120}, 5, True, Response.MEDIUM),  # aggregate 5 outranks the red score
        ({"pulse": 120, "systolic_bp": 95, "spo2": 94, "temperature": Decimal("38.5")}, 6, False, Response.MEDIUM),
        ({"pulse": 120, "systolic_bp": 95, "on_oxygen": True, "spo2": 95}, 7, False, Response.HIGH),
        (
            {"respiration_rate": 30, "spo2": 85, "on_oxygen": True, "systolic_bp": 85, "pulse": 140},
            14,
            True,
            Response.HIGH,
        ),
    ],
)
def test_aggregate_red_score_and_response(changes, aggregate, red, response):
    result = news2.score(normal(**changes))
    assert result.aggregate == aggregate
    assert result.single_parameter_3 is red
    assert result.response == response


@pytest.mark.parametrize(
    ("aggregate", "red", "expected"),
    [
        (0, False, Response.LOW),
        (4, False, Response.LOW),
        (3, True, Response.LOW_MEDIUM),
        (4, True, Response.LOW_MEDIUM),
        (5, False, Response.MEDIUM),
        (5, True, Response.MEDIUM),
        (6, True, Response.MEDIUM),
        (7, False, Response.HIGH),
        (20, True, Response.HIGH),
    ],
)
def test_response_levels_at_their_boundaries(aggregate, red, expected):
    assert news2.response_level(aggregate, red) == expected


def test_the_maximum_is_twenty():
    worst = normal(
        respiration_rate=4, spo2=80, on_oxygen=True, systolic_bp=70, pulse=30, consciousness="U", temperature=34
    )
    assert news2.score(worst).aggregate == 20


def test_an_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="scale is 1 or 2"):
        news2.score(normal(spo2_scale=3))
