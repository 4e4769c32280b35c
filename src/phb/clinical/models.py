"""The clinical record: encounters, vital signs (observations grouped in sets, with NEWS2), critical
alerts, clinical notes with addenda, and departments' note templates. All tenant-owned.

Observations are indexed by (organization, patient, code, effective time) and encounters by
(organization, patient, start), so a chart reads a patient's latest values and history from indexes
however long the record grows. Free text (notes, a visit's reason) is encrypted; codes, measurements
and flags stay queryable."""

from __future__ import annotations

from django.db import models

from phb.kernel.crypto import EncryptedTextField
from phb.kernel.models import TenantModel


class EncounterClass(models.TextChoices):
    """HL7 v3 ActEncounterCode. Outpatient visits now; inpatient and emergency come later."""

    AMBULATORY = "AMB", "Outpatient"
    EMERGENCY = "EMER", "Emergency"
    INPATIENT = "IMP", "Inpatient"
    VIRTUAL = "VR", "Virtual (telemedicine)"


class EncounterSource(models.TextChoices):
    APPOINTMENT = "appointment", "From an appointment"
    WALK_IN = "walk_in", "Walk-in"
    EXTERNAL = "external", "Recorded from another system"


class EncounterStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


class Encounter(TenantModel):
    """A patient's contact with the organization's clinicians: planned → in progress → finished (or cancelled).

    An encounter recorded from another system (source "external": a visit that took place elsewhere or
    earlier, written through the FHIR API or an import) may have no department and no attending
    clinician, and carries its FHIR type and reason as codes."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter_class = models.CharField("class", max_length=10, choices=EncounterClass.choices)
    source = models.CharField(max_length=20, choices=EncounterSource.choices)
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=12, choices=EncounterStatus.choices, default=EncounterStatus.PLANNED)
    attending = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The responsible clinician: critical alerts go to them.",
    )
    department = models.ForeignKey(
        "organizations.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Required, except for an encounter recorded from another system.",
    )
    reason = EncryptedTextField(blank=True, default="")
    reason_system = models.CharField(max_length=255, blank=True)
    reason_code = models.CharField(max_length=40, blank=True)
    type_system = models.CharField(max_length=255, blank=True)
    type_code = models.CharField(max_length=40, blank=True)
    type_display = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = EncryptedTextField(blank=True, default="")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            # One encounter per appointment: the start event may be delivered more than once.
            models.UniqueConstraint(
                fields=["organization", "appointment"],
                condition=models.Q(appointment__isnull=False),
                name="encounter_one_per_appointment",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=EncounterStatus.values), name="encounter_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(encounter_class__in=EncounterClass.values), name="encounter_class_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=EncounterSource.values), name="encounter_source_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="encounter_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(department__isnull=False) | models.Q(source="external"),
                name="encounter_department_unless_external",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "started_at"], name="encounter_patient_time"),
            models.Index(fields=["organization", "attending", "status"], name="encounter_attending"),
            models.Index(fields=["organization", "department", "status"], name="encounter_department"),
        ]

    def __str__(self) -> str:
        return f"encounter {self.id} ({self.status})"


class News2Response(models.TextChoices):
    LOW = "low", "Low"
    LOW_MEDIUM = "low_medium", "Low-medium"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class VitalSignsSet(TenantModel):
    """Observations taken together at one time; NEWS2 is computed and kept when the set is complete
    and the patient an adult."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    effective_at = models.DateTimeField()
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    on_supplemental_oxygen = models.BooleanField(null=True, blank=True)
    spo2_scale = models.PositiveSmallIntegerField(
        default=1, help_text="2 for hypercapnic respiratory failure (target saturation 88-92 %)."
    )
    age_band = models.CharField(max_length=12)
    news2_score = models.PositiveSmallIntegerField(null=True, blank=True)
    news2_subscores = models.JSONField(null=True, blank=True)
    news2_single_parameter_3 = models.BooleanField(null=True, blank=True)
    news2_response = models.CharField(max_length=12, choices=News2Response.choices, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(spo2_scale__in=[1, 2]), name="vitals_spo2_scale_valid"),
            models.CheckConstraint(
                condition=models.Q(news2_response__in=["", *News2Response.values]), name="vitals_news2_response_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(news2_score__isnull=True) | models.Q(news2_score__lte=20),
                name="vitals_news2_score_range",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "effective_at"], name="vitals_patient_time"),
            models.Index(fields=["organization", "encounter"], name="vitals_encounter"),
        ]

    def __str__(self) -> str:
        return f"vital signs {self.id}"


class ObservationCategory(models.TextChoices):
    """HL7 observation-category (R4)."""

    VITAL_SIGNS = "vital-signs", "Vital signs"
    LABORATORY = "laboratory", "Laboratory"
    SURVEY = "survey", "Survey"
    SOCIAL_HISTORY = "social-history", "Social history"
    EXAM = "exam", "Exam"
    PROCEDURE = "procedure", "Procedure"
    IMAGING = "imaging", "Imaging"
    THERAPY = "therapy", "Therapy"
    ACTIVITY = "activity", "Activity"


