"""Clinical histories for the demo patients who have an account: at Unity Teaching Hospital, the demo
doctor saw each of them a few times over the past year; each visit has a set of vital signs, a
diagnosis and a signed SOAP note. Written through the clinical services (so NEWS2, flags and alerts
are computed as in use); once: a patient who already has diagnoses there is left alone."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from phb.accounts.models import Membership, User
from phb.accounts.roles import permissions_for
from phb.clinical import diagnoses, services
from phb.clinical.models import Diagnosis, Encounter
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.organizations.models import Department
from phb.patients.models import Patient

DOCTOR = "doctor@unity.demo.phb.example"
# (days ago, vital signs, ICD-10-CM code, category, subjective, assessment, plan)
VISITS = [
    (
        300,
        {"systolic_bp": 152, "diastolic_bp": 96, "heart_rate": 84, "respiratory_rate": 16, "temperature": "36.7",
         "spo2": 98, "consciousness": "A", "weight": "82.5", "height": 171},
        "I10", "problem_list_item", "Headaches in the mornings for a month.", "Essential hypertension.",
        "Amlodipine 5 mg daily; salt reduction; review in 6 weeks.",
    ),
    (
        120,
        {"systolic_bp": 118, "diastolic_bp": 76, "heart_rate": 112, "respiratory_rate": 22, "temperature": "39.2",
         "spo2": 96, "consciousness": "A"},
        "B54", "encounter_diagnosis", "Fever, chills and body aches for three days.", "Malaria (RDT positive).",
        "Artemether-lumefantrine for three days; fluids; return if vomiting.",
    ),
    (
        20,
        {"systolic_bp": 134, "diastolic_bp": 84, "heart_rate": 76, "respiratory_rate": 14, "temperature": "36.8",
         "spo2": 99, "consciousness": "A", "weight": "80.1", "height": 171},
        "J06.9", "encounter_diagnosis", "Sore throat and runny nose since the weekend.",
        "Upper respiratory tract infection; blood pressure controlled.", "Symptomatic care; continue amlodipine.",
    ),
]  # fmt: skip


def seed_histories(ctx: Ctx, organizations: dict[str, Organization], patient_emails: list[str]) -> int:
    """The visits of the demo patients; returns how many encounters were made."""
    organization = organizations["unity-teaching"]
    org_ctx = ctx.for_organization(organization.id)
    doctor = User.objects.filter(email=DOCTOR).first()
    if doctor is None:
        return 0
    membership = Membership.objects.for_tenant(org_ctx).filter(user=doctor, is_active=True).first()
    if membership is None:
        return 0
    clinician = Ctx(
        actor_id=doctor.id,
        organization_id=organization.id,
        roles=frozenset(membership.roles),
        permissions=permissions_for(membership.roles),
    )
    department = Department.objects.for_tenant(org_ctx).filter(kind="internal_medicine").first() or (
        Department.objects.for_tenant(org_ctx).filter(is_active=True).order_by("name").first()
    )
    made = 0
    now = timezone.now()
    for patient in Patient.objects.filter(user__email__in=patient_emails, merged_into__isnull=True):
        if Diagnosis.objects.for_tenant(org_ctx).filter(patient=patient).exists():
            continue
        with transaction.atomic():
            for days, values, code, category, subjective, assessment, plan in VISITS:
                at = now - dt.timedelta(days=days, hours=2)
                encounter = services.encounter_start_walk_in(
                    ctx=clinician, patient_id=patient.id, department_id=department.id, reason="demo visit"
                )
                Encounter.objects.for_tenant(org_ctx).filter(id=encounter.id).update(started_at=at)
                services.vital_signs_record(
                    ctx=clinician,
                    patient_id=patient.id,
                    encounter_id=encounter.id,
                    values=values,
                    effective_at=at + dt.timedelta(minutes=5),
                    on_supplemental_oxygen=False,
                )
                diagnoses.diagnosis_add(
                    ctx=clinician,
                    patient_id=patient.id,
                    system="icd10-cm",
                    code=code,
                    category=category,
                    encounter_id=encounter.id,
                    onset_date=at.date(),
                )
                note = services.note_create(
                    ctx=clinician,
                    patient_id=patient.id,
                    encounter_id=encounter.id,
                    subjective=subjective,
                    objective="Alert, well hydrated; see vital signs.",
                    assessment=assessment,
                    plan=plan,
                )
                services.note_sign(ctx=clinician, note_id=note.id)
                services.encounter_finish(ctx=clinician, encounter_id=encounter.id)
                Encounter.objects.for_tenant(org_ctx).filter(id=encounter.id).update(
                    ended_at=at + dt.timedelta(minutes=25)
                )
                made += 1
    return made


# --- prescriptions -------------------------------------------------------------------------------------

# (items, override reason for the alerts that need one, or ""); signed in this order, so the warfarin is
# what the patient takes when the aspirin is checked.
PRESCRIPTIONS = [
    (
        [{"drug_code": "amlodipine", "strength": "5 mg", "dose_quantity": "1", "frequency": "OD",
          "duration_days": 30, "refills": 5, "indication_code": "I10", "instructions": "Take every morning."}],
        "",
    ),
    (
        [{"drug_code": "warfarin", "strength": "5 mg", "dose_quantity": "1", "frequency": "OD",
          "duration_days": 90, "refills": 2, "instructions": "Keep your INR appointments."}],
        "",
    ),
    (
        [{"drug_code": "aspirin", "form": "tablet", "strength": "75 mg", "dose_quantity": "1", "frequency": "OD",
          "duration_days": 28, "instructions": "Take with food; report any bleeding or black stools."},
         {"drug_code": "paracetamol", "form": "tablet", "strength": "500 mg", "dose_quantity": "2",
          "frequency": "PRN", "quantity": "32", "instructions": "For pain, at most 8 tablets a day."}],
        "Cardiology advice after a stent; INR checked weekly and a proton pump inhibitor considered.",
    ),
]  # fmt: skip


def seed_prescriptions(ctx: Ctx, organizations: dict[str, Organization], patient_emails: list[str]) -> int:
    """Signed prescriptions for the demo patients at Unity Teaching Hospital, written by the demo doctor
    through the medications services (the safety check runs; the first patient's aspirin with warfarin
    is signed over its interaction alert with a reason, so the override report has a row). Once: a
    patient who has prescriptions there is left alone. Returns how many were signed."""
    from phb.medications import services as medications
    from phb.medications.models import Prescription
    from phb.terminology.public import DrugKnowledgeMissing, knowledge_version

    try:
        knowledge_version()
    except DrugKnowledgeMissing:
        return 0  # `phb migrate` loads the drug catalogue; without it nothing can be checked, so nothing is signed
    organization = organizations["unity-teaching"]
    org_ctx = ctx.for_organization(organization.id)
    doctor = User.objects.filter(email=DOCTOR).first()
    membership = Membership.objects.for_tenant(org_ctx).filter(user=doctor, is_active=True).first() if doctor else None
    if doctor is None or membership is None:
        return 0
    prescriber = Ctx(
        actor_id=doctor.id,
        organization_id=organization.id,
        roles=frozenset(membership.roles),
        permissions=permissions_for(membership.roles),
    )
    made = 0
    patients = list(Patient.objects.filter(user__email__in=patient_emails, merged_into__isnull=True).order_by("id"))
    for index, patient in enumerate(patients):
        if Prescription.objects.for_tenant(org_ctx).filter(patient=patient).exists():
            continue
        if not Encounter.objects.for_tenant(org_ctx).filter(patient=patient, attending=doctor).exists():
            continue  # no care relationship to prescribe in
        with transaction.atomic():
            for items, reason in PRESCRIPTIONS:
                if reason and index != 0:
                    continue  # the overridden interaction: the first patient only
                draft = medications.prescription_create(ctx=prescriber, patient_id=patient.id, items=items)
                check = medications.prescription_check(ctx=prescriber, prescription_id=draft.id)
                reasons = {
                    a["key"]: reason or "Benefit outweighs the risk." for a in check.alerts if a["requires_override"]
                }
                medications.prescription_sign(ctx=prescriber, prescription_id=draft.id, overrides=reasons)
                made += 1
    return made
