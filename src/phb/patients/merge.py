"""Merging two records of the same person, and undoing it within 30 days.

One record survives; every row that points at the other moves to it, through a registry of merge
handlers (this app registers its own; later apps register theirs for encounters, orders, ...); the
other record becomes a redirect (`merged_into`). Each handler returns what it moved, kept with the
merge, so that undo moves exactly those rows back.

    register_merge_handler("encounters", move=move_encounters, undo=undo_encounters)
    register_rows_handler("allergies", AllergyIntolerance, keep=...)  # or, for plain row moves

A handler's `move(survivor_id, merged_id)` returns a JSON-able record; `undo(survivor_id, merged_id,
record)` reverses it. Both run inside the merge's transaction with every tenant's rows reachable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.models import (
    Consent,
    DuplicateCandidate,
    DuplicateStatus,
    EmergencyContact,
    InsurancePolicy,
    Patient,
    PatientMerge,
    PatientRegistration,
)

UNDO_DAYS = 30


@dataclass(frozen=True)
class MergeHandler:
    move: Callable[[uuid.UUID, uuid.UUID], Any]
    undo: Callable[[uuid.UUID, uuid.UUID, Any], None]


MERGE_HANDLERS: dict[str, MergeHandler] = {}


def register_merge_handler(
    name: str, *, move: Callable[[uuid.UUID, uuid.UUID], Any], undo: Callable[[uuid.UUID, uuid.UUID, Any], None]
) -> None:
    if name in MERGE_HANDLERS:
        raise ValueError(f"a merge handler named {name!r} is already registered")
    MERGE_HANDLERS[name] = MergeHandler(move=move, undo=undo)


def _system() -> Ctx:
    return Ctx.system(reason="patient merge moves rows of every organization")


# --- this app's handlers ----------------------------------------------------------------------------


def _move_registrations(survivor_id: uuid.UUID, merged_id: uuid.UUID) -> dict[str, list[str]]:
    """Registrations at organizations where the survivor has none move; where both are registered,
    the survivor's stays and the other remains with the redirect. At most one stays primary."""
    everywhere = PatientRegistration.objects.for_system(_system())
    held = set(everywhere.filter(patient_id=survivor_id).values_list("organization_id", flat=True))
    movable = everywhere.filter(patient_id=merged_id).exclude(organization_id__in=held)
    moved = [str(i) for i in movable.values_list("id", flat=True)]
    demoted: list[str] = []
    if everywhere.filter(patient_id=survivor_id, is_primary=True).exists():
        demoted = [str(i) for i in movable.filter(is_primary=True).values_list("id", flat=True)]
        everywhere.filter(id__in=demoted).update(is_primary=False)
    everywhere.filter(id__in=moved).update(patient_id=survivor_id)
    return {"moved": moved, "demoted": demoted}


def _undo_registrations(survivor_id: uuid.UUID, merged_id: uuid.UUID, record: dict[str, list[str]]) -> None:
    everywhere = PatientRegistration.objects.for_system(_system())
    everywhere.filter(id__in=record["moved"]).update(patient_id=merged_id)
    everywhere.filter(id__in=record["demoted"]).update(is_primary=True)


def register_rows_handler(name: str, model: Any, *, keep: Callable[[uuid.UUID, uuid.UUID], Any] | None = None) -> None:
    """Register a handler that moves the merged record's rows of `model` (every organization's, for a
    tenant-owned model) to the survivor. `keep(survivor_id, merged_id)` selects rows that stay with the
    redirect because the survivor already holds their like (an active allergy to the same substance,
    ...): moving them would break a uniqueness rule, and the survivor's row says the same."""
    rows = _rows(model, keep)
    register_merge_handler(name, move=rows.move, undo=rows.undo)


def _rows(model: Any, keep: Callable[[uuid.UUID, uuid.UUID], Any] | None = None) -> MergeHandler:
    def everywhere() -> Any:
        manager = model.objects
        return manager.for_system(_system()) if hasattr(manager, "for_system") else manager.all()

    def move(survivor_id: uuid.UUID, merged_id: uuid.UUID) -> list[str]:
        movable = everywhere().filter(patient_id=merged_id)
        if keep is not None:
            movable = movable.exclude(keep(survivor_id, merged_id))
        ids = [str(i) for i in movable.values_list("id", flat=True)]
        everywhere().filter(id__in=ids).update(patient_id=survivor_id)
        return ids

    def undo(survivor_id: uuid.UUID, merged_id: uuid.UUID, ids: list[str]) -> None:
        everywhere().filter(id__in=ids).update(patient_id=merged_id)

    return MergeHandler(move=move, undo=undo)


def _move_account(survivor_id: uuid.UUID, merged_id: uuid.UUID) -> str | None:
    """The patient's portal account follows the survivor, unless the survivor has one of its own."""
    merged = Patient.objects.get(id=merged_id)
    if merged.user_id is None or Patient.objects.filter(id=survivor_id, user__isnull=False).exists():
        return None
    user_id = merged.user_id
    Patient.objects.filter(id=merged_id).update(user=None)
    Patient.objects.filter(id=survivor_id).update(user_id=user_id)
    return str(user_id)


def _undo_account(survivor_id: uuid.UUID, merged_id: uuid.UUID, user_id: str | None) -> None:
    if user_id:
        Patient.objects.filter(id=survivor_id).update(user=None)
        Patient.objects.filter(id=merged_id).update(user_id=user_id)


register_merge_handler("registrations", move=_move_registrations, undo=_undo_registrations)
for _name, _model in (
    ("emergency_contacts", EmergencyContact),
    ("insurance_policies", InsurancePolicy),
    ("consents", Consent),
):
    register_rows_handler(_name, _model)