class ObservationStatus(models.TextChoices):
    """FHIR observation-status, the values PHB stores (a registered observation has no result yet)."""

    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"
    AMENDED = "amended", "Amended"
    CORRECTED = "corrected", "Corrected"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class Observation(TenantModel):
    """One measurement or finding: a LOINC code, a numeric value with its UCUM unit, a coded value, a
    text value (encrypted) or the reason it is absent; when it was taken, who recorded it, and how it
    compares with the reference range for the patient's age. Vital signs are recorded in sets (and
    are category vital-signs); laboratory results, surveys, social history, ... arrive from other
    systems through the FHIR API."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    vital_set = models.ForeignKey(
        VitalSignsSet, null=True, blank=True, on_delete=models.PROTECT, related_name="observations"
    )
    category = models.CharField(
        max_length=16, choices=ObservationCategory.choices, default=ObservationCategory.VITAL_SIGNS
    )
    status = models.CharField(max_length=16, choices=ObservationStatus.choices, default=ObservationStatus.FINAL)
    code = models.CharField(max_length=20, help_text="LOINC")
    code_display = models.CharField(max_length=500, blank=True, help_text="LOINC's name (empty: the catalogue's).")
    value_numeric = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    value_code = models.CharField(max_length=40, blank=True)
    value_system = models.CharField(max_length=255, blank=True, help_text="Of a coded value (empty: LOINC).")
    value_display = models.CharField(max_length=500, blank=True)
    value_string = EncryptedTextField(null=True, blank=True, help_text="A text value (null: none).")
    data_absent_reason = models.CharField(max_length=20, blank=True, help_text="HL7 data-absent-reason")
    unit = models.CharField(max_length=40, blank=True, help_text="UCUM")
    effective_at = models.DateTimeField()
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    interpretation = models.CharField(max_length=2, blank=True, help_text="HL7 flag: N, L, H, LL, HH, A, AA")
    reference_low = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    derived = models.BooleanField(default=False, help_text="Computed from other observations (BMI).")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_numeric__isnull=False)
                | ~models.Q(value_code="")
                | models.Q(value_string__isnull=False)
                | ~models.Q(data_absent_reason=""),
                name="observation_has_a_value",
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=ObservationCategory.values), name="observation_category_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ObservationStatus.values), name="observation_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(interpretation__in=["", "N", "L", "H", "LL", "HH", "A", "AA"]),
                name="observation_interpretation_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "code", "effective_at"], name="observation_patient_code"),
            # Population questions by code ("how many heart rates", `Observation?code=...&_summary=count`,
            # a code over a date range): an index-only scan, the patient included for the visibility rule
            # (registered here), instead of reading the whole table.
            models.Index(fields=["organization", "code", "effective_at"], include=["patient"], name="observation_code"),
            models.Index(fields=["organization", "vital_set"], name="observation_set"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.interpretation}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class CriticalAlert(TenantModel):
    """Critical values of one set of vital signs, sent to the responsible clinician, who acknowledges
    it; unacknowledged after the configured time, it escalates once to the department's head."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    vital_set = models.ForeignKey(VitalSignsSet, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    findings = models.JSONField(help_text='Codes and flags only: [{"code": "8867-4", "flag": "HH"}, ...]')
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    raised_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.JSONField(default=list, blank=True, help_text="The ids of the users it escalated to.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=AlertStatus.values), name="alert_status_valid"),
            models.CheckConstraint(
                condition=models.Q(status="open", acknowledged_at__isnull=True)
                | models.Q(status="acknowledged", acknowledged_at__isnull=False),
                name="alert_acknowledged_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "recipient", "status", "raised_at"], name="alert_recipient"),
            models.Index(fields=["organization", "patient", "raised_at"], name="alert_patient"),
            models.Index(
                fields=["raised_at"], name="alert_escalation_due", condition=models.Q(status="open", escalated_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"critical alert {self.id} ({self.status})"


class NoteKind(models.TextChoices):
    SOAP = "soap", "SOAP note"
    FREE = "free", "Free note"
    ADDENDUM = "addendum", "Addendum"


class NoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


NOTE_CONTENT_FIELDS = ("subjective", "objective", "assessment", "plan", "text")


class ClinicalNote(TenantModel):
    """A clinical note: SOAP sections and/or free text, encrypted. A draft until its author signs it;
    a signed note never changes (the service refuses, the admin is read-only, and on PostgreSQL a
    trigger refuses any UPDATE or DELETE of a signed row). A correction is an addendum: a note of
    kind "addendum" that `amends` the signed note, signed by whoever writes it."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=NoteKind.choices, default=NoteKind.SOAP)
    template = models.ForeignKey("NoteTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amends = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="addenda")
    subjective = EncryptedTextField(blank=True, default="")
    objective = EncryptedTextField(blank=True, default="")
    assessment = EncryptedTextField(blank=True, default="")
    plan = EncryptedTextField(blank=True, default="")
    text = EncryptedTextField(blank=True, default="", help_text="Free text (a free note, an addendum).")
    status = models.CharField(max_length=8, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=NoteKind.values), name="note_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(status="draft", signed_at__isnull=True)
                | models.Q(status="signed", signed_at__isnull=False),
                name="note_signed_consistent",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="addendum", amends__isnull=False)
                | (~models.Q(kind="addendum") & models.Q(amends__isnull=True)),
                name="note_addendum_amends_a_note",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "created_at"], name="note_patient_time"),
            models.Index(fields=["organization", "encounter"], name="note_encounter"),
            models.Index(fields=["organization", "amends"], name="note_addenda"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} note {self.id} ({self.status})"


class NoteTemplate(TenantModel):
    """A department's note template, held as data: a prompt per SOAP section. Seeded per organization
    from `data/note_templates.json` for the common department kinds; a hospital edits its own."""

    name = models.CharField(max_length=120)
    department_kind = models.CharField(max_length=30, blank=True, help_text="Applies to departments of this kind.")
    department = models.ForeignKey(
        "organizations.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Applies to this department only (before templates of its kind).",
    )
    sections = models.JSONField(help_text='{"subjective": "prompt", "objective": ..., "assessment": ..., "plan": ...}')
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "department_kind", "name"], name="note_template_unique_name_per_kind"
            ),
        ]
        indexes = [models.Index(fields=["organization", "department_kind"], name="note_template_kind")]

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------------------------------
# Documents (clinical/documents.py): files kept on a patient's record, encrypted in storage
# --------------------------------------------------------------------------------------------------


class DocumentCategory(models.TextChoices):
    """What a document is, after FHIR DocumentReference's category; `DOCUMENT_LOINC` gives the LOINC
    document type of each for interfaces."""

    REFERRAL_LETTER = "referral-letter", "Referral letter"
    DISCHARGE_SUMMARY = "discharge-summary", "Discharge summary"
    LAB_REPORT = "lab-report", "Laboratory report"
    IMAGING = "imaging", "Imaging report or image"
    CONSENT_FORM = "consent-form", "Consent form"
    PHOTO = "photo", "Clinical photograph"
    OTHER = "other", "Other"


DOCUMENT_LOINC = {
    DocumentCategory.REFERRAL_LETTER: "57133-1",  # Referral note
    DocumentCategory.DISCHARGE_SUMMARY: "18842-5",  # Discharge summary
    DocumentCategory.LAB_REPORT: "11502-2",  # Laboratory report
    DocumentCategory.IMAGING: "18748-4",  # Diagnostic imaging study
    DocumentCategory.CONSENT_FORM: "59284-0",  # Consent
    DocumentCategory.PHOTO: "72170-4",  # Photographic image
}


class DocumentStatus(models.TextChoices):
    """FHIR DocumentReference.status (a later version of a document is a new document)."""

    CURRENT = "current", "Current"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class DocumentSource(models.TextChoices):
    STAFF = "staff", "Staff"
    PATIENT = "patient", "The patient"


class ClinicalDocument(TenantModel):
    """A file (PDF, PNG, JPEG, TIFF) on a patient's record. The content lives in the documents storage
    under a random key, encrypted with its own data key (AES-256-GCM stream, `kernel.crypto`), itself
    kept here encrypted under the key ring: a key rotation re-encrypts the data key, never the file.
    Title, description and the original file name (which often carries a name) are encrypted; the
    detected type, size and SHA-256 of the content are not. Never deleted: a mistake is marked
    entered in error."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=24, choices=DocumentCategory.choices)
    title = EncryptedTextField()
    description = EncryptedTextField(blank=True, default="")
    filename = EncryptedTextField(help_text="The original file name, sanitised.")
    content_type = models.CharField(max_length=40, help_text="Detected from the content (magic bytes).")
    size = models.PositiveBigIntegerField(help_text="Bytes of the plaintext.")
    sha256 = models.CharField(max_length=64, help_text="Of the plaintext, hex.")
    storage_key = models.CharField(max_length=200, help_text="Random; says nothing about the patient.")
    content_key = EncryptedTextField(help_text="The file's data key (base64), under the key ring.")
    source = models.CharField(max_length=10, choices=DocumentSource.choices, default=DocumentSource.STAFF)
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.CURRENT)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_in_error_reason = EncryptedTextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "storage_key"], name="document_storage_key_unique"),
            models.CheckConstraint(
                condition=models.Q(category__in=DocumentCategory.values), name="document_category_valid"
            ),
            models.CheckConstraint(condition=models.Q(status__in=DocumentStatus.values), name="document_status_valid"),
            models.CheckConstraint(condition=models.Q(source__in=DocumentSource.values), name="document_source_valid"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="document_not_empty"),
            models.CheckConstraint(
                condition=models.Q(status="current", entered_in_error_at__isnull=True)
                | models.Q(status="entered-in-error", entered_in_error_at__isnull=False),
                name="document_entered_in_error_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "created_at"], name="document_patient_time"),
            models.Index(fields=["organization", "encounter"], name="document_encounter"),
        ]

    def __str__(self) -> str:
        return f"document {self.id} ({self.category}, {self.status})"


# Diagnoses and problems (chart)
# --------------------------------------------------------------------------------------------------


class DiagnosisStatus(models.TextChoices):
    """The clinical status of a diagnosis; "entered in error" withdraws a mistaken entry (it is kept,
    never shown as the patient's)."""

    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    RULED_OUT = "ruled_out", "Ruled out"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class DiagnosisCategory(models.TextChoices):
    """FHIR condition-category."""

    PROBLEM_LIST_ITEM = "problem_list_item", "Problem list item"
    ENCOUNTER_DIAGNOSIS = "encounter_diagnosis", "Encounter diagnosis"


class DiagnosisSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class Diagnosis(TenantModel):
    """A diagnosis or problem of a patient (a FHIR Condition): a coding (system + code + display:
    ICD-10-CM checked against the shipped code list, SNOMED CT and other systems stored as given), its
    clinical status, category, severity, onset and abatement, who diagnosed it, in which encounter, and
    a note (encrypted)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    system = models.CharField(max_length=255, help_text="The code system's URI.")
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=500)
    clinical_status = models.CharField(max_length=20, choices=DiagnosisStatus.choices, default=DiagnosisStatus.ACTIVE)
    category = models.CharField(
        max_length=24, choices=DiagnosisCategory.choices, default=DiagnosisCategory.ENCOUNTER_DIAGNOSIS
    )
    severity = models.CharField(max_length=10, choices=DiagnosisSeverity.choices, blank=True)
    onset_date = models.DateField(null=True, blank=True)
    abatement_date = models.DateField(null=True, blank=True)
    diagnosed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    note = EncryptedTextField(blank=True, default="")

    class Meta:
        verbose_name_plural = "diagnoses"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(clinical_status__in=DiagnosisStatus.values), name="diagnosis_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=DiagnosisCategory.values), name="diagnosis_category_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["", *DiagnosisSeverity.values]), name="diagnosis_severity_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(abatement_date__isnull=True)
                | models.Q(onset_date__isnull=True)
                | models.Q(abatement_date__gte=models.F("onset_date")),
                name="diagnosis_abates_after_onset",
            ),
            # One active problem-list entry per code: the list is a list, not a log.
            models.UniqueConstraint(
                fields=["organization", "patient", "system", "code"],
                condition=models.Q(category="problem_list_item", clinical_status="active"),
                name="diagnosis_one_active_problem_per_code",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "recorded_at"], name="diagnosis_patient_time"),
            models.Index(
                fields=["organization", "patient", "recorded_at"],
                name="diagnosis_patient_active",
                condition=models.Q(clinical_status="active"),
            ),
            models.Index(fields=["organization", "encounter"], name="diagnosis_encounter"),
        ]

    def __str__(self) -> str:
        return f"diagnosis {self.id} ({self.clinical_status})"


# ==================================================================================================
# Allergies and intolerances, medical/surgical/family/social history, immunizations
# ==================================================================================================
# Coded concepts are held as system + code + display (plain: codes stay queryable) beside an encrypted
# free text, for what no code says (a substance, a condition, a vaccine with no code at hand). A row is
# never deleted: a mistake is marked entered-in-error (who, when, why) and drops out of every summary.

from phb.kernel.crypto import EncryptedJSONField  # noqa: E402  (this part of the module is added below)


class AllergyType(models.TextChoices):
    ALLERGY = "allergy", "Allergy"
    INTOLERANCE = "intolerance", "Intolerance"


class AllergyCategory(models.TextChoices):
    MEDICATION = "medication", "Medication"
    FOOD = "food", "Food"
    ENVIRONMENT = "environment", "Environment"
    BIOLOGIC = "biologic", "Biologic"


class AllergyCriticality(models.TextChoices):
    LOW = "low", "Low risk"
    HIGH = "high", "High risk"
    UNABLE_TO_ASSESS = "unable-to-assess", "Unable to assess risk"


class AllergyClinicalStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    RESOLVED = "resolved", "Resolved"


class AllergyVerificationStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", "Unconfirmed"
    CONFIRMED = "confirmed", "Confirmed"
    REFUTED = "refuted", "Refuted"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class ReactionSeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class EnteredInError(TenantModel):
    """Who recorded a row, and who marked it entered in error (when, why): such a row is kept for the
    record's history and left out of every list and summary."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    note = EncryptedTextField(blank=True, default="")
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_in_error_reason = EncryptedTextField(blank=True, default="")

    class Meta:
        abstract = True


class AllergyIntolerance(EnteredInError):
    """A propensity to a harmful reaction to a substance (FHIR R4 AllergyIntolerance). The substance is
    a coding of any system (RxNorm, SNOMED CT, a drug catalogue) or free text when no code is at hand.
    An active allergy (active and neither refuted nor entered in error) is unique per coded substance."""

    substance_system = models.CharField(max_length=255, blank=True)
    substance_code = models.CharField(max_length=40, blank=True)
    substance_display = models.CharField(max_length=500, blank=True)
    substance_text = EncryptedTextField(blank=True, default="")
    type = models.CharField(max_length=12, choices=AllergyType.choices, default=AllergyType.ALLERGY)
    category = models.CharField(max_length=12, choices=AllergyCategory.choices)
    criticality = models.CharField(max_length=16, choices=AllergyCriticality.choices, blank=True)
    clinical_status = models.CharField(
        max_length=10, choices=AllergyClinicalStatus.choices, default=AllergyClinicalStatus.ACTIVE
    )
    verification_status = models.CharField(
        max_length=16, choices=AllergyVerificationStatus.choices, default=AllergyVerificationStatus.UNCONFIRMED
    )
    reactions = EncryptedJSONField(
        default=list, blank=True, help_text="[{manifestation: {system, code, display, text}, severity, onset_on, note}]"
    )
    onset_on = models.DateField(null=True, blank=True)
    asserted_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient", "substance_system", "substance_code"],
                condition=models.Q(clinical_status="active", verification_status__in=["unconfirmed", "confirmed"])
                & ~models.Q(substance_code=""),
                name="allergy_one_active_per_substance",
            ),
            models.CheckConstraint(condition=models.Q(type__in=AllergyType.values), name="allergy_type_valid"),
            models.CheckConstraint(
                condition=models.Q(category__in=AllergyCategory.values), name="allergy_category_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(criticality__in=["", *AllergyCriticality.values]), name="allergy_criticality_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(clinical_status__in=AllergyClinicalStatus.values),
                name="allergy_clinical_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(verification_status__in=AllergyVerificationStatus.values),
                name="allergy_verification_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(substance_system="", substance_code="")
                | (~models.Q(substance_system="") & ~models.Q(substance_code="")),
                name="allergy_substance_coding_whole",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "clinical_status"], name="allergy_patient_status"),
        ]

    def __str__(self) -> str:
        return f"allergy {self.id} ({self.clinical_status}, {self.verification_status})"


