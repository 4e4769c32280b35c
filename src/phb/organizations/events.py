from __future__ import annotations

import uuid
from dataclasses import dataclass

from phb.kernel.events import Event


@dataclass(frozen=True)
class OrganizationCreated(Event):
    name = "organizations.organization_created"
    organization_id: uuid.UUID
    kind: str
