"""Prescriptions and what follows them: items with a structured dose, the safety checks run before
signing and the overrides of their alerts, the status history, patients' repeat requests, and the
doses due that adherence is measured on. All tenant-owned.

A prescription is a draft until a prescriber signs it; from then on its clinical content never
changes (the services refuse, and on PostgreSQL a trigger refuses any UPDATE of a signed
prescription's clinical columns or of its items' clinical columns, and any DELETE): a change is a new
prescription that replaces it. Only its status (dispensing, cancellation, expiry), the quantities
dispensed and the links to what replaced it move after signing. Free text (instructions to the
patient, reasons) is encrypted; drug codes, doses and statuses stay queryable."""

from __future__ import annotations

from django.db import models

from phb.kernel.crypto import EncryptedTextField
from phb.kernel.models import TenantModel


class PrescriptionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"
    PARTIALLY_DISPENSED = "partially_dispensed", "Partially dispensed"
    DISPENSED = "dispensed", "Dispensed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# A prescription the patient takes: signed, being or fully dispensed.
ACTIVE_STATUSES = (PrescriptionStatus.SIGNED, PrescriptionStatus.PARTIALLY_DISPENSED, PrescriptionStatus.DISPENSED)
# What a pharmacy may still dispense against.
DISPENSABLE_STATUSES = (PrescriptionStatus.SIGNED, PrescriptionStatus.PARTIALLY_DISPENSED)


class Frequency(models.TextChoices):
    """How often a dose is taken. `EVERY_N_HOURS` takes `interval_hours`."""

    OD = "OD", "Once a day"
    BD = "BD", "Twice a day"
    TDS = "TDS", "Three times a day"
    QDS = "QDS", "Four times a day"
    EVERY_N_HOURS = "QH", "Every N hours"
    AT_NIGHT = "ON", "At night"
    PRN = "PRN", "When required"
    ONCE = "ONCE", "Once only"


