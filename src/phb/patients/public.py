"""What other apps may use of the patient registry."""

from phb.patients.consents import consent_allows
from phb.patients.exports import register_export_section

__all__ = ["consent_allows", "register_export_section"]
