from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

PORTALS = [
    {
        "slug": "patient",
        "name": "Patient portal",
        "url": "/patient/",
        "blurb": "Register once with a Health Point Number, book appointments, read your record, message your care team.",
    },
    {
        "slug": "clinic",
        "name": "Clinician workspace",
        "url": "/clinic/",
        "blurb": "The day's queue, the chart, vital signs with early warning, orders, prescriptions and results.",
    },
    {
        "slug": "org",
        "name": "Hospital administration",
        "url": "/org/",
        "blurb": "Staff, departments, wards, stock, prices, patient registrations, KPIs and the audit trail.",
    },
    {
        "slug": "platform",
        "name": "Platform operations",
        "url": "/platform/",
        "blurb": "Onboard hospitals, clinics and networks; watch system health and background work.",
    },
]


# Staff pages shown in the navigation to those holding any of the permissions.
STAFF_LINKS = [
    ("Patients", "patients_staff:search", ("patients.demographics.view", "clinical.record.view")),
    ("Registrations", "patients_staff:registrations", ("patients.registration.approve",)),
    ("Duplicates", "patients_staff:duplicates", ("patients.patient.merge",)),
    ("Reception", "scheduling_staff:reception", ("scheduling.appointment.manage",)),
    ("Week", "scheduling_staff:week", ("scheduling.appointment.manage",)),
    ("Queue", "scheduling_staff:queue", ("scheduling.appointment.manage", "clinical.record.view")),
    ("My day", "scheduling_staff:day", ("clinical.record.view",)),
    ("Appointments", "scheduling_staff:appointments", ("scheduling.appointment.manage",)),
    ("Practitioners", "workforce_staff:practitioners", ("accounts.membership.manage",)),
    ("My schedule", "workforce_staff:my-schedule", ("clinical.record.view",)),
    ("Calendar", "workforce_staff:calendar", ("organizations.organization.update",)),
    ("Kiosks", "scheduling_staff:kiosks", ("organizations.department.manage",)),
    ("Repeat requests", "medications_staff:repeat-requests", ("medications.prescription.sign",)),
    ("Medication overrides", "medications_staff:overrides", ("clinical.alert.escalation", "audit.event.view")),
]


def _staff_links(request: HttpRequest) -> list[dict[str, str]]:
    ctx = getattr(request, "ctx", None)
    user = getattr(request, "user", None)
    if ctx is None or user is None or not user.is_authenticated or not ctx.permissions:
        return []
    return [
        {"name": name, "url": reverse(url_name)}
        for name, url_name, permissions in STAFF_LINKS
        if any(ctx.has_perm(p) for p in permissions)
    ]


def phb(request: HttpRequest) -> dict[str, Any]:
    return {"phb_portals": PORTALS, "phb_staff_links": SimpleLazyObject(lambda: _staff_links(request))}


# --- pharmacy: its worklist for those who dispense, its stock pages for those who manage stock ----
STAFF_LINKS.append(("Pharmacy", "pharmacy_staff:worklist", ("pharmacy.dispense.create",)))
STAFF_LINKS.append(("Stock", "pharmacy_staff:stock", ("pharmacy.stock.manage",)))
