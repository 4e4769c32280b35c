"""What the tiered workloads (W1 to W11) find in a database that `phb bench-data --tier S|M` filled: the
organizations by code, their practitioners who see patients, their registered patients, and a
receptionist's context. Nothing here generates clinical data; only the bench's own desk account is
added, once, when missing.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

HOME, OTHER = "bench-a", "bench-b"
APP_ROLE = "phb_bench_app"  # the generator's two organizations, 90 % and 10 % of the patients
DESK_EMAIL = "bench-desk@{code}.bench.phb.example"


class NotGenerated(RuntimeError):
    """The bench database holds no tier data: the workloads need `phb bench-data` first."""


@dataclass(frozen=True)
class Site:
    organization_id: uuid.UUID
    code: str
    zone: Any  # ZoneInfo
    desk_user_id: uuid.UUID
    practitioner_ids: list[uuid.UUID]  # active, with weekly windows, by id
    patient_ids: list[uuid.UUID]  # approved registrations here, by id

    def ctx(self, *roles: str) -> Any:
        from phb.accounts.roles import permissions_for
        from phb.kernel.context import Ctx

        roles = roles or ("receptionist",)
        return Ctx(
            actor_id=self.desk_user_id,
            organization_id=self.organization_id,
            roles=frozenset(roles),
            permissions=permissions_for(list(roles)),
            ip="127.0.0.1",
        )


def application_dsn(dsn: str) -> str:
    """The bench database's connection string as the application role, as PHB runs in production: no
    superuser, no BYPASSRLS, so row-level security is in force. The role is created when missing and
    given exactly the application's privileges (`kernel.db.grant_application_privileges`)."""
    import psycopg
    from django.db import connection
    from psycopg import conninfo, sql

    from phb.kernel import db

    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone() is None:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB").format(
                    sql.Identifier(APP_ROLE), sql.Literal(APP_ROLE)
                )
            )
    db.grant_application_privileges(connection, APP_ROLE)
    params = conninfo.conninfo_to_dict(dsn)
    host, port, name = params.get("host", "127.0.0.1"), params.get("port", "5432"), params["dbname"]
    return f"postgresql://{APP_ROLE}:{APP_ROLE}@{host}:{port}/{name}"  # a URL: PHB's DATABASE_URL takes no other form


def _system() -> Any:
    from phb.kernel.context import Ctx

    return Ctx.system(reason="bench fixtures")


@functools.cache
def site(code: str = HOME) -> Site:
    from django.db import transaction

    from phb.accounts.models import Membership, User
    from phb.kernel.models import Organization
    from phb.patients.models import PatientRegistration, RegistrationStatus
    from phb.scheduling import slots
    from phb.workforce.models import PractitionerProfile, WeeklyAvailability

    system = _system()
    organization = Organization.objects.for_platform(system).filter(code=code).first()
    if organization is None:
        raise NotGenerated(f"no organization {code!r}: fill the bench database with `phb bench-data --tier S` first")
    org_id = organization.id
    with_windows = WeeklyAvailability.objects.for_system(system).filter(organization_id=org_id)
    practitioner_ids = sorted(
        PractitionerProfile.objects.for_system(system)
        .filter(organization_id=org_id, id__in=with_windows.values("practitioner_id"))
        .values_list("id", flat=True)
    )
    patient_ids = sorted(
        PatientRegistration.objects.for_system(system)
        .filter(organization_id=org_id, status=RegistrationStatus.APPROVED, patient__merged_into__isnull=True)
        .values_list("patient_id", flat=True)
    )
    if not patient_ids:
        raise NotGenerated(f"{code!r} has no registered patients: fill it with `phb bench-data` first")
    email = DESK_EMAIL.format(code=code)
    with transaction.atomic():
        desk, _ = User.objects.get_or_create(email=email, defaults={"full_name": "Bench Desk"})
        memberships = Membership.objects.for_system(system)
        if not memberships.filter(organization_id=org_id, user_id=desk.id).exists():
            memberships.create(organization_id=org_id, user_id=desk.id, roles=["receptionist"])
    zone = slots.organization_zone(_system().for_organization(org_id))
    return Site(org_id, code, zone, desk.id, practitioner_ids, patient_ids)
