"""Care plans. Templates are held as data (the defaults in `data/care_plan_templates.json`, seeded per
organization, and each hospital's own): draft → pending approval → approved by a department head →
retired, and only an approved template makes plans. A patient's plan, from an approved template or
from scratch, has goals (each with its progress entries, appended and never overwritten), activities
and a care team; draft → active ⇄ on hold → completed, or revoked. A completed or revoked plan is
read-only. Members of an open plan's team have a care relationship with its patient (policies).

Every write checks the role and the care relationship first, validates before writing, and writes
and audits in one transaction. Every read is audited, refusals included; a patient reads their own
active plans (the portal), nothing else."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from phb.accounts.models import Membership
from phb.accounts.roles import permissions_for
from phb.clinical import policies
from phb.clinical.events import CarePlanStatusChanged
from phb.clinical.models import (
    CARE_PLAN_CLOSED,
    CARE_PLAN_OPEN,
    ActivityKind,
    ActivityStatus,
    CarePlan,
    CarePlanActivity,
    CarePlanGoal,
    CarePlanMember,
    CarePlanStatus,
    CarePlanTemplate,
    CareTeamRole,
    GoalAchievement,
    GoalProgress,
    TemplateStatus,
)
from phb.clinical.services import require_access
from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.organizations.models import Department
from phb.patients.public import my_patient

TEMPLATES_FILE = Path(__file__).parent / "data" / "care_plan_templates.json"
NAME_MAX = 120
TITLE_MAX = 200
TEXT_MAX = 2000
SHORT_MAX = 200
GOAL_MAX = 500
GOALS_MAX = 30
ACTIVITIES_MAX = 40
TEAM_MAX = 20
DUE_IN_DAYS_MAX = 3650


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()  # a keyword argument not given to an update

# status -> the statuses it may become
TEMPLATE_MOVES: dict[str, frozenset[str]] = {
    TemplateStatus.DRAFT: frozenset({TemplateStatus.PENDING_APPROVAL}),
    TemplateStatus.PENDING_APPROVAL: frozenset({TemplateStatus.APPROVED, TemplateStatus.DRAFT}),
    TemplateStatus.APPROVED: frozenset({TemplateStatus.RETIRED}),
    TemplateStatus.RETIRED: frozenset(),
}
PLAN_MOVES: dict[str, frozenset[str]] = {
    CarePlanStatus.DRAFT: frozenset({CarePlanStatus.ACTIVE, CarePlanStatus.REVOKED}),
    CarePlanStatus.ACTIVE: frozenset({CarePlanStatus.ON_HOLD, CarePlanStatus.COMPLETED, CarePlanStatus.REVOKED}),
    CarePlanStatus.ON_HOLD: frozenset({CarePlanStatus.ACTIVE, CarePlanStatus.COMPLETED, CarePlanStatus.REVOKED}),
    CarePlanStatus.COMPLETED: frozenset(),
    CarePlanStatus.REVOKED: frozenset(),
}
ACTIVITY_DONE = (ActivityStatus.COMPLETED, ActivityStatus.CANCELLED)
PROGRESS_WHILE = (CarePlanStatus.ACTIVE, CarePlanStatus.ON_HOLD)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


class _Errors:
    """Errors of one request, collected so that every bad field is named at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.items.append({"field": field, "message": message, "code": code})

    def text(self, field: str, value: Any, *, limit: int, required: bool = False) -> str:
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(field, "text is expected", "invalid")
            return ""
        value = value.strip()
        if len(value) > limit:
            self.add(field, f"at most {limit} characters", "too_long")
        elif required and not value:
            self.add(field, "this is required", "required")
        return value

    def choice(self, field: str, value: Any, choices: Sequence[str], code: str) -> str:
        if value not in choices:
            self.add(field, f"one of {', '.join(choices)}", code)
            return ""
        return str(value)

    def raise_if_any(self, message: str = "Some fields need a correction; nothing was saved.") -> None:
        if self.items:
            raise ValidationFailed(message, errors=self.items)


def _list(errors: _Errors, field: str, raw: Any, *, most: int) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        errors.add(field, "a list is expected", "not_a_list")
        return []
    items = list(raw)
    if len(items) > most:
        errors.add(field, f"at most {most} entries", "too_many")
        return []
    return items


def _entry(errors: _Errors, field: str, raw: Any, allowed: Iterable[str]) -> Mapping[str, Any] | None:
    if not isinstance(raw, Mapping):
        errors.add(field, "an object is expected", "invalid")
        return None
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        errors.add(f"{field}.{unknown[0]}", "not a field of this entry", "unknown_field")
        return None
    return raw


def _template_goals(errors: _Errors, raw: Any) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(_list(errors, "goals", raw, most=GOALS_MAX)):
        entry = _entry(errors, f"goals[{i}]", item, ("description", "measure", "target", "due_in_days"))
        if entry is None:
            continue
        days = entry.get("due_in_days")
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= DUE_IN_DAYS_MAX
        ):
            errors.add(f"goals[{i}].due_in_days", f"a whole number of days from 0 to {DUE_IN_DAYS_MAX}", "out_of_range")
            days = None
        out.append(
            {
                "description": errors.text(
                    f"goals[{i}].description", entry.get("description"), limit=GOAL_MAX, required=True
                ),
                "measure": errors.text(f"goals[{i}].measure", entry.get("measure"), limit=SHORT_MAX),
                "target": errors.text(f"goals[{i}].target", entry.get("target"), limit=SHORT_MAX),
                "due_in_days": days,
            }
        )
    return out