class NoKnownAllergies(TenantModel):
    """ "No known allergies", asserted explicitly by a clinician on a date. At most one is current per
    patient; recording an active allergy retires it (kept, with when and why), as does a new assertion
    or marking it entered in error."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    asserted_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    asserted_at = models.DateTimeField()
    note = EncryptedTextField(blank=True, default="")
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    retired_reason = models.CharField(
        max_length=20, blank=True, help_text="allergy_recorded, reasserted or entered_in_error"
    )

    class Meta:
        verbose_name_plural = "no known allergies statements"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient"],
                condition=models.Q(retired_at__isnull=True),
                name="nka_one_current_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(retired_at__isnull=True, retired_reason="")
                | models.Q(
                    retired_at__isnull=False, retired_reason__in=["allergy_recorded", "reasserted", "entered_in_error"]
                ),
                name="nka_retired_consistent",
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "asserted_at"], name="nka_patient_time")]

    def __str__(self) -> str:
        return f"no known allergies {self.id}"


class HistoryKind(models.TextChoices):
    MEDICAL = "medical", "Past medical history"
    SURGICAL = "surgical", "Surgical history"
    FAMILY = "family", "Family history"


class FamilyRelationship(models.TextChoices):
    """HL7 v3 RoleCode (family members), the common ones."""

    MOTHER = "MTH", "Mother"
    FATHER = "FTH", "Father"
    SISTER = "SIS", "Sister"
    BROTHER = "BRO", "Brother"
    DAUGHTER = "DAU", "Daughter"
    SON = "SONC", "Son"
    MATERNAL_GRANDMOTHER = "MGRMTH", "Maternal grandmother"
    MATERNAL_GRANDFATHER = "MGRFTH", "Maternal grandfather"
    PATERNAL_GRANDMOTHER = "PGRMTH", "Paternal grandmother"
    PATERNAL_GRANDFATHER = "PGRFTH", "Paternal grandfather"
    AUNT = "AUNT", "Aunt"
    UNCLE = "UNCLE", "Uncle"
    COUSIN = "COUSN", "Cousin"
    OTHER = "FAMMEMB", "Other family member"


class HistoryEntry(EnteredInError):
    """One line of a patient's past medical, surgical or family history. The concept (a condition; for
    surgical history a procedure) is coded when a code is at hand (ICD-10-CM, SNOMED CT, ...) or free
    text. Medical: onset and resolution dates; surgical: the date performed; family: the relative, the
    age at onset, whether the relative has died."""

    kind = models.CharField(max_length=10, choices=HistoryKind.choices)
    code_system = models.CharField(max_length=255, blank=True)
    code = models.CharField(max_length=40, blank=True)
    code_display = models.CharField(max_length=500, blank=True)
    text = EncryptedTextField(blank=True, default="")
    onset_on = models.DateField(null=True, blank=True, help_text="Medical: when it began.")
    resolved_on = models.DateField(null=True, blank=True, help_text="Medical: when it resolved (empty: ongoing).")
    performed_on = models.DateField(null=True, blank=True, help_text="Surgical: when it was done.")
    relationship = models.CharField(max_length=8, choices=FamilyRelationship.choices, blank=True)
    onset_age = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Family: the relative's age at onset."
    )
    relative_deceased = models.BooleanField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "history entries"
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=HistoryKind.values), name="history_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(kind="family", relationship__in=FamilyRelationship.values)
                | (~models.Q(kind="family") & models.Q(relationship="", onset_age__isnull=True)),
                name="history_family_fields",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="medical") | models.Q(onset_on__isnull=True, resolved_on__isnull=True),
                name="history_medical_fields",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="surgical") | models.Q(performed_on__isnull=True),
                name="history_surgical_fields",
            ),
            models.CheckConstraint(
                condition=models.Q(code_system="", code="") | (~models.Q(code_system="") & ~models.Q(code="")),
                name="history_coding_whole",
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "kind"], name="history_patient_kind")]

    def __str__(self) -> str:
        return f"{self.kind} history {self.id}"


class TobaccoUse(models.TextChoices):
    NEVER = "never", "Never"
    FORMER = "former", "Former"
    CURRENT = "current", "Current"
    UNKNOWN = "unknown", "Unknown"


class AlcoholUse(models.TextChoices):
    NONE = "none", "None"
    FORMER = "former", "Former"
    OCCASIONAL = "occasional", "Occasional"
    REGULAR = "regular", "Regular"
    HEAVY = "heavy", "Heavy"
    UNKNOWN = "unknown", "Unknown"


class LivingSituation(models.TextChoices):
    ALONE = "alone", "Lives alone"
    FAMILY = "family", "With family or partner"
    SHARED = "shared", "With others"
    CARE_HOME = "care_home", "Care home"
    HOMELESS = "homeless", "No fixed abode"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class SocialHistory(EnteredInError):
    """The patient's social history as recorded on a date: each recording is a new version, the latest
    (by date, then by when it was written) is current, and the earlier ones stay as history."""

    recorded_on = models.DateField()
    tobacco = models.CharField(max_length=8, choices=TobaccoUse.choices, default=TobaccoUse.UNKNOWN)
    tobacco_pack_years = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    alcohol = models.CharField(max_length=10, choices=AlcoholUse.choices, default=AlcoholUse.UNKNOWN)
    alcohol_units_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    other_substances = EncryptedTextField(blank=True, default="")
    occupation = EncryptedTextField(blank=True, default="")
    living_situation = models.CharField(max_length=10, choices=LivingSituation.choices, default=LivingSituation.UNKNOWN)

    class Meta:
        verbose_name_plural = "social histories"
        constraints = [
            models.CheckConstraint(condition=models.Q(tobacco__in=TobaccoUse.values), name="social_tobacco_valid"),
            models.CheckConstraint(condition=models.Q(alcohol__in=AlcoholUse.values), name="social_alcohol_valid"),
            models.CheckConstraint(
                condition=models.Q(living_situation__in=LivingSituation.values), name="social_living_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "recorded_on"], name="social_patient_date")]

    def __str__(self) -> str:
        return f"social history {self.id} ({self.recorded_on})"


class ImmunizationStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    NOT_DONE = "not-done", "Not done"


class ImmunizationNotDoneReason(models.TextChoices):
    """HL7 v3 ActReason, the reasons FHIR suggests for a vaccination not given."""

    IMMUNE = "IMMUNE", "Immunity"
    MEDICAL_PRECAUTION = "MEDPREC", "Medical precaution"
    OUT_OF_STOCK = "OSTOCK", "Product out of stock"
    PATIENT_OBJECTION = "PATOBJ", "Patient objection"


class ImmunizationSite(models.TextChoices):
    """HL7 v3 ActSite, the usual injection sites."""

    LEFT_ARM = "LA", "Left arm"
    RIGHT_ARM = "RA", "Right arm"
    LEFT_DELTOID = "LD", "Left deltoid"
    RIGHT_DELTOID = "RD", "Right deltoid"
    LEFT_THIGH = "LT", "Left thigh"
    RIGHT_THIGH = "RT", "Right thigh"
    LEFT_GLUTEUS = "LG", "Left gluteus medius"
    RIGHT_GLUTEUS = "RG", "Right gluteus medius"
    ORAL = "MOUTH", "Mouth"
    NOSE = "NOSE", "Nose"


class ImmunizationRoute(models.TextChoices):
    """HL7 v3 RouteOfAdministration, the usual vaccine routes."""

    INTRAMUSCULAR = "IM", "Intramuscular"
    SUBCUTANEOUS = "SQ", "Subcutaneous"
    INTRADERMAL = "IDINJ", "Intradermal"
    ORAL = "PO", "Oral"
    NASAL = "NASINHLC", "Nasal"


class Immunization(EnteredInError):
    """A vaccine given (or not given, with the reason): the vaccine coded with CVX (or another system)
    or free text, the date, dose number, lot, site, route and who gave it (a clinician here, or a name
    when given elsewhere and reported)."""

    vaccine_system = models.CharField(max_length=255, blank=True)
    vaccine_code = models.CharField(max_length=40, blank=True)
    vaccine_display = models.CharField(max_length=500, blank=True)
    vaccine_text = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=ImmunizationStatus.choices, default=ImmunizationStatus.COMPLETED)
    not_done_reason = models.CharField(max_length=8, choices=ImmunizationNotDoneReason.choices, blank=True)
    occurred_on = models.DateField()
    dose_number = models.PositiveSmallIntegerField(null=True, blank=True)
    lot_number = models.CharField(max_length=40, blank=True)
    site = models.CharField(max_length=6, choices=ImmunizationSite.choices, blank=True)
    route = models.CharField(max_length=10, choices=ImmunizationRoute.choices, blank=True)
    performer = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    performer_text = EncryptedTextField(blank=True, default="", help_text="Who gave it, when not a clinician here.")
    reported = models.BooleanField(default=False, help_text="From the patient or another record, not given here.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImmunizationStatus.values), name="immunization_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="completed", not_done_reason="")
                | models.Q(status="not-done", not_done_reason__in=ImmunizationNotDoneReason.values),
                name="immunization_not_done_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(vaccine_system="", vaccine_code="")
                | (~models.Q(vaccine_system="") & ~models.Q(vaccine_code="")),
                name="immunization_coding_whole",
            ),
            models.CheckConstraint(
                condition=models.Q(dose_number__isnull=True) | models.Q(dose_number__gte=1, dose_number__lte=20),
                name="immunization_dose_number_range",
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "occurred_on"], name="immunization_patient_date")]

    def __str__(self) -> str:
        return f"immunization {self.id} ({self.status})"


# ==================================================================================================
# Patient-reported symptoms and care plans
# ==================================================================================================

# Imported here, not at the top, so that this block stays one piece of the module.
from phb.kernel.crypto import EncryptedJSONField  # noqa: E402


class BodyLocation(models.TextChoices):
    """Where a patient feels a symptom: a short fixed list a patient can choose from; the detail is
    free text (`body_location_detail`, encrypted)."""

    WHOLE_BODY = "whole_body", "All over / general"
    HEAD = "head", "Head"
    FACE = "face", "Face"
    EYES = "eyes", "Eyes"
    EARS = "ears", "Ears"
    NOSE = "nose", "Nose"
    MOUTH_THROAT = "mouth_throat", "Mouth or throat"
    NECK = "neck", "Neck"
    CHEST = "chest", "Chest"
    UPPER_BACK = "upper_back", "Upper back"
    LOWER_BACK = "lower_back", "Lower back"
    ABDOMEN = "abdomen", "Abdomen (belly)"
    PELVIS = "pelvis", "Pelvis or groin"
    GENITALS = "genitals", "Genital area"
    LEFT_ARM = "left_arm", "Left arm or hand"
    RIGHT_ARM = "right_arm", "Right arm or hand"
    LEFT_LEG = "left_leg", "Left leg or foot"
    RIGHT_LEG = "right_leg", "Right leg or foot"
    SKIN = "skin", "Skin"
    OTHER = "other", "Somewhere else"


class SymptomReport(TenantModel):
    """A symptom a patient reports in the portal, to one hospital where they are registered (that
    organization's care team sees it). Append-only: a change in the symptom is a new report, which is
    what makes the trend. The symptom is a code of the portal's list (`data/symptom_codes.json`,
    ICD-10-CM), the patient's own words (encrypted), or both; every other free text is encrypted."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    reported_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField()
    symptom_code = models.CharField(max_length=10, blank=True, help_text="ICD-10-CM, from the portal's list.")
    symptom_text = EncryptedTextField(blank=True, default="", help_text="The symptom in the patient's words.")
    severity = models.PositiveSmallIntegerField(help_text="0 (none) to 10 (the worst imaginable).")
    onset_at = models.DateTimeField(help_text="When it started (estimated from `onset_days_ago` when given).")
    onset_days_ago = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text='Set when the patient said "about N days ago".'
    )
    body_location = models.CharField(max_length=20, choices=BodyLocation.choices, blank=True)
    body_location_detail = EncryptedTextField(blank=True, default="")
    triggers = EncryptedJSONField(default=list, blank=True, help_text="Short texts: what brings it on.")
    relief_factors = EncryptedJSONField(default=list, blank=True, help_text="Short texts: what eases it.")
    associated_symptoms = EncryptedJSONField(
        default=list, blank=True, help_text="Codes of the portal's list, or short texts."
    )
    # A JPEG re-encoded by PHB (no camera metadata), base64, encrypted: see clinical.symptoms.photo_keep.
    photo = EncryptedTextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(severity__lte=10), name="symptom_severity_0_to_10"),
            models.CheckConstraint(
                condition=models.Q(body_location__in=["", *BodyLocation.values]), name="symptom_body_location_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(onset_days_ago__isnull=True) | models.Q(onset_days_ago__lte=3660),
                name="symptom_onset_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(onset_at__lte=models.F("reported_at")), name="symptom_onset_before_report"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "reported_at"], name="symptom_patient_time"),
            models.Index(
                fields=["organization", "patient", "symptom_code", "reported_at"], name="symptom_patient_code"
            ),
        ]

    def __str__(self) -> str:
        return f"symptom report {self.id}"


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    RETIRED = "retired", "Retired"


