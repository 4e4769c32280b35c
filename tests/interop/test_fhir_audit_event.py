import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from phb.interop.fhir.audit_event import to_fhir


def event(**overrides):
    base = dict(
        id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC),
        actor_id=uuid.uuid4(),
        actor_kind="user",
        roles="doctor",
        organization_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        action="clinical.chart.read",
        resource_type="clinical.Encounter",
        resource_id="e-1",
        outcome="success",
        purpose_of_use="TREAT",
        ip="192.0.2.1",
        user_agent="x",
        request_id="r",
        reason="",
        detail={},
    )
    return SimpleNamespace(**{**base, **overrides})


@pytest.mark.parametrize(
    ("action", "outcome", "code", "fhir_outcome"),
    [
        ("clinical.chart.read", "success", "R", "0"),
        ("clinical.note.create", "success", "C", "0"),
        ("clinical.note.update", "denied", "U", "4"),
        ("accounts.sign_in.failure", "failure", "E", "4"),
        ("clinical.note.delete", "error", "D", "8"),
    ],
)
def test_actions_and_outcomes_map_to_fhir_codes(action, outcome, code, fhir_outcome):
    resource = to_fhir(event(action=action, outcome=outcome))
    assert (resource["action"], resource["outcome"]) == (code, fhir_outcome)
    AuditEvent.model_validate(resource)


def test_a_system_event_without_patient_or_address_is_still_valid():
    resource = to_fhir(event(actor_id=None, actor_kind="system", patient_id=None, ip=None, roles="", resource_id=""))
    assert resource["agent"][0]["requestor"] is False
    assert "entity" not in resource
    AuditEvent.model_validate(resource)
