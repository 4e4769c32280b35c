from typing import Any

from django.http import HttpRequest

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


def phb(request: HttpRequest) -> dict[str, Any]:
    return {"phb_portals": PORTALS}