class CareTeamRole(models.TextChoices):
    LEAD = "lead", "Lead clinician"
    DOCTOR = "doctor", "Doctor"
    NURSE = "nurse", "Nurse"
    MIDWIFE = "midwife", "Midwife"
    PHARMACIST = "pharmacist", "Pharmacist"
    DIETITIAN = "dietitian", "Dietitian"
    PHYSIOTHERAPIST = "physiotherapist", "Physiotherapist"
    OTHER = "other", "Other"


class ActivityKind(models.TextChoices):
    MONITORING = "monitoring", "Monitoring"
    MEDICATION = "medication", "Medication"
    APPOINTMENT = "appointment", "Appointment"
    INVESTIGATION = "investigation", "Investigation"
    EDUCATION = "education", "Education"
    LIFESTYLE = "lifestyle", "Lifestyle"
    REFERRAL = "referral", "Referral"
    PROCEDURE = "procedure", "Procedure"
    OTHER = "other", "Other"


class CarePlanTemplate(TenantModel):
    """A care plan template, held as data: goals (with a due time from the plan's start), activities
    and the roles of the suggested team. Draft → pending approval → approved (by a department head)
    → retired; only an approved template makes plans. The defaults (`data/care_plan_templates.json`)
    are seeded per organization as pending approval: a hospital's head approves them for local use."""

    code = models.SlugField(max_length=60, blank=True, help_text="The key of a shipped default.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    department = models.ForeignKey(
        "organizations.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Approved by this department's head (none: by any department head).",
    )
    goals = models.JSONField(
        default=list, help_text='[{"description", "measure", "target", "due_in_days"}, ...] (prompts, no patient data)'
    )
    activities = models.JSONField(default=list, help_text='[{"kind", "description", "schedule"}, ...]')
    team_roles = models.JSONField(default=list, help_text="The care team's suggested roles.")
    status = models.CharField(max_length=20, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, help_text="Why the head returned it to draft.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], condition=~models.Q(code=""), name="care_plan_template_code_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=TemplateStatus.values), name="care_plan_template_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(approved_at__isnull=False),
                name="care_plan_template_approved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status", "name"], name="care_plan_template_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class CarePlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    REVOKED = "revoked", "Revoked"


