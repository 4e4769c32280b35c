"""The patient registry: one Patient per person across the platform (global), registrations with the
organizations they use (tenant-owned), emergency contacts and insurance."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from phb.kernel.crypto import EncryptedJSONField, EncryptedTextField
from phb.kernel.models import BaseModel, TenantModel
from phb.kernel.validators import validate_phone


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown"


class BloodType(models.TextChoices):
    A_POS = "A+", "A+"
    A_NEG = "A-", "A-"
    B_POS = "B+", "B+"
    B_NEG = "B-", "B-"
    AB_POS = "AB+", "AB+"
    AB_NEG = "AB-", "AB-"
    O_POS = "O+", "O+"
    O_NEG = "O-", "O-"


class MaritalStatus(models.TextChoices):
    SINGLE = "single", "Single"
    MARRIED = "married", "Married"
    DIVORCED = "divorced", "Divorced"
    WIDOWED = "widowed", "Widowed"
    SEPARATED = "separated", "Separated"
    UNKNOWN = "unknown", "Unknown"


class Patient(BaseModel):
    """A person who receives care. Not tenant-owned: organizations reach a patient through a registration."""

    hpn = models.CharField("HPN", max_length=11, unique=True, editable=False)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    other_names = models.CharField(max_length=200, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    birth_date_estimated = models.BooleanField(default=False, help_text="Derived from a stated age, not a record.")
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    gender_identity = models.CharField(max_length=50, blank=True)
    phone = models.CharField(max_length=32, blank=True, validators=[validate_phone])
    phone_secondary = models.CharField(max_length=32, blank=True, validators=[validate_phone])
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=2, default="NG")
    state = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    address_line = models.CharField(max_length=300, blank=True)
    preferred_language = models.CharField(max_length=10, default="en")
    secondary_language = models.CharField(max_length=10, blank=True)
    marital_status = models.CharField(max_length=10, choices=MaritalStatus.choices, default=MaritalStatus.UNKNOWN)
    occupation = models.CharField(max_length=100, blank=True)
    blood_type = models.CharField(max_length=3, choices=BloodType.choices, blank=True)
    deceased = models.BooleanField(default=False)
    deceased_on = models.DateField(null=True, blank=True)
    # National identifiers: encrypted, found by exact match through their blind index (NULL when absent,
    # so that no two patients ever "share" an empty identifier).
    nin = EncryptedTextField(null=True, blank=True)
    nin_index = models.CharField(max_length=64, null=True, blank=True, db_index=True, editable=False)  # noqa: DJ001
    passport = EncryptedTextField(null=True, blank=True)
    passport_index = models.CharField(max_length=64, null=True, blank=True, db_index=True, editable=False)  # noqa: DJ001
    ssn = EncryptedTextField(null=True, blank=True)
    ssn_index = models.CharField(max_length=64, null=True, blank=True, db_index=True, editable=False)  # noqa: DJ001
    user = models.OneToOneField("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A photo for identification at the desk: JPEG re-encoded by PHB (no camera metadata), base64, encrypted.
    photo = EncryptedTextField(null=True, blank=True)
    # Onboarding from the portal (patient-reported, encrypted): health preferences and an overview of
    # their medical history. `onboarded_at` set means the portal stops asking.
    preferences = EncryptedJSONField(default=dict, blank=True)
    history_overview = EncryptedJSONField(default=dict, blank=True)
    onboarded_at = models.DateTimeField(null=True, blank=True)
    # Master patient index: derived from the names on every save (see `matching`).
    given_key = models.CharField(max_length=60, editable=False, default="")
    family_key = models.CharField(max_length=60, editable=False, default="")
    search_name = models.CharField(max_length=400, editable=False, default="")
    # A record merged into another is kept as a redirect to the survivor (until the merge is undone).
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["family_name", "given_name"], name="patient_name"),
            models.Index(fields=["birth_date"], name="patient_birth_date"),
            models.Index(fields=["family_key"], name="patient_family_key"),
            models.Index(fields=["given_key"], name="patient_given_key"),
            models.Index(fields=["phone"], name="patient_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deceased=True) | models.Q(deceased_on__isnull=True),
                name="patient_deceased_date_only_if_deceased",
            ),
            models.CheckConstraint(
                condition=~models.Q(merged_into=models.F("id")), name="patient_not_merged_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"patient {self.hpn}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        from phb.patients import matching

        self.given_key = matching.phonetic_key(self.given_name)[:60]
        self.family_key = matching.phonetic_key(self.family_name)[:60]
        self.search_name = matching.search_text(self.given_name, self.family_name, self.other_names)[:400]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"given_name", "family_name", "other_names"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "given_key", "family_key", "search_name"}
        super().save(*args, **kwargs)


class EmergencyContact(BaseModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="emergency_contacts")
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=50)
    phone = models.CharField(max_length=32)
    is_next_of_kin = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"contact of {self.patient_id}"


class InsurancePolicy(BaseModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="insurance_policies")
    insurer = models.CharField(max_length=200)
    scheme = models.CharField(max_length=200, blank=True)
    member_id = EncryptedTextField()
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "insurance policies"

    def __str__(self) -> str:
        return f"policy of {self.patient_id}"


class RegistrationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PatientRegistration(TenantModel):
    """A patient registered with an organization, with that organization's medical record number."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    mrn = models.CharField("MRN", max_length=20)
    status = models.CharField(max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.PENDING)
    rejection_reason = models.TextField(blank=True)
    is_primary = models.BooleanField(default=False)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn"], name="registration_mrn_unique_in_organization"),
            models.UniqueConstraint(fields=["organization", "patient"], name="registration_once_per_organization"),
            models.UniqueConstraint(
                fields=["patient"], condition=models.Q(is_primary=True), name="registration_one_primary_per_patient"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=RegistrationStatus.values), name="registration_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "status", "created_at"], name="registration_queue")]

    def __str__(self) -> str:
        return f"{self.mrn} ({self.status})"