register_merge_handler("account", move=_move_account, undo=_undo_account)


# --- merge and undo ---------------------------------------------------------------------------------


def _visible_here(ctx: Ctx, patient_id: uuid.UUID) -> bool:
    return PatientRegistration.objects.for_tenant(ctx).filter(patient_id=patient_id).exclude(status="rejected").exists()


def patient_merge(*, ctx: Ctx, survivor_id: uuid.UUID, merged_id: uuid.UUID) -> PatientMerge:
    """Merge `merged_id` into `survivor_id` (both registered at `ctx`'s organization). Audited on both."""
    if not ctx.has_perm("patients.patient.merge"):
        raise Forbidden("merging records needs the records officer or administrator role")
    if survivor_id == merged_id:
        raise ValidationFailed("A record cannot be merged into itself.", code="MERGE_SAME_RECORD")
    with transaction.atomic():
        # Lock both records, in a fixed order, so that two merges of the same records never interleave.
        locked = {p.id: p for p in Patient.objects.select_for_update().filter(id__in=sorted([survivor_id, merged_id]))}
        if len(locked) < 2 or not (_visible_here(ctx, survivor_id) and _visible_here(ctx, merged_id)):
            raise NotFound("no such patient")  # SECURITY: records not registered here are not found
        if locked[survivor_id].merged_into_id or locked[merged_id].merged_into_id:
            raise Conflict("One of these records was already merged into another.", code="MERGE_PENDING")
        # The redirect first: the database lets a signed row (a note, a prescription) change patient only
        # between a record and the record it is merged into.
        Patient.objects.filter(id=merged_id).update(merged_into_id=survivor_id, updated_at=timezone.now())
        moved = {name: handler.move(survivor_id, merged_id) for name, handler in MERGE_HANDLERS.items()}
        merge = PatientMerge.objects.create(
            survivor_id=survivor_id,
            merged_id=merged_id,
            organization_id=ctx.organization_id,
            merged_by=ctx.actor_id,
            moved=moved,
            undo_until=timezone.now() + dt.timedelta(days=UNDO_DAYS),
        )
        low, high = sorted((survivor_id, merged_id))
        DuplicateCandidate.objects.for_system(_system()).filter(patient_id=low, other_id=high).update(
            status=DuplicateStatus.MERGED, decided_by_id=ctx.actor_id, decided_at=timezone.now()
        )
        for patient_id in (survivor_id, merged_id):
            audit.record(ctx, "patients.patient.merge", target=merge, patient_id=patient_id)
    return merge


def patient_merge_undo(*, ctx: Ctx, merge_id: uuid.UUID) -> PatientMerge:
    """Undo a merge within 30 days: every moved row goes back and the redirect becomes a record again."""
    if not ctx.has_perm("patients.patient.merge"):
        raise Forbidden("undoing a merge needs the records officer or administrator role")
    with transaction.atomic():
        merge = PatientMerge.objects.select_for_update().filter(id=merge_id).first()
        if merge is None or merge.organization_id != ctx.organization_id:
            raise NotFound("no such merge")
        if merge.undone_at is not None:
            raise Conflict("This merge was already undone.", code="MERGE_ALREADY_UNDONE")
        if timezone.now() > merge.undo_until:
            raise Conflict(f"A merge can be undone within {UNDO_DAYS} days only.", code="MERGE_UNDO_EXPIRED")
        survivor = Patient.objects.select_for_update().get(id=merge.survivor_id)
        if survivor.merged_into_id is not None:
            raise Conflict("The surviving record was merged again since: undo that merge first.", code="MERGE_PENDING")
        for name, handler in reversed(MERGE_HANDLERS.items()):
            if name in merge.moved:
                handler.undo(merge.survivor_id, merge.merged_id, merge.moved[name])
        Patient.objects.filter(id=merge.merged_id).update(merged_into=None, updated_at=timezone.now())
        merge.undone_at, merge.undone_by = timezone.now(), ctx.actor_id
        merge.save(update_fields=["undone_at", "undone_by", "updated_at"])
        low, high = sorted((merge.survivor_id, merge.merged_id))
        DuplicateCandidate.objects.for_system(_system()).filter(patient_id=low, other_id=high).update(
            status=DuplicateStatus.OPEN, decided_by=None, decided_at=None
        )
        for patient_id in (merge.survivor_id, merge.merged_id):
            audit.record(ctx, "patients.patient.merge_undo", target=merge, patient_id=patient_id)
    return merge


def duplicate_dismiss(*, ctx: Ctx, candidate_id: uuid.UUID) -> DuplicateCandidate:
    """A reviewer decides the pair are two people."""
    if not ctx.has_perm("patients.patient.merge"):
        raise Forbidden("reviewing duplicates needs the records officer or administrator role")
    with transaction.atomic():
        candidate = DuplicateCandidate.objects.for_tenant(ctx).select_for_update().filter(id=candidate_id).first()
        if candidate is None:
            raise NotFound("no such duplicate candidate")
        if candidate.status != DuplicateStatus.OPEN:
            raise Conflict("This pair was already reviewed.", code="DUPLICATE_DECIDED")
        candidate.status, candidate.decided_by_id, candidate.decided_at = (
            DuplicateStatus.DISTINCT,
            ctx.actor_id,
            timezone.now(),
        )
        candidate.save()
        audit.record(ctx, "patients.duplicate.dismiss", target=candidate, patient_id=candidate.patient_id)
    return candidate
