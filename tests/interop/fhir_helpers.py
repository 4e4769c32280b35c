"""The FHIR API for tests: clients signed in as staff (with the step-up window) or holding a system
client's token, a small clinical record, and validation of every resource a response carries."""

from __future__ import annotations

import datetime as dt
import importlib
import re

from django.utils import timezone
from rest_framework.test import APIClient

from phb.accounts import api_clients
from phb.accounts.step_up import SESSION_KEY
from phb.clinical import history_services
from phb.clinical.diagnoses import diagnosis_add
from phb.kernel.context import Ctx
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.clinical import history_factories  # noqa: F401
from tests.clinical.factories import patient_at, record, walk_in
from tests.clinical.history_factories import CVX_COVID, allergy

BASE = "/fhir/r4/"


def staff_client(organization, *roles, department=None, med_access=True) -> APIClient:
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, roles=list(roles) or ["doctor"], department=department)
    client = verified_client(user)
    if med_access:
        session = client.session
        session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
        session.save()
    return client


def system_client(organization, scopes="system/*.read") -> APIClient:
    """An API client holding a fresh token of a client registered at `organization` with `scopes`."""
    ctx = Ctx.system(reason="test", organization_id=organization.id)
    registered, secret = api_clients.api_client_create(ctx=ctx, name="Lab", scopes=scopes)
    response = APIClient().post(
        "/oauth/token", {"grant_type": "client_credentials", "client_id": registered.client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    client.registered = registered
    return client


def chart(organization, department, clinician_ctx):
    """A patient of `organization` seen by `clinician_ctx` (a walk-in encounter): vital signs, a
    diagnosis, an allergy, an immunization."""
    patient = patient_at(organization)
    encounter = walk_in(clinician_ctx, patient, department)
    vitals = record(clinician_ctx, patient, encounter=encounter)
    diagnosis = diagnosis_add(
        ctx=clinician_ctx,
        patient_id=patient.id,
        system="http://snomed.info/sct",
        code="38341003",
        display="Hypertensive disorder",  # SNOMED CT: no code list to load (transactional tests flush it)
        encounter_id=encounter.id,
    )
    allergy_row = allergy(clinician_ctx, patient)
    shot = history_services.immunization_record(
        ctx=clinician_ctx, patient_id=patient.id, vaccine=CVX_COVID, occurred_on=dt.date.today()
    )
    return {
        "patient": patient,
        "encounter": encounter,
        "vitals": vitals,
        "diagnosis": diagnosis,
        "allergy": allergy_row,
        "immunization": shot,
    }


def _module_name(resource_type: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", resource_type).lower().replace("_", "")


def validate(resource: dict) -> None:
    """Validate a resource (and every resource of a Bundle) with fhir.resources' R4B models."""
    resource_type = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    getattr(module, resource_type).model_validate(resource)
    if resource_type == "Bundle":
        for entry in resource.get("entry", []):
            for inner in (entry.get("resource"), entry.get("response", {}).get("outcome")):
                if inner is not None:
                    validate(inner)


def fhir_get(client: APIClient, path: str, **headers):
    response = client.get(BASE + path, **headers)
    if response.status_code == 200:
        validate(response.json())
    return response