class MrnCounter(TenantModel):
    """The last MRN number given by an organization (one row each, locked while a number is drawn)."""

    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="mrn_counter_one_per_organization")]

    def __str__(self) -> str:
        return f"MRN counter {self.last}"


class ConsentKind(models.TextChoices):
    TERMS = "terms", "Terms of service"
    DATA_PROCESSING = "data_processing", "Processing of health data"
    PRIVACY = "privacy", "Privacy notice (NDPR, GDPR, HIPAA)"
    SHARING = "sharing", "Sharing with another organization"
    RESEARCH = "research", "Research use"
    MARKETING = "marketing", "Marketing"


class DataCategory(models.TextChoices):
    ALL = "all", "All of my record"
    DEMOGRAPHICS = "demographics", "Demographics"
    ENCOUNTERS = "encounters", "Visits and notes"
    MEDICATIONS = "medications", "Medications"
    LABORATORY = "laboratory", "Laboratory results"
    IMAGING = "imaging", "Imaging"
    WOMENS_HEALTH = "womens_health", "Women's health"


class Consent(BaseModel):
    """A dated, versioned, withdrawable consent of a patient, with its scope: for sharing, which
    organization may receive which categories of data (no organization: any organization)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    version = models.CharField(max_length=20)
    granted_at = models.DateTimeField()
    granted_by = models.UUIDField(null=True, blank=True, help_text="The user who recorded it (the patient or staff).")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.UUIDField(null=True, blank=True)
    from_organization_id = models.UUIDField(
        null=True, blank=True, help_text="Sharing: data held by this one (any if empty)."
    )
    to_organization_id = models.UUIDField(
        null=True, blank=True, help_text="Sharing: may go to this one (any if empty)."
    )
    categories = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "kind"], name="consent_patient_kind")]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=ConsentKind.values), name="patient_consent_kind_valid")
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", "Waiting for review"
    MERGED = "merged", "Merged"
    DISTINCT = "distinct", "Not the same person"


class DuplicateCandidate(TenantModel):
    """A possible duplicate found by the master patient index, queued for review by the organization
    where it was found. The pair is stored in a fixed order (`patient` has the smaller id)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    points = models.FloatField()
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient", "other"], name="duplicate_pair_once"),
            models.CheckConstraint(condition=models.Q(patient__lt=models.F("other")), name="duplicate_pair_ordered"),
            models.CheckConstraint(
                condition=models.Q(status__in=DuplicateStatus.values), name="duplicate_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "status", "created_at"], name="duplicate_queue")]

    def __str__(self) -> str:
        return f"possible duplicate ({self.status})"


class PatientMerge(BaseModel):
    """One record merged into another: what moved (so that it can be undone), by whom, until when."""

    survivor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    organization_id = models.UUIDField(null=True, blank=True, help_text="Where the merge was decided.")
    merged_by = models.UUIDField(null=True, blank=True)
    moved = models.JSONField(default=dict, help_text="Per merge handler, the ids it moved.")
    undo_until = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(survivor=models.F("merged")), name="merge_two_records"),
            models.UniqueConstraint(
                fields=["merged"], condition=models.Q(undone_at__isnull=True), name="merge_once_at_a_time"
            ),
        ]

    def __str__(self) -> str:
        return f"merge into {self.survivor_id}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Being prepared"
    READY = "ready", "Ready to download"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


EXPORT_IN_PROGRESS = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class PatientExport(BaseModel):
    """A copy of everything PHB holds about a patient, asked for by the patient (right of access), built in
    the background, downloadable for a day, then wiped. The files are encrypted at rest like any health data."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.UUIDField(help_text="The user who asked for it (the patient).")
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0 to 100.")
    error_code = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    schema_version = models.CharField(max_length=10, blank=True)
    # The JSON document, and the PDF summary base64-encoded: encrypted, present only while ready.
    content_json = EncryptedTextField(null=True, blank=True)
    content_pdf = EncryptedTextField(null=True, blank=True)
    json_bytes = models.PositiveIntegerField(null=True, blank=True)
    pdf_bytes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="patient_export_by_patient"),
            models.Index(fields=["status", "expires_at"], name="patient_export_by_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values), name="patient_export_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100), name="patient_export_progress_percent"
            ),
            # Never a half-ready export: files exist only on a ready export.
            models.CheckConstraint(
                condition=models.Q(status=ExportStatus.READY)
                | models.Q(content_json__isnull=True, content_pdf__isnull=True),
                name="patient_export_content_only_when_ready",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status__in=EXPORT_IN_PROGRESS),
                name="patient_export_one_in_progress",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.id} ({self.status})"

    @property
    def in_progress(self) -> bool:
        return self.status in EXPORT_IN_PROGRESS

    @property
    def downloadable(self) -> bool:
        """Ready and within its 24 hours (the hourly sweep wipes it a little later)."""
        return self.status == ExportStatus.READY and self.expires_at is not None and self.expires_at > timezone.now()