CARE_PLAN_CLOSED = (CarePlanStatus.COMPLETED, CarePlanStatus.REVOKED)
CARE_PLAN_OPEN = (CarePlanStatus.DRAFT, CarePlanStatus.ACTIVE, CarePlanStatus.ON_HOLD)


class CarePlan(TenantModel):
    """A patient's care plan: from an approved template or from scratch, with goals, activities and a
    care team. Draft → active ⇄ on hold → completed, or revoked; a completed or revoked plan is
    read-only. Its members have a care relationship with the patient while it is open."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(CarePlanTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = EncryptedTextField()
    description = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=12, choices=CarePlanStatus.choices, default=CarePlanStatus.DRAFT)
    status_reason = EncryptedTextField(blank=True, default="")
    period_start = models.DateField()
    period_end = models.DateField(null=True, blank=True)
    department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=CarePlanStatus.values), name="care_plan_status_valid"),
            models.CheckConstraint(
                condition=models.Q(period_end__isnull=True) | models.Q(period_end__gte=models.F("period_start")),
                name="care_plan_period_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "status"], name="care_plan_patient"),
            models.Index(fields=["organization", "template"], name="care_plan_template"),
        ]

    def __str__(self) -> str:
        return f"care plan {self.id} ({self.status})"


class GoalAchievement(models.TextChoices):
    """HL7 FHIR goal-achievement (R4)."""

    IN_PROGRESS = "in_progress", "In progress"
    IMPROVING = "improving", "Improving"
    WORSENING = "worsening", "Worsening"
    NO_CHANGE = "no_change", "No change"
    ACHIEVED = "achieved", "Achieved"
    SUSTAINING = "sustaining", "Sustaining"
    NOT_ACHIEVED = "not_achieved", "Not achieved"
    NO_PROGRESS = "no_progress", "No progress"
    NOT_ATTAINABLE = "not_attainable", "Not attainable"


class CarePlanGoal(TenantModel):
    """A goal of a care plan: what, the measure and target, when. Its `achievement_status` is that of
    its latest progress entry; the entries themselves are kept (GoalProgress), never overwritten."""

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="goals")
    position = models.PositiveSmallIntegerField(default=0)
    description = EncryptedTextField()
    measure = EncryptedTextField(blank=True, default="")
    target = EncryptedTextField(blank=True, default="")
    due_on = models.DateField(null=True, blank=True)
    achievement_status = models.CharField(
        max_length=16, choices=GoalAchievement.choices, default=GoalAchievement.IN_PROGRESS
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(achievement_status__in=GoalAchievement.values), name="care_plan_goal_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "plan", "position"], name="care_plan_goal_plan")]

    def __str__(self) -> str:
        return f"goal {self.id} ({self.achievement_status})"


class GoalProgress(TenantModel):
    """One progress entry of a goal: appended, never changed."""

    goal = models.ForeignKey(CarePlanGoal, on_delete=models.PROTECT, related_name="progress")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    achievement_status = models.CharField(max_length=16, choices=GoalAchievement.choices)
    value = EncryptedTextField(blank=True, default="", help_text="The measure's value now, e.g. 138/86 mmHg.")
    note = EncryptedTextField(blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(achievement_status__in=GoalAchievement.values), name="goal_progress_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "goal", "recorded_at"], name="goal_progress_goal")]

    def __str__(self) -> str:
        return f"progress {self.id} ({self.achievement_status})"


class ActivityStatus(models.TextChoices):
    """HL7 FHIR care-plan-activity-status (R4), the states PHB uses."""

    NOT_STARTED = "not_started", "Not started"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class CarePlanActivity(TenantModel):
    """Something the plan says to do: its kind, what, how often, and where it stands."""

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="activities")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    description = EncryptedTextField()
    schedule = EncryptedTextField(blank=True, default="", help_text="e.g. every 3 months; daily; at 28 weeks.")
    status = models.CharField(max_length=12, choices=ActivityStatus.choices, default=ActivityStatus.NOT_STARTED)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=ActivityKind.values), name="care_plan_activity_kind"),
            models.CheckConstraint(
                condition=models.Q(status__in=ActivityStatus.values), name="care_plan_activity_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "plan", "position"], name="care_plan_activity_plan")]

    def __str__(self) -> str:
        return f"activity {self.id} ({self.status})"


class CarePlanMember(TenantModel):
    """A member of a plan's care team (a clinician of the organization) and their role in it."""

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="team")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=CareTeamRole.choices)
    added_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "plan", "user"], name="care_plan_member_once"),
            models.CheckConstraint(condition=models.Q(role__in=CareTeamRole.values), name="care_plan_member_role"),
        ]
        indexes = [models.Index(fields=["organization", "user"], name="care_plan_member_user")]

    def __str__(self) -> str:
        return f"{self.role} of care plan {self.plan_id}"
