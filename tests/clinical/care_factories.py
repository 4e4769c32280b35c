"""Patient-reported symptoms and care plans for tests: a patient with a portal account registered at
an organization, a symptom report, a department head, an approved template, a plan."""

from __future__ import annotations

import datetime as dt
import io

from django.utils import timezone

from phb.clinical import care_plans, symptoms
from phb.kernel.context import Ctx
from tests.accounts.factories import UserFactory
from tests.clinical.factories import clinician
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx


def portal_patient(*organizations, years: int = 40):
    """(patient, the patient's own context) for a patient with an account, registered at each of
    `organizations` (approved, at the desk)."""
    user = UserFactory(email_verified_at=timezone.now())
    today = dt.date.today()
    patient = make_patient(user=user, birth_date=today.replace(year=today.year - years) - dt.timedelta(days=30))
    for organization in organizations:
        register_at_desk(desk_ctx(organization), patient)
    return patient, Ctx(actor_id=user.id)


def report(me: Ctx, organization, **fields):
    values = {"symptom_code": "R51.9", "severity": 5, "onset_days_ago": 2, **fields}
    return symptoms.symptom_report_create(ctx=me, organization_id=organization.id, **values)


def png(size=(40, 30), colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def head(organization, *, department=None) -> Ctx:
    return clinician(organization, "department_head", department=department)


GOALS = [
    {
        "description": "Blood pressure at target",
        "measure": "Clinic BP",
        "target": "below 140/90 mmHg",
        "due_in_days": 90,
    },
    {"description": "Less salt", "measure": "", "target": "under 6 g a day", "due_in_days": None},
]
ACTIVITIES = [{"kind": "monitoring", "description": "Home blood pressure", "schedule": "before each review"}]


def approved_template(author: Ctx, approver: Ctx, **fields):
    values = {"name": "Blood pressure", "goals": GOALS, "activities": ACTIVITIES, "team_roles": ["lead", "nurse"]}
    template = care_plans.care_plan_template_create(ctx=author, **{**values, **fields})
    care_plans.care_plan_template_submit(ctx=author, template_id=template.id)
    return care_plans.care_plan_template_approve(ctx=approver, template_id=template.id)


def active_plan(doctor: Ctx, patient, **fields):
    values = {
        "title": "Recovery",
        "goals": [{"description": "Walking unaided", "target": "100 m", "due_on": dt.date.today() + dt.timedelta(7)}],
        "activities": [{"kind": "lifestyle", "description": "Walk daily", "schedule": "daily"}],
        "activate": True,
    }
    return care_plans.care_plan_create(ctx=doctor, patient_id=patient.id, **{**values, **fields})
