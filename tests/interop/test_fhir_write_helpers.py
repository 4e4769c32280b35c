"""The helpers every `from_fhir` mapper shares: references, dates, codings, and their errors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from phb.interop.fhir import common
from phb.interop.fhir.outcome import FhirError
from phb.interop.fhir.registry import REGISTRY, WriteDef


def test_a_literal_reference_gives_its_id_and_anything_else_is_refused():
    pid = uuid.uuid4()
    assert common.reference_id({"reference": f"Patient/{pid}"}, "Patient", "Observation.subject") == pid
    assert common.reference_id({"reference": f"https://x/fhir/r4/Patient/{pid}"}, "Patient", "x") == pid
    assert common.reference_id(None, "Encounter", "Observation.encounter", required=False) is None
    for value in (None, {"reference": f"Group/{pid}"}, {"reference": "Patient/12"}, {"display": "x"}, "Patient/1"):
        with pytest.raises(FhirError) as caught:
            common.reference_id(value, "Patient", "Observation.subject")
        assert (caught.value.status, caught.value.code) == (400, "INVALID_REFERENCE")
        assert caught.value.expression == "Observation.subject"


def test_dates_and_instants():
    assert common.parse_instant("2024-03-01", "x") == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    moment = common.parse_instant("2024-03-01T10:20:30+01:00", "x")
    assert moment.utcoffset() == dt.timedelta(hours=1)
    assert moment.hour == 10
    assert common.parse_instant("2024-03-01T10:20:30.123Z", "x").tzinfo is not None
    assert common.parse_date("1980-02-29", "Patient.birthDate") == dt.date(1980, 2, 29)
    for bad in ("2024-03-01T10:20:30", "yesterday", 20240301, "2023-02-30"):
        with pytest.raises(FhirError) as caught:
            common.parse_instant(bad, "Observation.effectiveDateTime")
        assert (caught.value.code, caught.value.expression) == ("INVALID_RESOURCE", "Observation.effectiveDateTime")
    for bad in ("1981-02-29", "1980", None):
        with pytest.raises(FhirError):
            common.parse_date(bad, "Patient.birthDate")


def test_first_coding():
    concept = {
        "coding": [{"system": "http://snomed.info/sct", "code": "1"}, {"system": "http://loinc.org", "code": "8867-4"}],
        "text": "Heart rate",
    }
    assert common.first_coding(concept, "x") == ("http://snomed.info/sct", "1", "Heart rate")
    assert common.first_coding(concept, "x", system="http://loinc.org")[1] == "8867-4"
    with pytest.raises(FhirError) as caught:
        common.first_coding(concept, "Observation.code", system="urn:other")
    assert caught.value.code == "INVALID_RESOURCE"
    with pytest.raises(FhirError):
        common.first_coding({"text": "no code"}, "x")


def test_the_registry_carries_write_definitions():
    assert all(r.write is None or isinstance(r.write, WriteDef) for r in REGISTRY.values())
    assert REGISTRY["AuditEvent"].write is None
