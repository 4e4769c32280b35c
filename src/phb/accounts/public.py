"""What other apps may use of accounts."""

from phb.accounts.selectors import context_for_user, member_organization_ids

__all__ = ["context_for_user", "member_organization_ids"]