class Prescription(TenantModel):
    """A prescription of one or more items for a patient, written by a prescriber of the organization.
    `number` is the human reference (RX-2026-000123), unique per organization. `replaces` links a
    prescription to the signed one it replaced (which is then cancelled, `replaced_by` pointing back);
    `repeat_of` links a repeat issued on a patient's request to the prescription it repeats."""

    number = models.CharField(max_length=20)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    prescriber = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who signed it.",
    )
    status = models.CharField(max_length=20, choices=PrescriptionStatus.choices, default=PrescriptionStatus.DRAFT)
    pharmacy_department = models.ForeignKey(
        "organizations.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The nominated pharmacy; empty: any pharmacy of the organization.",
    )
    pregnant = models.BooleanField(default=False, help_text="Recorded by the prescriber for the safety check.")
    lactating = models.BooleanField(default=False, help_text="Recorded by the prescriber for the safety check.")
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacements")
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    repeat_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="repeats")
    signed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Not dispensable after this.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cancel_reason = EncryptedTextField(blank=True, default="")
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="prescription_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=PrescriptionStatus.values), name="prescription_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft", signed_at__isnull=True, prescriber__isnull=True)
                | models.Q(status="cancelled", signed_at__isnull=True)
                | models.Q(signed_at__isnull=False, prescriber__isnull=False, expires_at__isnull=False),
                name="prescription_signed_consistent",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="cancelled") | models.Q(cancelled_at__isnull=False),
                name="prescription_cancelled_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(replaces=models.F("id")), name="prescription_not_own_replacement"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "created_at"], name="prescription_patient_time"),
            models.Index(fields=["organization", "status", "signed_at"], name="prescription_status_time"),
            models.Index(fields=["organization", "encounter"], name="prescription_encounter"),
            models.Index(
                fields=["organization", "expires_at"],
                name="prescription_expiry_due",
                condition=models.Q(status__in=["signed", "partially_dispensed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"prescription {self.number} ({self.status})"


class PrescriptionItem(TenantModel):
    """One drug of a prescription: the drug (a coding of the drug catalogue), its form and strength,
    the structured dose (quantity and unit, route, frequency, duration), the quantity to supply
    (derived from the dose where it can be), refills, the indication (ICD-10-CM) and the prescriber's
    instructions to the patient (encrypted). `daily_amount_mg` is what the maximum-dose check used
    (None when the dose cannot be expressed in mg). `patient` repeats the prescription's, for the
    current-medications index; `ends_at` is set at signing from the duration."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="items")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    drug_system = models.CharField(max_length=255)
    drug_code = models.CharField(max_length=40)
    drug_display = models.CharField(max_length=500)
    form = models.CharField(max_length=60, blank=True)
    strength = models.CharField(max_length=60, blank=True)
    dose_quantity = models.DecimalField(max_digits=10, decimal_places=3)
    dose_unit = models.CharField(max_length=30)
    route = models.CharField(max_length=40, blank=True)
    frequency = models.CharField(max_length=6, choices=Frequency.choices)
    interval_hours = models.PositiveSmallIntegerField(null=True, blank=True, help_text="For every N hours.")
    duration_days = models.PositiveSmallIntegerField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    quantity_unit = models.CharField(max_length=30)
    quantity_dispensed = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    refills = models.PositiveSmallIntegerField(default=0)
    indication_system = models.CharField(max_length=255, blank=True)
    indication_code = models.CharField(max_length=40, blank=True)
    indication_display = models.CharField(max_length=500, blank=True)
    instructions = EncryptedTextField(blank=True, default="")
    daily_amount_mg = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(frequency__in=Frequency.values), name="rx_item_frequency_valid"),
            models.CheckConstraint(condition=models.Q(dose_quantity__gt=0), name="rx_item_dose_positive"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="rx_item_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(quantity_dispensed__gte=0, quantity_dispensed__lte=models.F("quantity")),
                name="rx_item_dispensed_within_quantity",
            ),
            models.CheckConstraint(
                condition=models.Q(frequency="QH", interval_hours__gte=1, interval_hours__lte=24)
                | (~models.Q(frequency="QH") & models.Q(interval_hours__isnull=True)),
                name="rx_item_interval_with_frequency",
            ),
            models.CheckConstraint(
                condition=models.Q(indication_system="", indication_code="")
                | (~models.Q(indication_system="") & ~models.Q(indication_code="")),
                name="rx_item_indication_coding_whole",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "prescription", "position"], name="rx_item_prescription"),
            models.Index(fields=["organization", "patient", "ends_at"], name="rx_item_patient_current"),
        ]

    def __str__(self) -> str:
        return f"{self.drug_code} of {self.prescription_id}"

    @property
    def remaining(self) -> object:
        return self.quantity - self.quantity_dispensed

    @property
    def directions(self) -> str:
        """The label: "Take 1 tablet three times a day for 5 days"."""
        from phb.medications.dosing import directions  # dosing reads this module's choices

        return directions(
            dose_quantity=self.dose_quantity,
            dose_unit=self.dose_unit,
            frequency=self.frequency,
            interval_hours=self.interval_hours,
            duration_days=self.duration_days,
            route=self.route,
        )


class PrescriptionCounter(TenantModel):
    """The last prescription number given in an organization in a year (locked while a number is taken)."""

    year = models.PositiveSmallIntegerField()
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "year"], name="rx_counter_one_per_year")]

    def __str__(self) -> str:
        return f"RX-{self.year}: {self.value}"


class PrescriptionEvent(TenantModel):
    """The prescription's history: one row per change of status (who, when, why), appended, never changed."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    reason = EncryptedTextField(blank=True, default="")
    detail = models.JSONField(default=dict, blank=True, help_text="Ids and codes only.")

    class Meta:
        indexes = [models.Index(fields=["organization", "prescription", "at"], name="rx_event_prescription")]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class CheckPurpose(models.TextChoices):
    CHECK = "check", "Check"
    SIGN = "sign", "Signing"
    REPEAT = "repeat", "Repeat approval"


class CheckOutcome(models.TextChoices):
    CLEAR = "clear", "No alert"
    ALERTS = "alerts", "Alerts shown"
    REFUSED = "refused", "Signing refused: an alert needed an override reason"
    SIGNED = "signed", "Signed"


class SafetyCheck(TenantModel):
    """One run of the safety check on a prescription: what was checked against (the knowledge
    version, pregnancy and lactation as recorded), the alerts it raised (JSON: kind, severity, rule,
    title, mechanism, management, source, items, drugs, key) and what came of it."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="checks")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField()
    checked_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=8, choices=CheckPurpose.choices)
    outcome = models.CharField(max_length=8, choices=CheckOutcome.choices)
    knowledge_version = models.CharField(max_length=60)
    pregnant = models.BooleanField(default=False)
    lactating = models.BooleanField(default=False)
    current_drugs = models.JSONField(default=list, blank=True, help_text="Codes checked against.")
    alerts = models.JSONField(default=list, blank=True)
    highest_severity = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(purpose__in=CheckPurpose.values), name="safety_check_purpose"),
            models.CheckConstraint(condition=models.Q(outcome__in=CheckOutcome.values), name="safety_check_outcome"),
        ]
        indexes = [models.Index(fields=["organization", "prescription", "checked_at"], name="safety_check_rx")]

    def __str__(self) -> str:
        return f"safety check {self.id} ({self.outcome})"


class SafetyOverride(TenantModel):
    """A prescriber went ahead despite an alert: which (rule, kind, severity, drugs), why (encrypted),
    who, when, under which knowledge version. Reported to the organization (the override report)."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="overrides")
    check_run = models.ForeignKey(SafetyCheck, on_delete=models.PROTECT, related_name="overrides")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    alert_key = models.CharField(max_length=300)
    kind = models.CharField(max_length=30)
    severity = models.CharField(max_length=16)
    rule = models.CharField(max_length=120)
    title = models.CharField(max_length=300)
    drugs = models.JSONField(default=list)
    reason = EncryptedTextField()
    overridden_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    overridden_at = models.DateTimeField()
    knowledge_version = models.CharField(max_length=60)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "overridden_at"], name="safety_override_time"),
            models.Index(fields=["organization", "overridden_by", "overridden_at"], name="safety_override_who"),
            models.Index(fields=["organization", "prescription"], name="safety_override_rx"),
        ]

    def __str__(self) -> str:
        return f"override of {self.rule} ({self.severity})"


class RepeatStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the prescriber"
    APPROVED = "approved", "Approved"
    REFUSED = "refused", "Refused"


class RepeatRequest(TenantModel):
    """A patient asks, from the portal, for a repeat of one of their prescriptions; a prescriber approves
    it (a new signed prescription, after the same safety check) or refuses it, saying why."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="repeat_requests")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    note = EncryptedTextField(blank=True, default="", help_text="The patient's message.")
    status = models.CharField(max_length=10, choices=RepeatStatus.choices, default=RepeatStatus.PENDING)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = EncryptedTextField(blank=True, default="")
    new_prescription = models.ForeignKey(
        Prescription, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=RepeatStatus.values), name="repeat_status_valid"),
            models.UniqueConstraint(
                fields=["organization", "prescription"],
                condition=models.Q(status="pending"),
                name="repeat_one_pending_per_prescription",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", decided_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(decided_at__isnull=False)),
                name="repeat_decided_consistent",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(new_prescription__isnull=False),
                name="repeat_approved_has_prescription",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "requested_at"], name="repeat_status_time"),
            models.Index(fields=["organization", "patient", "requested_at"], name="repeat_patient_time"),
        ]

    def __str__(self) -> str:
        return f"repeat request {self.id} ({self.status})"


class DoseStatus(models.TextChoices):
    DUE = "due", "Due"
    TAKEN = "taken", "Taken"
    MISSED = "missed", "Missed"
    SKIPPED = "skipped", "Skipped"


class DoseEvent(TenantModel):
    """One dose due of a prescription item at a time of day (the organization's time zone), generated
    from the schedule; the patient marks it taken, missed or skipped, or it becomes missed by itself
    when left unmarked past the grace period (`auto_missed`)."""

    item = models.ForeignKey(PrescriptionItem, on_delete=models.PROTECT, related_name="doses")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=DoseStatus.choices, default=DoseStatus.DUE)
    marked_at = models.DateTimeField(null=True, blank=True, help_text="When it was marked.")
    taken_at = models.DateTimeField(null=True, blank=True, help_text="When the patient says it happened.")
    marked_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    auto_missed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "item", "due_at"], name="dose_once_per_time"),
            models.CheckConstraint(condition=models.Q(status__in=DoseStatus.values), name="dose_status_valid"),
            models.CheckConstraint(
                condition=models.Q(status="due", marked_at__isnull=True)
                | (~models.Q(status="due") & models.Q(marked_at__isnull=False)),
                name="dose_marked_consistent",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "due_at"], name="dose_patient_time"),
            models.Index(fields=["organization", "item", "due_at"], name="dose_item_time"),
            models.Index(fields=["due_at"], name="dose_unmarked_due", condition=models.Q(status="due")),
        ]

    def __str__(self) -> str:
        return f"dose {self.id} ({self.status})"


class MissEpisode(TenantModel):
    """Consecutive missed doses of one item reached the configured count: the prescriber was told,
    once. The episode ends when a dose of the item is next taken."""

    item = models.ForeignKey(PrescriptionItem, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(help_text="The first missed dose's due time.")
    misses = models.PositiveSmallIntegerField()
    notified_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "item"], condition=models.Q(ended_at__isnull=True), name="miss_episode_one_open"
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "started_at"], name="miss_episode_patient")]

    def __str__(self) -> str:
        return f"miss episode {self.id}"
