"""What other apps may use of the patient registry."""

from phb.patients.consents import consent_allows

__all__ = ["consent_allows"]
