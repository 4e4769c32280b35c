"""The text of every notification, by code. Placeholders are times, places and references only: a
message may be read on a lock screen or by whoever shares the phone, so it never names a diagnosis,
a complaint or a clinic's speciality beyond the department's name."""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, tuple[str, str]] = {
    "appointment.reminder": (
        "Appointment reminder {reference}",
        "Reminder: your appointment {reference} is on {when} at {place}.",
    ),
    "appointment.rescheduled": (
        "Appointment moved {reference}",
        "Your appointment has moved: {reference} is now on {when} at {place}.",
    ),
    # To clinicians: a reference only, never the value, the patient or the finding.
    "clinical.critical_alert": (
        "Critical alert {reference}",
        "A critical vital sign was recorded for a patient in your care at {organization}. "
        "Open PHB to review and acknowledge alert {reference}.",
    ),
    "clinical.critical_alert_escalated": (
        "Escalated critical alert {reference}",
        "Critical alert {reference} at {organization} has not been acknowledged in time. "
        "Open PHB to review and acknowledge it.",
    ),
}


def render(code: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of the template `code`; raises KeyError for an unknown code."""
    title, body = TEMPLATES[code]
    return title.format(**context), body.format(**context)


# --- medications: repeat prescriptions and missed doses (references only, never a drug's name) -------
TEMPLATES.update(
    {
        "medications.repeat_requested": (
            "Repeat request {reference}",
            "A patient asked for a repeat of prescription {reference} at {organization}. "
            "Open PHB to approve or refuse it.",
        ),
        "medications.repeat_approved": (
            "Repeat prescription approved",
            "Your request for a repeat of prescription {reference} at {organization} was approved: "
            "the new prescription is {new_reference}.",
        ),
        "medications.repeat_refused": (
            "Repeat prescription not approved",
            "Your request for a repeat of prescription {reference} at {organization} was not approved. "
            "Open PHB to read why.",
        ),
        "medications.doses_missed": (
            "Missed doses {reference}",
            "A patient in your care at {organization} has missed {misses} doses in a row of a medicine on "
            "prescription {reference}. Open PHB to review.",
        ),
    }
)


# --- pharmacy -------------------------------------------------------------------------------------
TEMPLATES.update(
    {
        # To pharmacists: the product and the place, nothing about a patient.
        "pharmacy.stock_alert": (
            "Stock alert {reference}",
            "{product} at {location} ({organization}): {kind}. Open PHB to review stock alert {reference}.",
        ),
        # To patients: a reference and a place, never the medicine.
        "pharmacy.prescription_ready": (
            "Prescription ready {reference}",
            "Medicines of your prescription {reference} are ready to collect at {place}.",
        ),
    }
)