def _activities(errors: _Errors, raw: Any) -> list[dict[str, str]]:
    out = []
    for i, item in enumerate(_list(errors, "activities", raw, most=ACTIVITIES_MAX)):
        entry = _entry(errors, f"activities[{i}]", item, ("kind", "description", "schedule"))
        if entry is None:
            continue
        out.append(
            {
                "kind": errors.choice(f"activities[{i}].kind", entry.get("kind"), ActivityKind.values, "unknown_kind"),
                "description": errors.text(
                    f"activities[{i}].description", entry.get("description"), limit=GOAL_MAX, required=True
                ),
                "schedule": errors.text(f"activities[{i}].schedule", entry.get("schedule"), limit=SHORT_MAX),
            }
        )
    return out


def _team_roles(errors: _Errors, raw: Any) -> list[str]:
    roles = []
    for i, role in enumerate(_list(errors, "team_roles", raw, most=TEAM_MAX)):
        value = errors.choice(f"team_roles[{i}]", role, CareTeamRole.values, "unknown_role")
        if value and value not in roles:
            roles.append(value)
    return roles


def _plan_goals(errors: _Errors, raw: Any, *, start: dt.date | None) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(_list(errors, "goals", raw, most=GOALS_MAX)):
        entry = _entry(errors, f"goals[{i}]", item, ("description", "measure", "target", "due_on"))
        if entry is None:
            continue
        out.append(_goal(errors, f"goals[{i}].", entry, start=start))
    return out


def _goal(errors: _Errors, prefix: str, entry: Mapping[str, Any], *, start: dt.date | None) -> dict[str, Any]:
    due_on = entry.get("due_on")
    if due_on is not None and not isinstance(due_on, dt.date):
        errors.add(f"{prefix}due_on", "a date is expected", "invalid")
        due_on = None
    if isinstance(due_on, dt.datetime):
        due_on = due_on.date()
    if due_on is not None and start is not None and due_on < start:
        errors.add(f"{prefix}due_on", "a goal is due after the plan starts", "due_before_start")
    return {
        "description": errors.text(f"{prefix}description", entry.get("description"), limit=GOAL_MAX, required=True),
        "measure": errors.text(f"{prefix}measure", entry.get("measure"), limit=SHORT_MAX),
        "target": errors.text(f"{prefix}target", entry.get("target"), limit=SHORT_MAX),
        "due_on": due_on,
    }


