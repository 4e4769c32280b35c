"""What other apps may use of accounts."""

from phb.accounts.anomalies import flag_record, user_family_names
from phb.accounts.models import AnomalyKind
from phb.accounts.selectors import context_for_user, member_organization_ids

__all__ = ["AnomalyKind", "context_for_user", "flag_record", "member_organization_ids", "user_family_names"]
