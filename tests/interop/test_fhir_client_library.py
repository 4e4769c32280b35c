"""A third-party FHIR client library (SMART's `fhirclient`, R4 models) reads and searches PHB's FHIR
API over HTTP, against the live test server, with a system client's token."""

from __future__ import annotations

import pytest
import requests
from fhirclient.models.bundle import Bundle
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRServer

from phb.accounts import api_clients
from phb.kernel.context import Ctx
from tests.clinical.factories import clinician
from tests.interop.fhir_helpers import chart
from tests.organizations.factories import DepartmentFactory


@pytest.mark.django_db(transaction=True)
def test_fhirclient_reads_and_searches_through_the_live_server(live_server, org_a):
    department = DepartmentFactory(organization=org_a)
    record = chart(org_a, department, clinician(org_a, "nurse", department=department))
    registered, secret = api_clients.api_client_create(
        ctx=Ctx.system(reason="test", organization_id=org_a.id), name="Registry", scopes="system/*.read"
    )
    token = requests.post(
        f"{live_server.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "system/Patient.read system/Observation.read"},
        auth=(registered.client_id, secret),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    server = FHIRServer(None, base_uri=f"{live_server.url}/fhir/r4/")
    server.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    patient = Patient.read(str(record["patient"].id), server)
    assert patient.name[0].family == record["patient"].family_name
    assert patient.identifier[0].value == record["patient"].hpn

    found = list(Patient.where(struct={"identifier": record["patient"].hpn}).perform_resources_iter(server))
    assert [p.id for p in found] == [str(record["patient"].id)]

    bundle = next(Observation.where(struct={"patient": str(record["patient"].id), "_count": "3"}).perform_iter(server))
    assert isinstance(bundle, Bundle)
    assert bundle.total == 7
    next_url = next(link.url for link in bundle.link if link.relation == "next")
    following = Bundle(server.request_json(next_url))
    assert len(following.entry) == 3
    assert {e.resource.code.coding[0].system for e in bundle.entry + following.entry} == {"http://loinc.org"}
