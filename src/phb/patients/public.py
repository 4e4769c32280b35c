"""What other apps may use of the patient registry."""

from phb.patients.consents import consent_allows
from phb.patients.exports import register_export_section
from phb.patients.merge import register_merge_handler, register_rows_handler
from phb.patients.portal import my_patient, my_registrations
from phb.patients.selectors import patient_search
from phb.patients.staff_views import staff_page

__all__ = [
    "consent_allows",
    "my_patient",
    "my_registrations",
    "patient_search",
    "register_export_section",
    "register_merge_handler",
    "register_rows_handler",
    "staff_page",
]