def _clinicians_here(ctx: Ctx, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `user_ids` are active members of the organization with clinical access."""
    memberships = Membership.objects.for_tenant(ctx).filter(
        user_id__in=list(user_ids), is_active=True, user__is_active=True
    )
    return {m.user_id for m in memberships if policies.VIEW in permissions_for(m.roles)}


def _team(ctx: Ctx, errors: _Errors, raw: Any) -> list[tuple[uuid.UUID, str]]:
    """[(user_id, role)] of clinicians of this organization, each once."""
    entries: list[tuple[uuid.UUID, str]] = []
    for i, item in enumerate(_list(errors, "team", raw, most=TEAM_MAX)):
        entry = _entry(errors, f"team[{i}]", item, ("user_id", "role"))
        if entry is None:
            continue
        user_id = entry.get("user_id")
        if isinstance(user_id, str):
            try:
                user_id = uuid.UUID(user_id)
            except ValueError:
                user_id = None
        role = errors.choice(f"team[{i}].role", entry.get("role"), CareTeamRole.values, "unknown_role")
        if not isinstance(user_id, uuid.UUID):
            errors.add(f"team[{i}].user_id", "a user id is expected", "invalid")
        elif any(u == user_id for u, _ in entries):
            errors.add(f"team[{i}].user_id", "this member is already on the team", "duplicate_member")
        elif role:
            entries.append((user_id, role))
    clinicians = _clinicians_here(ctx, [u for u, _ in entries]) if entries else set()
    for i, (user_id, _role) in enumerate(entries):
        if user_id not in clinicians:
            errors.add(f"team[{i}].user_id", "not a clinician of this organization", "not_a_clinician")
    return entries


def _department(ctx: Ctx, errors: _Errors, department_id: uuid.UUID | None) -> uuid.UUID | None:
    if department_id is None:
        return None
    if not Department.objects.for_tenant(ctx).filter(id=department_id, is_active=True).exists():
        errors.add("department_id", "no such department here", "unknown_department")
        return None
    return department_id


def _require_clinician(ctx: Ctx, action: str) -> None:
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("care plans are written by clinicians"))


# --------------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------------


def default_care_plan_templates() -> list[dict[str, Any]]:
    """The shipped defaults (hypertension, type 2 diabetes, antenatal care, post-operative recovery)."""
    return list(json.loads(TEMPLATES_FILE.read_text())["templates"])


def care_plan_templates_seed(*, ctx: Ctx) -> int:
    """Give `ctx`'s organization the default templates it lacks, pending a department head's approval
    (idempotent: a default retired or changed here is not brought back); returns how many were added."""
    have = set(CarePlanTemplate.objects.for_tenant(ctx).exclude(code="").values_list("code", flat=True))
    now = timezone.now()
    missing = [
        CarePlanTemplate(
            organization_id=ctx.organization_id,
            code=t["code"],
            name=t["name"],
            description=t["description"],
            goals=t["goals"],
            activities=t["activities"],
            team_roles=t["team_roles"],
            status=TemplateStatus.PENDING_APPROVAL,
            submitted_at=now,
        )
        for t in default_care_plan_templates()
        if t["code"] not in have
    ]
    if missing:
        with audit.atomic():
            CarePlanTemplate.objects.for_tenant(ctx).bulk_create(missing, ignore_conflicts=True)
            audit.record(ctx, "clinical.care_plan_template.seed", codes=sorted(t.code for t in missing))
    return len(missing)


def care_plan_template_create(
    *,
    ctx: Ctx,
    name: str,
    description: str = "",
    department_id: uuid.UUID | None = None,
    goals: Sequence[Mapping[str, Any]] = (),
    activities: Sequence[Mapping[str, Any]] = (),
    team_roles: Sequence[str] = (),
) -> CarePlanTemplate:
    """A clinician's draft template for their organization (or one department)."""
    action = "clinical.care_plan_template.create"
    _require_clinician(ctx, action)
    errors = _Errors()
    fields = {
        "name": errors.text("name", name, limit=NAME_MAX, required=True),
        "description": errors.text("description", description, limit=TEXT_MAX),
        "department_id": _department(ctx, errors, department_id),
        "goals": _template_goals(errors, goals),
        "activities": _activities(errors, activities),
        "team_roles": _team_roles(errors, team_roles),
    }
    errors.raise_if_any()
    with audit.atomic():
        template = CarePlanTemplate.objects.create(
            organization_id=ctx.organization_id, created_by_id=ctx.actor_id, status=TemplateStatus.DRAFT, **fields
        )
        audit.record(ctx, action, target=template)
    return template


def _template_checked(ctx: Ctx, action: str, template_id: uuid.UUID, *, head: bool = False) -> CarePlanTemplate:
    """The template, after the role checks (a department head's for `head`). Called before the write's
    transaction, so that the audit record of a refusal is kept."""
    _require_clinician(ctx, action)
    template = CarePlanTemplate.objects.for_tenant(ctx).filter(id=template_id).first()
    if template is None:
        raise audit.denied(ctx, action, NotFound("no such care plan template"), resource_id=str(template_id))
    if head:
        _head_only(ctx, action, template)
    return template


def _template_locked(ctx: Ctx, template_id: uuid.UUID) -> CarePlanTemplate:
    return CarePlanTemplate.objects.for_tenant(ctx).select_for_update().get(id=template_id)


def _template_move(ctx: Ctx, template: CarePlanTemplate, to_status: str, action: str, **detail: Any) -> None:
    if to_status not in TEMPLATE_MOVES[template.status]:
        raise Conflict(
            f"a template that is {template.status} cannot become {to_status}",
            code="ILLEGAL_TRANSITION",
            from_status=template.status,
            to_status=to_status,
        )
    from_status, now = template.status, timezone.now()
    template.status = to_status
    fields = ["status", "updated_at"]
    if to_status == TemplateStatus.PENDING_APPROVAL:
        template.submitted_by_id, template.submitted_at = ctx.actor_id, now
        fields += ["submitted_by", "submitted_at"]
    elif to_status == TemplateStatus.APPROVED:
        template.approved_by_id, template.approved_at = ctx.actor_id, now
        fields += ["approved_by", "approved_at"]
    elif to_status == TemplateStatus.RETIRED:
        template.retired_at = now
        fields.append("retired_at")
    template.save(update_fields=fields)
    audit.record(ctx, action, target=template, from_status=from_status, to_status=to_status, **detail)


def care_plan_template_update(
    *,
    ctx: Ctx,
    template_id: uuid.UUID,
    name: Any = UNCHANGED,
    description: Any = UNCHANGED,
    department_id: Any = UNCHANGED,
    goals: Any = UNCHANGED,
    activities: Any = UNCHANGED,
    team_roles: Any = UNCHANGED,
) -> CarePlanTemplate:
    """Change a draft template (one pending approval or approved does not change: return it to draft,
    or write a new one)."""
    action = "clinical.care_plan_template.update"
    errors = _Errors()
    changes: dict[str, Any] = {}
    if name is not UNCHANGED:
        changes["name"] = errors.text("name", name, limit=NAME_MAX, required=True)
    if description is not UNCHANGED:
        changes["description"] = errors.text("description", description, limit=TEXT_MAX)
    if goals is not UNCHANGED:
        changes["goals"] = _template_goals(errors, goals)
    if activities is not UNCHANGED:
        changes["activities"] = _activities(errors, activities)
    if team_roles is not UNCHANGED:
        changes["team_roles"] = _team_roles(errors, team_roles)
    _template_checked(ctx, action, template_id)
    with audit.atomic():
        template = _template_locked(ctx, template_id)
        if department_id is not UNCHANGED:
            changes["department_id"] = _department(ctx, errors, department_id)
        errors.raise_if_any()
        if template.status != TemplateStatus.DRAFT:
            raise Conflict("only a draft template changes: return it to draft first", code="TEMPLATE_NOT_DRAFT")
        for field, value in changes.items():
            setattr(template, field, value)
        template.save(update_fields=[*changes, "updated_at"])
        audit.record(ctx, action, target=template, fields=sorted(changes))
    return template


def care_plan_template_submit(*, ctx: Ctx, template_id: uuid.UUID) -> CarePlanTemplate:
    """The draft goes to the department head for approval; it needs a goal."""
    action = "clinical.care_plan_template.submit"
    _template_checked(ctx, action, template_id)
    with audit.atomic():
        template = _template_locked(ctx, template_id)
        if template.status == TemplateStatus.DRAFT and not template.goals:
            raise ValidationFailed.field("goals", "a template needs at least one goal", code="no_goals")
        _template_move(ctx, template, TemplateStatus.PENDING_APPROVAL, action)
    return template


def _head_only(ctx: Ctx, action: str, template: CarePlanTemplate) -> None:
    if not policies.may_approve_template(ctx, template.department_id):
        raise audit.denied(
            ctx,
            action,
            Forbidden(
                "only a department head (of the template's department, or of none) decides on a care plan template",
                code="DEPARTMENT_HEAD_REQUIRED",
            ),
            resource_id=str(template.id),
        )


def care_plan_template_approve(*, ctx: Ctx, template_id: uuid.UUID) -> CarePlanTemplate:
    """A department head approves a template pending approval: from now on it makes plans."""
    action = "clinical.care_plan_template.approve"
    _template_checked(ctx, action, template_id, head=True)
    with audit.atomic():
        template = _template_locked(ctx, template_id)
        _template_move(ctx, template, TemplateStatus.APPROVED, action)
    return template


def care_plan_template_return(*, ctx: Ctx, template_id: uuid.UUID, reason: str) -> CarePlanTemplate:
    """A department head sends a template pending approval back to draft, saying why."""
    action = "clinical.care_plan_template.return"
    errors = _Errors()
    reason = errors.text("reason", reason, limit=TEXT_MAX, required=True)
    errors.raise_if_any()
    _template_checked(ctx, action, template_id, head=True)
    with audit.atomic():
        template = _template_locked(ctx, template_id)
        template.review_note = reason
        _template_move(ctx, template, TemplateStatus.DRAFT, action)
        template.save(update_fields=["review_note", "updated_at"])
    return template


def care_plan_template_retire(*, ctx: Ctx, template_id: uuid.UUID) -> CarePlanTemplate:
    """A department head retires an approved template: it makes no more plans (those made stay)."""
    action = "clinical.care_plan_template.retire"
    _template_checked(ctx, action, template_id, head=True)
    with audit.atomic():
        template = _template_locked(ctx, template_id)
        _template_move(ctx, template, TemplateStatus.RETIRED, action)
    return template


# --------------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------------


def _basis(access: policies.Access) -> dict[str, Any]:
    return {"break_glass": True} if access.break_glass else {}


def _today() -> dt.date:
    return timezone.localdate()


EARLIEST_START = dt.date(1900, 1, 1)
START_AHEAD = dt.timedelta(days=366)


def _period_start(errors: _Errors, start: Any) -> dt.date:
    """A plan starts on a date from 1900 to a year from now (its goals' due dates count from it)."""
    if not isinstance(start, dt.date):
        errors.add("period_start", "a date is expected", "invalid")
        return _today()
    if start < EARLIEST_START or start > _today() + START_AHEAD:
        errors.add("period_start", "a plan starts at the latest a year from now", "out_of_range")
        return _today()
    return start


def care_plan_create(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    title: str = "",
    template_id: uuid.UUID | None = None,
    description: str = "",
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    department_id: uuid.UUID | None = None,
    goals: Sequence[Mapping[str, Any]] = (),
    activities: Sequence[Mapping[str, Any]] = (),
    team: Sequence[Mapping[str, Any]] = (),
    activate: bool = False,
) -> CarePlan:
    """A plan for a patient in one's care: from an approved template (its goals, due from the plan's
    start, and its activities, then any given here) or from scratch. The team always has a lead: when
    none is named, the clinician making the plan leads it. A draft, or active at once (`activate`)."""
    action = "clinical.care_plan.create"
    access = require_access(ctx, action, patient_id, write=True)
    errors = _Errors()
    template = None
    if template_id is not None:
        template = CarePlanTemplate.objects.for_tenant(ctx).filter(id=template_id).first()
        if template is None:
            raise ValidationFailed.field("template_id", "no such template here", code="unknown_template")
        if template.status != TemplateStatus.APPROVED:
            raise Conflict(
                f"only an approved template makes plans; this one is {template.status}",
                code="TEMPLATE_NOT_APPROVED",
            )
    start = _period_start(errors, period_start or _today())
    if period_end is not None and period_end < start:
        errors.add("period_end", "the plan ends after it starts", "end_before_start")
    title = errors.text("title", title or (template.name if template else ""), limit=TITLE_MAX, required=True)
    description = errors.text("description", description, limit=TEXT_MAX)
    department_id = _department(ctx, errors, department_id)
    from_template: list[dict[str, Any]] = []
    if template is not None:
        from_template = [
            {
                "description": g["description"],
                "measure": g.get("measure", ""),
                "target": g.get("target", ""),
                "due_on": start + dt.timedelta(days=g["due_in_days"]) if g.get("due_in_days") is not None else None,
            }
            for g in template.goals
        ]
    plan_goals = from_template + _plan_goals(errors, goals, start=start)
    plan_activities = (_activities(errors, template.activities) if template else []) + _activities(errors, activities)
    members = _team(ctx, errors, team)
    errors.raise_if_any()
    if len(plan_goals) > GOALS_MAX or len(plan_activities) > ACTIVITIES_MAX:
        raise ValidationFailed.field("goals", f"at most {GOALS_MAX} goals and {ACTIVITIES_MAX} activities")
    if not any(role == CareTeamRole.LEAD for _, role in members):
        assert ctx.actor_id is not None
        members = [(u, r) for u, r in members if u != ctx.actor_id] + [(ctx.actor_id, CareTeamRole.LEAD)]
    if activate and not plan_goals:
        raise ValidationFailed.field("goals", "a plan without goals cannot be active", code="no_goals")
    now = timezone.now()
    with audit.atomic():
        plan = CarePlan.objects.create(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            template=template,
            title=title,
            description=description,
            status=CarePlanStatus.ACTIVE if activate else CarePlanStatus.DRAFT,
            period_start=start,
            period_end=period_end,
            department_id=department_id,
            created_by_id=ctx.actor_id,
            activated_at=now if activate else None,
        )
        _insert_goals(ctx, plan, plan_goals)
        CarePlanActivity.objects.for_tenant(ctx).bulk_create(
            CarePlanActivity(organization_id=ctx.organization_id, plan=plan, position=i, **a)
            for i, a in enumerate(plan_activities)
        )
        CarePlanMember.objects.for_tenant(ctx).bulk_create(
            CarePlanMember(organization_id=ctx.organization_id, plan=plan, user_id=u, role=r, added_by_id=ctx.actor_id)
            for u, r in members
        )
        audit.record(
            ctx,
            action,
            target=plan,
            patient_id=patient_id,
            template=str(template.id) if template else "",
            status=plan.status,
            goals=len(plan_goals),
            activities=len(plan_activities),
            team=[str(u) for u, _ in members],
            **_basis(access),
        )
        if activate:
            _published(ctx, plan, CarePlanStatus.DRAFT)
    return plan


def _insert_goals(ctx: Ctx, plan: CarePlan, goals: list[dict[str, Any]], *, first_position: int = 0) -> None:
    CarePlanGoal.objects.for_tenant(ctx).bulk_create(
        CarePlanGoal(organization_id=ctx.organization_id, plan=plan, position=first_position + i, **g)
        for i, g in enumerate(goals)
    )


def _published(ctx: Ctx, plan: CarePlan, from_status: str) -> None:
    events.publish(
        ctx,
        CarePlanStatusChanged(
            plan_id=plan.id,
            organization_id=plan.organization_id,
            patient_id=plan.patient_id,
            from_status=from_status,
            to_status=plan.status,
        ),
    )


def _plan_checked(ctx: Ctx, action: str, plan_id: uuid.UUID) -> tuple[CarePlan, policies.Access]:
    """The plan when `ctx` may change it: a clinician with a care relationship, and the plan still
    open (a completed or revoked plan is read-only: 409 CARE_PLAN_CLOSED). Called before the write's
    transaction, so that the audit record of a refusal is kept."""
    _require_clinician(ctx, action)
    plan = CarePlan.objects.for_tenant(ctx).filter(id=plan_id).first()
    if plan is None:
        raise audit.denied(ctx, action, NotFound("no such care plan"), resource_id=str(plan_id))
    access = require_access(ctx, action, plan.patient_id, write=True)
    if plan.status in CARE_PLAN_CLOSED:
        raise audit.denied(ctx, action, _closed(plan), resource_id=str(plan_id), patient_id=plan.patient_id)
    return plan, access


def _closed(plan: CarePlan) -> Conflict:
    return Conflict(f"a {plan.status} care plan is read-only", code="CARE_PLAN_CLOSED")


def _plan_locked(ctx: Ctx, plan_id: uuid.UUID) -> CarePlan:
    """The plan, locked for the write; still open (it may have closed since the checks)."""
    plan = CarePlan.objects.for_tenant(ctx).select_for_update().get(id=plan_id)
    if plan.status in CARE_PLAN_CLOSED:
        raise _closed(plan)
    return plan


def care_plan_update(
    *,
    ctx: Ctx,
    plan_id: uuid.UUID,
    title: Any = UNCHANGED,
    description: Any = UNCHANGED,
    period_start: Any = UNCHANGED,
    period_end: Any = UNCHANGED,
) -> CarePlan:
    """Change an open plan's title, description or period."""
    action = "clinical.care_plan.update"
    errors = _Errors()
    changes: dict[str, Any] = {}
    if title is not UNCHANGED:
        changes["title"] = errors.text("title", title, limit=TITLE_MAX, required=True)
    if description is not UNCHANGED:
        changes["description"] = errors.text("description", description, limit=TEXT_MAX)
    errors.raise_if_any()
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        if period_start is not UNCHANGED:
            changes["period_start"] = _period_start(errors, period_start)
        if period_end is not UNCHANGED:
            changes["period_end"] = period_end
        start, end = changes.get("period_start", plan.period_start), changes.get("period_end", plan.period_end)
        if isinstance(start, dt.date) and end is not None and end < start:
            errors.add("period_end", "the plan ends after it starts", "end_before_start")
        errors.raise_if_any()
        for field, value in changes.items():
            setattr(plan, field, value)
        plan.save(update_fields=[*changes, "updated_at"])
        audit.record(ctx, action, target=plan, patient_id=plan.patient_id, fields=sorted(changes), **_basis(access))
    return plan


def care_plan_status_set(*, ctx: Ctx, plan_id: uuid.UUID, status: str, reason: str = "") -> CarePlan:
    """Move a plan: draft → active (it needs a goal) or revoked; active ⇄ on hold; active or on hold →
    completed or revoked. Putting on hold and revoking say why. Anything else: 409 ILLEGAL_TRANSITION."""
    action = "clinical.care_plan.status"
    errors = _Errors()
    status = errors.choice("status", status, CarePlanStatus.values, "unknown_status")
    reason = errors.text("reason", reason, limit=TEXT_MAX)
    if status in (CarePlanStatus.ON_HOLD, CarePlanStatus.REVOKED) and not reason:
        errors.add("reason", "say why", "required")
    errors.raise_if_any()
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        if status not in PLAN_MOVES[plan.status]:
            raise Conflict(
                f"a care plan that is {plan.status} cannot become {status}",
                code="ILLEGAL_TRANSITION",
                from_status=plan.status,
                to_status=status,
            )
        if (
            status == CarePlanStatus.ACTIVE
            and not CarePlanGoal.objects.for_tenant(ctx).filter(plan_id=plan.id).exists()
        ):
            raise ValidationFailed.field("goals", "a plan without goals cannot be active", code="no_goals")
        from_status, now = plan.status, timezone.now()
        plan.status, plan.status_reason = status, reason
        fields = ["status", "status_reason", "updated_at"]
        if status == CarePlanStatus.ACTIVE and plan.activated_at is None:
            plan.activated_at = now
            fields.append("activated_at")
        if status in CARE_PLAN_CLOSED:
            plan.ended_at = now
            fields.append("ended_at")
            if status == CarePlanStatus.COMPLETED and plan.period_end is None:
                plan.period_end = max(timezone.localdate(), plan.period_start)
                fields.append("period_end")
        plan.save(update_fields=fields)
        audit.record(
            ctx,
            action,
            target=plan,
            patient_id=plan.patient_id,
            from_status=from_status,
            to_status=status,
            **_basis(access),
        )
        _published(ctx, plan, from_status)
    return plan


def care_plan_goal_add(
    *,
    ctx: Ctx,
    plan_id: uuid.UUID,
    description: str,
    measure: str = "",
    target: str = "",
    due_on: dt.date | None = None,
) -> CarePlanGoal:
    """Add a goal to an open plan."""
    action = "clinical.care_plan.goal_add"
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        errors = _Errors()
        goal = _goal(
            errors,
            "",
            {"description": description, "measure": measure, "target": target, "due_on": due_on},
            start=plan.period_start,
        )
        errors.raise_if_any()
        have = CarePlanGoal.objects.for_tenant(ctx).filter(plan_id=plan.id).count()
        if have >= GOALS_MAX:
            raise Conflict(f"a plan has at most {GOALS_MAX} goals", code="TOO_MANY_GOALS")
        created = CarePlanGoal.objects.create(organization_id=ctx.organization_id, plan=plan, position=have, **goal)
        audit.record(ctx, action, target=created, patient_id=plan.patient_id, plan=str(plan.id), **_basis(access))
    return created


def care_plan_goal_progress_add(
    *, ctx: Ctx, goal_id: uuid.UUID, achievement_status: str, value: str = "", note: str = ""
) -> GoalProgress:
    """Record progress on a goal of an active (or on-hold) plan: a new entry, the earlier ones kept;
    the goal's achievement status becomes the entry's."""
    action = "clinical.care_plan.goal_progress"
    errors = _Errors()
    achievement_status = errors.choice(
        "achievement_status", achievement_status, GoalAchievement.values, "unknown_status"
    )
    value = errors.text("value", value, limit=SHORT_MAX)
    note = errors.text("note", note, limit=TEXT_MAX)
    errors.raise_if_any()
    _require_clinician(ctx, action)
    plan_id = CarePlanGoal.objects.for_tenant(ctx).filter(id=goal_id).values_list("plan_id", flat=True).first()
    if plan_id is None:
        raise audit.denied(ctx, action, NotFound("no such goal"), resource_id=str(goal_id))
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        if plan.status not in PROGRESS_WHILE:
            raise Conflict("progress is recorded on an active plan", code="CARE_PLAN_NOT_ACTIVE")
        goal = CarePlanGoal.objects.for_tenant(ctx).select_for_update().get(id=goal_id)
        entry = GoalProgress.objects.create(
            organization_id=ctx.organization_id,
            goal=goal,
            recorded_at=timezone.now(),
            recorded_by_id=ctx.actor_id,
            achievement_status=achievement_status,
            value=value,
            note=note,
        )
        previous = goal.achievement_status
        goal.achievement_status = achievement_status
        goal.save(update_fields=["achievement_status", "updated_at"])
        audit.record(
            ctx,
            action,
            target=entry,
            patient_id=plan.patient_id,
            goal=str(goal.id),
            from_status=previous,
            to_status=achievement_status,
            **_basis(access),
        )
    return entry


def care_plan_activity_add(
    *, ctx: Ctx, plan_id: uuid.UUID, kind: str, description: str, schedule: str = ""
) -> CarePlanActivity:
    """Add an activity to an open plan."""
    action = "clinical.care_plan.activity_add"
    errors = _Errors()
    (activity,) = _activities(errors, [{"kind": kind, "description": description, "schedule": schedule}])
    errors.raise_if_any()
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        have = CarePlanActivity.objects.for_tenant(ctx).filter(plan_id=plan.id).count()
        if have >= ACTIVITIES_MAX:
            raise Conflict(f"a plan has at most {ACTIVITIES_MAX} activities", code="TOO_MANY_ACTIVITIES")
        created = CarePlanActivity.objects.create(
            organization_id=ctx.organization_id, plan=plan, position=have, **activity
        )
        audit.record(ctx, action, target=created, patient_id=plan.patient_id, plan=str(plan.id), **_basis(access))
    return created


def care_plan_activity_status_set(*, ctx: Ctx, activity_id: uuid.UUID, status: str) -> CarePlanActivity:
    """Where an activity of an open plan stands; a completed or cancelled activity stays so."""
    action = "clinical.care_plan.activity_status"
    errors = _Errors()
    status = errors.choice("status", status, ActivityStatus.values, "unknown_status")
    errors.raise_if_any()
    _require_clinician(ctx, action)
    plan_id = CarePlanActivity.objects.for_tenant(ctx).filter(id=activity_id).values_list("plan_id", flat=True).first()
    if plan_id is None:
        raise audit.denied(ctx, action, NotFound("no such activity"), resource_id=str(activity_id))
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        activity = CarePlanActivity.objects.for_tenant(ctx).select_for_update().get(id=activity_id)
        if activity.status in ACTIVITY_DONE or status == activity.status:
            raise Conflict(
                f"an activity that is {activity.status} cannot become {status}",
                code="ILLEGAL_TRANSITION",
                from_status=activity.status,
                to_status=status,
            )
        previous, activity.status = activity.status, status
        activity.save(update_fields=["status", "updated_at"])
        audit.record(
            ctx,
            action,
            target=activity,
            patient_id=plan.patient_id,
            from_status=previous,
            to_status=status,
            **_basis(access),
        )
    return activity


def care_plan_member_add(*, ctx: Ctx, plan_id: uuid.UUID, user_id: uuid.UUID, role: str) -> CarePlanMember:
    """Add a clinician of the organization to an open plan's care team, in a role."""
    action = "clinical.care_plan.member_add"
    errors = _Errors()
    role = errors.choice("role", role, CareTeamRole.values, "unknown_role")
    errors.raise_if_any()
    _, access = _plan_checked(ctx, action, plan_id)
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        if user_id not in _clinicians_here(ctx, [user_id]):
            raise ValidationFailed.field("user_id", "not a clinician of this organization", code="not_a_clinician")
        if CarePlanMember.objects.for_tenant(ctx).filter(plan_id=plan.id, user_id=user_id).exists():
            raise Conflict("this clinician is already on the care team", code="MEMBER_PRESENT")
        if CarePlanMember.objects.for_tenant(ctx).filter(plan_id=plan.id).count() >= TEAM_MAX:
            raise Conflict(f"a care team has at most {TEAM_MAX} members", code="TEAM_FULL")
        member = CarePlanMember.objects.create(
            organization_id=ctx.organization_id, plan=plan, user_id=user_id, role=role, added_by_id=ctx.actor_id
        )
        audit.record(
            ctx, action, target=member, patient_id=plan.patient_id, user=str(user_id), role=role, **_basis(access)
        )
    return member


def care_plan_member_remove(*, ctx: Ctx, plan_id: uuid.UUID, member_id: uuid.UUID) -> None:
    """Take a member off an open plan's care team; the team keeps a lead."""
    action = "clinical.care_plan.member_remove"
    _, access = _plan_checked(ctx, action, plan_id)
    if not CarePlanMember.objects.for_tenant(ctx).filter(id=member_id, plan_id=plan_id).exists():
        raise audit.denied(ctx, action, NotFound("no such member of this care team"), resource_id=str(member_id))
    with audit.atomic():
        plan = _plan_locked(ctx, plan_id)
        team = list(CarePlanMember.objects.for_tenant(ctx).select_for_update().filter(plan_id=plan.id))
        member = next((m for m in team if m.id == member_id), None)
        if member is None:  # removed meanwhile
            raise NotFound("no such member of this care team")
        if member.role == CareTeamRole.LEAD and not any(
            m.role == CareTeamRole.LEAD and m.id != member.id for m in team
        ):
            raise Conflict("the care team keeps a lead: name another lead first", code="LEAD_REQUIRED")
        CarePlanMember.objects.for_tenant(ctx).filter(id=member.id).delete()
        audit.record(
            ctx,
            action,
            resource_type=CarePlanMember._meta.label,
            resource_id=member.id,
            patient_id=plan.patient_id,
            user=str(member.user_id),
            role=member.role,
            **_basis(access),
        )


# --------------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------------

PLAN_LIST_MAX = 50


def _detailed(plans: QuerySet[CarePlan], ctx: Ctx) -> QuerySet[CarePlan]:
    """Plans with their goals (each with its progress), activities and team: four more queries, however
    many plans. `ctx` scopes the related rows (the caller's organization, or a system scope)."""

    def scoped(model: Any) -> QuerySet[Any]:
        return model.objects.for_system(ctx) if ctx.is_system else model.objects.for_tenant(ctx)

    return plans.select_related("department").prefetch_related(
        Prefetch(
            "goals",
            queryset=scoped(CarePlanGoal)
            .order_by("position", "id")
            .prefetch_related(
                Prefetch(
                    "progress", queryset=scoped(GoalProgress).order_by("recorded_at", "id"), to_attr="progress_list"
                )
            ),
            to_attr="goal_list",
        ),
        Prefetch("activities", queryset=scoped(CarePlanActivity).order_by("position", "id"), to_attr="activity_list"),
        Prefetch(
            "team",
            queryset=scoped(CarePlanMember).select_related("user").order_by("created_at", "id"),
            to_attr="team_list",
        ),
    )


@audit.reads_health_data
def care_plan_list(*, ctx: Ctx, patient_id: uuid.UUID, status: str = "") -> list[CarePlan]:
    """A patient's care plans here, with goals, activities and team; open plans first, then latest."""
    action = "clinical.care_plan.list"
    access = require_access(ctx, action, patient_id)
    if status and status not in CarePlanStatus.values:
        raise ValidationFailed.field("status", f"one of {', '.join(CarePlanStatus.values)}", code="unknown_status")
    plans = CarePlan.objects.for_tenant(ctx).filter(patient_id=patient_id)
    if status:
        plans = plans.filter(status=status)
    found = sorted(
        _detailed(plans.order_by("-period_start", "-id"), ctx)[:PLAN_LIST_MAX],
        key=lambda p: p.status in CARE_PLAN_CLOSED,
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


@audit.reads_health_data
def care_plan_get(*, ctx: Ctx, plan_id: uuid.UUID) -> CarePlan:
    """One care plan of a patient one may read here."""
    action = "clinical.care_plan.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    plan = _detailed(CarePlan.objects.for_tenant(ctx).filter(id=plan_id), ctx).first()
    if plan is None:
        raise audit.denied(ctx, action, NotFound("no such care plan"), resource_id=str(plan_id))
    access = require_access(ctx, action, plan.patient_id)
    audit.record(ctx, action, target=plan, patient_id=plan.patient_id, read=True, **_basis(access))
    return plan


@audit.reads_health_data
def care_plan_template_list(*, ctx: Ctx, status: str = "") -> list[CarePlanTemplate]:
    """The organization's templates (one status, or all), by name. Templates hold no patient data;
    who reads them is recorded like every read of the record."""
    action = "clinical.care_plan_template.list"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("care plan templates are for clinicians"))
    if status and status not in TemplateStatus.values:
        raise ValidationFailed.field("status", f"one of {', '.join(TemplateStatus.values)}", code="unknown_status")
    templates = CarePlanTemplate.objects.for_tenant(ctx)
    if status:
        templates = templates.filter(status=status)
    found = list(templates.order_by("name", "id"))
    audit.record(ctx, action, read=True, status=status)
    return found


@audit.reads_health_data
def care_plan_template_get(*, ctx: Ctx, template_id: uuid.UUID) -> CarePlanTemplate:
    """One template of the organization."""
    action = "clinical.care_plan_template.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("care plan templates are for clinicians"))
    template = CarePlanTemplate.objects.for_tenant(ctx).filter(id=template_id).first()
    if template is None:
        raise audit.denied(ctx, action, NotFound("no such care plan template"), resource_id=str(template_id))
    audit.record(ctx, action, target=template, read=True)
    return template


@audit.reads_health_data
def my_care_plans(*, ctx: Ctx) -> list[CarePlan]:
    """The signed-in patient's active care plans at every hospital (read-only for them)."""
    action = "clinical.care_plan.list"
    patient = my_patient(ctx)
    if patient is None:
        raise audit.denied(ctx, action, NotFound("no patient record is linked to this account"))
    # SECURITY: a patient's own plans at every hospital; the filter on their own record is the scope.
    system = Ctx.system(reason="a patient reads their own care plans")
    plans = CarePlan.objects.for_system(system).filter(patient_id=patient.id, status=CarePlanStatus.ACTIVE)
    found = list(_detailed(plans.order_by("-period_start", "-id"), system)[:PLAN_LIST_MAX])
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True, results=len(found))
    return found


