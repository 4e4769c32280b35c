"""Reads of the clinical record: a patient's encounters, vital signs and notes; one encounter or
note; my critical alerts. Every read is audited, and a refused one too.

A patient is readable by a clinician with a care relationship here, or break-the-glass access
(policies.care_relationship); anyone else is answered "not found", exactly as for a patient who does
not exist or belongs to another organization. Lists are bounded and load what they show in a fixed
number of queries."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, Q, QuerySet

from phb.clinical import policies
from phb.clinical.models import (
    AlertStatus,
    ClinicalNote,
    CriticalAlert,
    Encounter,
    NoteKind,
    NoteStatus,
    NoteTemplate,
    Observation,
    ObservationStatus,
    VitalSignsSet,
)
from phb.clinical.services import require_access
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed

MAX_LIMIT = 200


def _limit(limit: int) -> int:
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed.field("limit", f"between 1 and {MAX_LIMIT}", code="out_of_range")
    return limit


def _basis(access: policies.Access) -> dict[str, bool]:
    return {"break_glass": True} if access.break_glass else {}


@audit.reads_health_data
def encounter_list(*, ctx: Ctx, patient_id: uuid.UUID) -> QuerySet[Encounter]:
    """A patient's encounters here, latest first."""
    action = "clinical.encounter.list"
    access = require_access(ctx, action, patient_id)
    audit.record(ctx, action, patient_id=patient_id, read=True, **_basis(access))
    return (
        Encounter.objects.for_tenant(ctx)
        .filter(patient_id=patient_id)
        .select_related("department", "attending")
        .order_by("-started_at", "-created_at")
    )


@audit.reads_health_data
def encounter_get(*, ctx: Ctx, encounter_id: uuid.UUID) -> Encounter:
    """One encounter of a patient one may read."""
    action = "clinical.encounter.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    encounter = (
        Encounter.objects.for_tenant(ctx).select_related("department", "attending").filter(id=encounter_id).first()
    )
    if encounter is None:
        raise audit.denied(ctx, action, NotFound("no such encounter"), resource_id=str(encounter_id))
    access = require_access(ctx, action, encounter.patient_id)
    audit.record(ctx, action, target=encounter, patient_id=encounter.patient_id, read=True, **_basis(access))
    return encounter


@audit.reads_health_data
def vital_signs_list(*, ctx: Ctx, patient_id: uuid.UUID, limit: int = 50) -> list[VitalSignsSet]:
    """A patient's latest sets of vital signs, latest first, each with its observations (two queries)."""
    action = "clinical.vital_signs.list"
    access = require_access(ctx, action, patient_id)
    limit = _limit(limit)
    sets = list(
        VitalSignsSet.objects.for_tenant(ctx)
        .filter(patient_id=patient_id)
        .exclude(observations__status=ObservationStatus.ENTERED_IN_ERROR)
        .prefetch_related(Prefetch("observations", queryset=Observation.objects.for_tenant(ctx).order_by("code")))
        .order_by("-effective_at", "-id")[:limit]
    )
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(sets), **_basis(access))
    return sets


def _visible_notes(ctx: Ctx) -> Q:
    """Signed notes, and one's own drafts (a draft is private to its author)."""
    return Q(status=NoteStatus.SIGNED) | Q(author_id=ctx.actor_id)


@audit.reads_health_data
def note_list(*, ctx: Ctx, patient_id: uuid.UUID, encounter_id: uuid.UUID | None = None) -> list[ClinicalNote]:
    """A patient's notes (not addenda: each note carries its own), latest first."""
    action = "clinical.note.list"
    access = require_access(ctx, action, patient_id)
    notes = (
        ClinicalNote.objects.for_tenant(ctx)
        .filter(_visible_notes(ctx), patient_id=patient_id)
        .exclude(kind=NoteKind.ADDENDUM)
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=ClinicalNote.objects.for_tenant(ctx).order_by("signed_at", "id"),
                to_attr="addenda_list",
            )
        )
        .order_by("-created_at", "-id")
    )
    if encounter_id is not None:
        notes = notes.filter(encounter_id=encounter_id)
    found = list(notes[:MAX_LIMIT])
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


@audit.reads_health_data
def note_get(*, ctx: Ctx, note_id: uuid.UUID) -> ClinicalNote:
    """One note (a signed note, or one's own draft) with its addenda."""
    action = "clinical.note.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    note = (
        ClinicalNote.objects.for_tenant(ctx)
        .filter(_visible_notes(ctx), id=note_id)
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=ClinicalNote.objects.for_tenant(ctx).order_by("signed_at", "id"),
                to_attr="addenda_list",
            )
        )
        .first()
    )
    if note is None:
        raise audit.denied(ctx, action, NotFound("no such note"), resource_id=str(note_id))
    access = require_access(ctx, action, note.patient_id)
    audit.record(ctx, action, target=note, patient_id=note.patient_id, read=True, **_basis(access))
    return note


@audit.reads_health_data
def critical_alert_list(*, ctx: Ctx, status: str = AlertStatus.OPEN) -> QuerySet[CriticalAlert]:
    """My alerts, newest first: those sent to me, and, for a department head, the escalated alerts of
    their department (of every department for a head with none)."""
    action = "clinical.critical_alert.list"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("critical alerts go to clinicians"))
    if status and status not in AlertStatus.values:
        raise ValidationFailed.field("status", "open or acknowledged", code="invalid")
    mine = Q(recipient_id=ctx.actor_id)
    if ctx.has_perm(policies.ESCALATION):
        department_id = policies.department_id_of(ctx)
        escalated = Q(escalated_at__isnull=False)
        mine |= escalated & Q(department_id=department_id) if department_id else escalated
    alerts = CriticalAlert.objects.for_tenant(ctx).filter(mine)
    if status:
        alerts = alerts.filter(status=status)
    audit.record(ctx, action, read=True, status=status)
    return alerts.select_related("department").order_by("-raised_at", "-id")


@audit.reads_health_data
def note_template_list(*, ctx: Ctx, department_id: uuid.UUID | None = None) -> list[NoteTemplate]:
    """The templates a note in `department_id` may start from, best fitting first: the department's
    own, then its kind's, then the general ones. Templates hold prompts, not health data, but who
    looks for them is recorded like every read of this module."""
    action = "clinical.note_template.list"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("note templates are for clinicians"))
    templates = NoteTemplate.objects.for_tenant(ctx).filter(is_active=True)
    kind = ""
    if department_id is not None:
        from phb.organizations.models import Department

        kind = Department.objects.for_tenant(ctx).filter(id=department_id).values_list("kind", flat=True).first() or ""
        templates = templates.filter(
            Q(department_id=department_id) | Q(department__isnull=True, department_kind__in=[kind, ""])
        )
    else:
        templates = templates.filter(department__isnull=True)

    def rank(t: NoteTemplate) -> tuple[int, str]:
        return (0 if t.department_id else 1 if t.department_kind and t.department_kind == kind else 2, t.name)

    found = sorted(templates, key=rank)
    audit.record(ctx, action, read=True, department=str(department_id or ""))
    return found
