"""What other apps may use of the patient registry."""

from phb.patients.consents import consent_allows
from phb.patients.exports import register_export_section
from phb.patients.portal import my_patient, my_registrations
from phb.patients.selectors import patient_search
from phb.patients.staff_views import staff_page

__all__ = [
    "consent_allows",
    "my_patient",
    "my_registrations",
    "patient_search",
    "register_export_section",
    "staff_page",
]
