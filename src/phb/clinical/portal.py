"""The patient's own medical record, in the portal: their encounters, vital signs, diagnoses and signed
notes (never a draft) at every hospital, read in a fixed number of queries and audited. The page sits
behind the step-up window (a fresh second factor), like a clinician's access."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from phb.clinical.chart import _set_row
from phb.clinical.models import (
    ClinicalNote,
    Diagnosis,
    DiagnosisStatus,
    Encounter,
    EncounterStatus,
    NoteKind,
    NoteStatus,
    Observation,
    VitalSignsSet,
)
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound
from phb.kernel.models import Organization
from phb.patients.public import my_patient

LIMIT = 50


@dataclass
class MedicalRecord:
    encounters: list[Encounter]
    vital_sets: list[dict[str, Any]]
    diagnoses: list[Diagnosis]
    notes: list[ClinicalNote]
    organizations: dict[Any, str]


@audit.reads_health_data
def my_medical_record(*, ctx: Ctx) -> MedicalRecord:
    """The signed-in patient's record at every hospital, newest first (at most 50 of each)."""
    action = "clinical.record.read_own"
    patient = my_patient(ctx)
    if patient is None:
        raise audit.denied(ctx, action, NotFound("no patient record is linked to this account"))
    system = Ctx.system(reason="a patient reads their own medical record")
    encounters = list(
        Encounter.objects.for_system(system)
        .filter(patient_id=patient.id)
        .exclude(status=EncounterStatus.CANCELLED)
        .select_related("department", "attending")
        .order_by("-started_at", "-created_at")[:LIMIT]
    )
    sets = list(
        VitalSignsSet.objects.for_system(system)
        .filter(patient_id=patient.id)
        .prefetch_related(Prefetch("observations", queryset=Observation.objects.for_system(system)))
        .order_by("-effective_at", "-id")[:LIMIT]
    )
    found = list(
        Diagnosis.objects.for_system(system)
        .filter(patient_id=patient.id)
        .exclude(clinical_status=DiagnosisStatus.ENTERED_IN_ERROR)
        .select_related("diagnosed_by")
        .order_by("-recorded_at", "-id")[:LIMIT]
    )
    notes = list(
        ClinicalNote.objects.for_system(system)
        .filter(patient_id=patient.id, status=NoteStatus.SIGNED)
        .exclude(kind=NoteKind.ADDENDUM)
        .select_related("author")
        .prefetch_related(
            Prefetch(
                "addenda",
                queryset=ClinicalNote.objects.for_system(system)
                .filter(status=NoteStatus.SIGNED)
                .order_by("signed_at", "id"),
                to_attr="addenda_list",
            )
        )
        .order_by("-signed_at", "-id")[:LIMIT]
    )
    ids = {e.organization_id for e in encounters} | {d.organization_id for d in found}
    ids |= {n.organization_id for n in notes} | {s.organization_id for s in sets}
    names = dict(Organization.objects.for_platform(system).filter(id__in=ids).values_list("id", "name"))
    audit.record(ctx, action, patient_id=patient.id, read=True, by_patient=True)
    for item in [*encounters, *found, *notes]:
        item.organization_name = names.get(item.organization_id, "")  # type: ignore[attr-defined]
    rows = []
    for s in sets:
        row = _set_row(s, list(s.observations.all()))
        row["organization"] = names.get(s.organization_id, "")
        rows.append(row)
    return MedicalRecord(encounters=encounters, vital_sets=rows, diagnoses=found, notes=notes, organizations=names)
