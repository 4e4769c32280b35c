"""What the FHIR workloads read: the organization the bench data generator fills first ("bench-a", 90 %
of its patients), a system client of it, and patients and observations chosen by query from whatever the
bench database holds (generated data, or bundles imported with `phb fhir import`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from phb.demo.benchdata import ORGANIZATION_CODES

ORGANIZATION_CODE = ORGANIZATION_CODES[0]  # the generator's first organization: 90 % of its patients
READER_NAME = "Bench FHIR reader"
VISIBLE = ("pending", "approved")  # registrations whose patients a client of the organization reads


class SetupMissing(RuntimeError):
    """The bench database holds no data these workloads can read."""


SETUP = (
    f"the bench database needs the organization {ORGANIZATION_CODE!r} with registered patients who have "
    f"observations: run `phb bench-data --tier S` against BENCH_DATABASE_URL (or import FHIR bundles into "
    f"an organization of that code with `phb fhir import PATH --organization ID`)"
)


@dataclass
class Subjects:
    organization_id: uuid.UUID
    patient_ids: list[str]
    observation_ids: list[str]


def organization_id(conn: Any) -> uuid.UUID:
    row = conn.execute(
        "SELECT id FROM kernel_organization WHERE code = %s AND is_active", (ORGANIZATION_CODE,)
    ).fetchone()
    if row is None:
        raise SetupMissing(f"no organization {ORGANIZATION_CODE!r}: {SETUP}")
    return row[0]


def choose(conn: Any, *, patients: int = 200, observations: int = 400) -> Subjects:
    """Registered patients (visible to a client) who have observations, the first `patients` by id, and
    `observations` of theirs (the first by id): the same subjects every run on the same data."""
    org = organization_id(conn)
    patient_ids = [
        str(r[0])
        for r in conn.execute(
            "SELECT r.patient_id FROM patients_patientregistration r "
            "WHERE r.organization_id = %s AND r.status = ANY(%s) AND EXISTS ("
            "  SELECT 1 FROM clinical_observation o WHERE o.organization_id = r.organization_id "
            "  AND o.patient_id = r.patient_id) "
            "ORDER BY r.patient_id LIMIT %s",
            (org, list(VISIBLE), patients),
        )
    ]
    if not patient_ids:
        raise SetupMissing(f"no patient of {ORGANIZATION_CODE!r} has observations: {SETUP}")
    observation_ids = [
        str(r[0])
        for r in conn.execute(
            "SELECT id FROM clinical_observation WHERE organization_id = %s AND patient_id = ANY(%s::uuid[]) "
            "ORDER BY id LIMIT %s",
            (org, patient_ids, observations),
        )
    ]
    return Subjects(org, patient_ids, observation_ids)


def new_client(organization: uuid.UUID, name: str, scopes: str) -> tuple[Any, str]:
    """A new API client of the organization with `scopes` (as `phb api-client create` makes one);
    returns it and its secret. `revoke` ends it after the run."""
    from phb.accounts.api_clients import api_client_create
    from phb.kernel.context import Ctx

    ctx = Ctx.system(reason=f"bench: {name}", organization_id=organization)
    return api_client_create(ctx=ctx, name=name, scopes=scopes)


def reader_client(organization: uuid.UUID) -> tuple[Any, str]:
    """A new API client of the organization with `system/*.read`."""
    return new_client(organization, READER_NAME, "system/*.read")


def revoke(client: Any) -> None:
    from phb.accounts.api_clients import api_client_revoke
    from phb.kernel.context import Ctx

    ctx = Ctx.system(reason="bench: end the FHIR reader", organization_id=client.organization_id)
    api_client_revoke(ctx=ctx, api_client_id=client.id)


def client_ctx(client: Any) -> Any:
    """The context PHB builds for the client's token (what the FHIR views act as)."""
    from phb.accounts.api_clients import scope_permissions
    from phb.kernel.context import Ctx

    scopes = frozenset(client.scopes)
    return Ctx.client(
        client_id=client.id,
        organization_id=client.organization_id,
        scopes=scopes,
        permissions=scope_permissions(scopes),
    )
