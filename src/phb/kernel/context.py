"""The request context `Ctx`: who acts, for which organization, why — passed explicitly everywhere.

Every service and selector takes `ctx` as a keyword argument. Work done by no user (a scheduled job, a
migration, the outbox dispatcher) uses `Ctx.system(reason=...)`, which is easy to grep and audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from phb.kernel.ids import uuid7


class PurposeOfUse:
    """HL7 v3 PurposeOfUse codes PHB records with every access."""

    TREATMENT = "TREAT"
    EMERGENCY = "ETREAT"  # break-the-glass
    OPERATIONS = "HOPERAT"
    PAYMENT = "HPAYMT"
    PATIENT_REQUEST = "PATRQT"
    SYSTEM = "SYSADMIN"
    RESEARCH = "HRESCH"


@dataclass(frozen=True, slots=True)
class Ctx:
    actor_id: uuid.UUID | None
    organization_id: uuid.UUID | None = None
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    purpose_of_use: str = PurposeOfUse.TREATMENT
    request_id: str = field(default_factory=lambda: uuid7().hex)
    ip: str | None = None
    user_agent: str = ""
    actor_kind: str = "user"  # user | system | anonymous | client | device
    system_reason: str | None = None
    # The organizations the actor is an active member of, when known (saves a query per request).
    member_of: frozenset[uuid.UUID] | None = None
    # An enrolled device acting on its own (a self check-in kiosk): no user, a narrow permission set.
    device_id: uuid.UUID | None = None
    # A registered API client (OAuth2 client credentials): the scopes it was granted, e.g. "system/Patient.read".
    scopes: frozenset[str] = frozenset()

    @classmethod
    def system(cls, *, reason: str, organization_id: uuid.UUID | None = None) -> Ctx:
        """Context for work done by no user. `reason` says why, and is recorded."""
        if not reason or not reason.strip():
            raise ValueError("Ctx.system() needs a reason")
        return cls(
            actor_id=None,
            organization_id=organization_id,
            purpose_of_use=PurposeOfUse.SYSTEM,
            actor_kind="system",
            system_reason=reason.strip(),
        )

    @classmethod
    def anonymous(cls, *, request_id: str | None = None, ip: str | None = None, user_agent: str = "") -> Ctx:
        return cls(
            actor_id=None,
            actor_kind="anonymous",
            request_id=request_id or uuid7().hex,
            ip=ip,
            user_agent=user_agent,
        )

    @classmethod
    def device(
        cls,
        *,
        device_id: uuid.UUID,
        organization_id: uuid.UUID,
        permissions: frozenset[str],
        purpose_of_use: str = PurposeOfUse.PATIENT_REQUEST,
        request_id: str | None = None,
        ip: str | None = None,
        user_agent: str = "",
    ) -> Ctx:
        """Context for an enrolled device of one organization (a kiosk in an entrance hall): it is no
        user (`actor_id` is None, so nothing it writes names a user), holds only `permissions`, and
        the audit trail names it by `device_id`."""
        return cls(
            actor_id=None,
            organization_id=organization_id,
            permissions=permissions,
            purpose_of_use=purpose_of_use,
            request_id=request_id or uuid7().hex,
            ip=ip,
            user_agent=user_agent,
            actor_kind="device",
            device_id=device_id,
        )

    @property
    def is_system(self) -> bool:
        return self.actor_kind == "system"

    @property
    def is_authenticated(self) -> bool:
        return self.actor_kind in {"user", "client"} and self.actor_id is not None

    def has_perm(self, permission: str) -> bool:
        return self.is_system or permission in self.permissions

    def as_patient_at(self, organization_id: uuid.UUID) -> Ctx:
        """The same person acting as a patient at one organization (their own registration, booking,
        cancellation): no staff role or permission, purpose of use "patient request"."""
        return Ctx(
            actor_id=self.actor_id,
            organization_id=organization_id,
            purpose_of_use=PurposeOfUse.PATIENT_REQUEST,
            request_id=self.request_id,
            ip=self.ip,
            user_agent=self.user_agent,
        )

    def for_organization(self, organization_id: uuid.UUID | None) -> Ctx:
        """The same actor acting for another organization (system work iterating tenants)."""
        return replace(self, organization_id=organization_id)

    @classmethod
    def client(
        cls,
        *,
        client_id: uuid.UUID,
        organization_id: uuid.UUID,
        scopes: frozenset[str],
        permissions: frozenset[str],
        request_id: str | None = None,
        ip: str | None = None,
        user_agent: str = "",
    ) -> Ctx:
        """Context for a registered system client of one organization (a laboratory, a registry): no
        user; `actor_id` is the client's id, so the audit trail names it with the actor kind "client".
        It holds only the permissions its `scopes` grant."""
        return cls(
            actor_id=client_id,
            organization_id=organization_id,
            permissions=permissions,
            purpose_of_use=PurposeOfUse.OPERATIONS,
            request_id=request_id or uuid7().hex,
            ip=ip,
            user_agent=user_agent,
            actor_kind="client",
            scopes=scopes,
        )

    @property
    def is_client(self) -> bool:
        return self.actor_kind == "client"
