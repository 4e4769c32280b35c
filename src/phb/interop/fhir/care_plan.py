"""CarePlan (FHIR R4) from a PHB care plan: status, the period it covers, its goals (contained Goal
resources: PHB serves no Goal endpoint) and its activities as `activity.detail`."""

from __future__ import annotations

import uuid
from typing import Any

from phb.interop.fhir.common import coding, instant, meta, ref

CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
CATEGORY = "assess-plan"
ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
ACTIVITY_KIND = "https://phb.health/fhir/CodeSystem/care-plan-activity-kind"

STATUS = {
    "draft": "draft",
    "active": "active",
    "on_hold": "on-hold",
    "completed": "completed",
    "revoked": "revoked",
}
PHB_STATUS = {fhir: [phb] for phb, fhir in STATUS.items()}
UNUSED_STATUS = ("entered-in-error", "unknown")
ACTIVITY_STATUS = {
    "not_started": "not-started",
    "scheduled": "scheduled",
    "in_progress": "in-progress",
    "on_hold": "on-hold",
    "completed": "completed",
    "cancelled": "cancelled",
}
# What an activity would be as a request resource (CarePlan.activity.detail.kind), where it is one.
ACTIVITY_RESOURCE = {
    "medication": "MedicationRequest",
    "appointment": "Appointment",
    "investigation": "ServiceRequest",
    "referral": "ServiceRequest",
    "procedure": "ServiceRequest",
}
# A goal's lifecycle follows its plan's.
GOAL_LIFECYCLE = {
    "draft": "proposed",
    "active": "active",
    "on_hold": "on-hold",
    "completed": "completed",
    "revoked": "cancelled",
}


def _goal(plan: Any, goal: Any, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Goal",
        "id": f"goal-{index}",
        "lifecycleStatus": GOAL_LIFECYCLE.get(plan.status, "active"),
        "achievementStatus": {"coding": [coding(ACHIEVEMENT, goal.achievement_status.replace("_", "-"))]},
        "description": {"text": goal.description},
        "subject": ref("Patient", plan.patient_id),
    }
    target: dict[str, Any] = {}
    if goal.measure:
        target["measure"] = {"text": goal.measure}
    if goal.target:
        target["detailString"] = goal.target
    if goal.due_on:
        target["dueDate"] = goal.due_on.isoformat()
    if target:
        out["target"] = [target]
    return out


def _activity(activity: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "code": {"coding": [coding(ACTIVITY_KIND, activity.kind)]},
        "status": ACTIVITY_STATUS.get(activity.status, "unknown"),
        "description": activity.description,
    }
    if activity.kind in ACTIVITY_RESOURCE:
        detail = {"kind": ACTIVITY_RESOURCE[activity.kind], **detail}
    if activity.schedule:
        detail["scheduledString"] = activity.schedule
    return {"detail": detail}


def to_fhir(plan: Any, *, author_id: uuid.UUID | None = None) -> dict[str, Any]:
    """`plan` with its goals and activities loaded; `author_id` is its author's Practitioner id, when
    they have a practitioner's profile here."""
    goals = sorted(plan.goals.all(), key=lambda g: (g.position, g.created_at))
    activities = sorted(plan.activities.all(), key=lambda a: (a.position, a.created_at))
    period: dict[str, str] = {"start": plan.period_start.isoformat()}
    if plan.period_end:
        period["end"] = plan.period_end.isoformat()
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.id),
        "meta": meta(plan.updated_at),
        "status": STATUS.get(plan.status, "unknown"),
        "intent": "plan",
        "category": [{"coding": [coding(CATEGORY_SYSTEM, CATEGORY, "Assessment and Plan of Treatment")]}],
        "title": plan.title,
        "subject": ref("Patient", plan.patient_id),
        "period": period,
        "created": instant(plan.created_at),
    }
    if plan.description:
        resource["description"] = plan.description
    if author_id:
        resource["author"] = ref("Practitioner", author_id)
    if goals:
        resource["contained"] = [_goal(plan, g, i) for i, g in enumerate(goals, start=1)]
        resource["goal"] = [{"reference": f"#goal-{i}"} for i in range(1, len(goals) + 1)]
    if activities:
        resource["activity"] = [_activity(a) for a in activities]
    return resource
