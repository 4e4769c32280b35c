"""What other apps may use of the patient registry."""

from phb.patients.consents import consent_allows
from phb.patients.exports import register_export_section
from phb.patients.portal import my_patient

__all__ = ["consent_allows", "my_patient", "register_export_section"]
