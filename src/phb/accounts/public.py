"""What other apps may use of accounts."""

from phb.accounts.anomalies import flag_record, user_family_names
from phb.accounts.models import AnomalyKind
from phb.accounts.selectors import context_for_user, member_organization_ids
from phb.accounts.services import break_glass_active, break_glass_patient_ids, break_glass_start

__all__ = [
    "AnomalyKind",
    "break_glass_active",
    "break_glass_patient_ids",
    "break_glass_start",
    "context_for_user",
    "flag_record",
    "member_organization_ids",
    "user_family_names",
]

# --- API authentication for other edges (the FHIR API): user tokens, client tokens, step-up --------
from phb.accounts.api_clients import (
    ClientRateThrottle,
    ClientTokenAuthentication,
    acting_user_id,
    api_client_active,
    scope_permissions,
    scope_types,
)
from phb.accounts.authentication import JwtAuthentication
from phb.accounts.step_up import check_request as check_med_access

__all__ += ["ClientTokenAuthentication", "JwtAuthentication", "acting_user_id", "check_med_access", "scope_types"]
__all__ += ["ClientRateThrottle", "api_client_active", "scope_permissions"]