@dataclass(frozen=True)
class GoalLine:
    description: str
    target: str
    due_on: dt.date | None
    achievement_status: str
    overdue: bool


@dataclass(frozen=True)
class PlanLine:
    id: uuid.UUID
    title: str
    status: str
    period_start: dt.date
    period_end: dt.date | None
    goals: int
    achieved: int
    overdue: int
    next_due: GoalLine | None  # the open goal due soonest


@dataclass(frozen=True)
class CarePlanSummary:
    """For the chart: a patient's open plans here (active, on hold, draft) and how many are closed."""

    patient_id: uuid.UUID
    open_plans: tuple[PlanLine, ...]
    closed: int


_GOAL_MET = (GoalAchievement.ACHIEVED, GoalAchievement.SUSTAINING)
_GOAL_OVER = (*_GOAL_MET, GoalAchievement.NOT_ATTAINABLE)


@audit.reads_health_data
def care_plan_summary(*, ctx: Ctx, patient_id: uuid.UUID) -> CarePlanSummary:
    """The chart's summary of a patient's care plans here (two queries after the access check)."""
    action = "clinical.care_plan.summary"
    access = require_access(ctx, action, patient_id)
    plans = list(
        CarePlan.objects.for_tenant(ctx)
        .filter(patient_id=patient_id)
        .only("id", "organization_id", "title", "status", "period_start", "period_end")
        .order_by("-period_start", "-id")
    )
    open_ids = [p.id for p in plans if p.status in CARE_PLAN_OPEN]
    goals: dict[uuid.UUID, list[CarePlanGoal]] = {i: [] for i in open_ids}
    if open_ids:
        for goal in (
            CarePlanGoal.objects.for_tenant(ctx)
            .filter(plan_id__in=open_ids)
            .only("id", "organization_id", "plan_id", "description", "target", "due_on", "achievement_status")
            .order_by("position", "id")
        ):
            goals[goal.plan_id].append(goal)
    today = timezone.localdate()

    def line(goal: CarePlanGoal) -> GoalLine:
        overdue = goal.due_on is not None and goal.due_on < today and goal.achievement_status not in _GOAL_OVER
        return GoalLine(goal.description, goal.target, goal.due_on, goal.achievement_status, overdue)

    lines = []
    order = {CarePlanStatus.ACTIVE: 0, CarePlanStatus.ON_HOLD: 1, CarePlanStatus.DRAFT: 2}
    for plan in sorted((p for p in plans if p.status in CARE_PLAN_OPEN), key=lambda p: order[p.status]):
        mine = [line(g) for g in goals[plan.id]]
        pending = sorted(
            (g for g in mine if g.due_on is not None and g.achievement_status not in _GOAL_OVER),
            key=lambda g: g.due_on or today,
        )
        lines.append(
            PlanLine(
                id=plan.id,
                title=plan.title,
                status=plan.status,
                period_start=plan.period_start,
                period_end=plan.period_end,
                goals=len(mine),
                achieved=sum(g.achievement_status in _GOAL_MET for g in mine),
                overdue=sum(g.overdue for g in mine),
                next_due=pending[0] if pending else None,
            )
        )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(plans), **_basis(access))
    return CarePlanSummary(patient_id=patient_id, open_plans=tuple(lines), closed=len(plans) - len(open_ids))
