"""Scheduling: appointments and the history of every change of an appointment's status, idempotency keys
and reminders; at the front desk, queue tickets and the kiosks patients check themselves in at. All
tenant-owned; free slots are derived from the workforce's schedules (`phb.workforce`), not stored."""

from __future__ import annotations

import secrets

from django.db import models

from phb.kernel.crypto import EncryptedJSONField, EncryptedTextField
from phb.kernel.models import TenantModel

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_appointment_reference() -> str:
    """`APT-7K3M9Q2D`: 8 random Crockford base-32 characters (no I, L, O, U)."""
    return "APT-" + "".join(secrets.choice(_CROCKFORD) for _ in range(8))


class AppointmentType(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    TELEMEDICINE = "telemedicine", "Telemedicine"
    FOLLOW_UP = "follow_up", "Follow-up"
    EMERGENCY = "emergency", "Emergency"


class Priority(models.TextChoices):
    NORMAL = "normal", "Normal"
    URGENT = "urgent", "Urgent"
    EMERGENCY = "emergency", "Emergency"


class AppointmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    REJECTED = "rejected", "Rejected"
    REFERRED = "referred", "Referred"
    RESCHEDULED = "rescheduled", "Rescheduled"


# Statuses that hold the practitioner's time: a slot with one of these is taken.
OCCUPYING = (
    AppointmentStatus.PENDING,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.IN_PROGRESS,
    AppointmentStatus.COMPLETED,
)
# Statuses of an appointment still to happen or happening.
ACTIVE = OCCUPYING[:4]


class Appointment(TenantModel):
    """A patient's appointment with a practitioner, or in a department's queue when none is named."""

    reference = models.CharField(max_length=12, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    practitioner = models.ForeignKey(
        "workforce.PractitionerProfile", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    specialization = models.CharField(max_length=100, help_text="The practitioner's, or the department's code.")
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    kind = models.CharField("type", max_length=20, choices=AppointmentType.choices, default=AppointmentType.IN_PERSON)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.PENDING)
    chief_complaint = EncryptedTextField(blank=True, default="")
    symptoms = EncryptedJSONField(null=True, blank=True)
    notes = EncryptedTextField(blank=True, default="")
    fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    booked_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rescheduled_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The appointment it became.",
    )
    # A referral may cross organizations (with the patient's consent): the link is to another tenant's row.
    referred_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The referring appointment.",
    )
    # SECURITY: whoever holds the link joins the call: encrypted at rest, shown only in its window.
    meeting_url = EncryptedTextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "reference"], name="appointment_reference_unique"),
            # SECURITY: the last wall against double booking, behind the lock on the practitioner's profile.
            models.UniqueConstraint(
                fields=["organization", "practitioner", "start_at"],
                condition=models.Q(status__in=[s.value for s in OCCUPYING], practitioner__isnull=False),
                name="appointment_no_double_booking",
            ),
            models.CheckConstraint(
                condition=models.Q(end_at__gt=models.F("start_at")), name="appointment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AppointmentStatus.values), name="appointment_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=AppointmentType.values), name="appointment_type_valid"),
            models.CheckConstraint(condition=models.Q(priority__in=Priority.values), name="appointment_priority_valid"),
            models.CheckConstraint(condition=models.Q(fee__gte=0), name="appointment_fee_not_negative"),
        ]
        indexes = [
            models.Index(fields=["organization", "practitioner", "start_at"], name="appointment_practitioner_day"),
            models.Index(fields=["organization", "department", "start_at"], name="appointment_department_day"),
            models.Index(fields=["organization", "patient", "start_at"], name="appointment_patient_day"),
            models.Index(fields=["organization", "status", "start_at"], name="appointment_status_day"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"


class AppointmentTransition(TenantModel):
    """One change of an appointment's status: who, when, why."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    from_status = models.CharField(max_length=12, blank=True, help_text="Empty for the booking itself.")
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "appointment", "at"], name="transition_history")]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class IdempotencyKey(TenantModel):
    """A booking request's `Idempotency-Key`: the same key and body within 24 hours returns the first result."""

    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key


class ReminderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


# Minutes before the start at which a patient is reminded: 7 days, 2 days, 1 day, 2 hours.
REMINDER_OFFSETS = (7 * 24 * 60, 2 * 24 * 60, 24 * 60, 2 * 60)


class AppointmentReminder(TenantModel):
    """A reminder planned for one appointment at one offset before its start. Unique per (appointment,
    offset): sending claims the row by moving it from planned to sent, so it goes out at most once."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    offset_minutes = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PLANNED)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "appointment", "offset_minutes"], name="reminder_once_per_offset"
            ),
            models.CheckConstraint(condition=models.Q(status__in=ReminderStatus.values), name="reminder_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="reminder_due")]

    def __str__(self) -> str:
        return f"{self.offset_minutes} min before ({self.status})"


# --------------------------------------------------------------------------------------------------
# The front desk: queue tickets, and the kiosks patients check themselves in at
# --------------------------------------------------------------------------------------------------


class KioskKind(models.TextChoices):
    CHECK_IN = "check_in", "Self check-in"
    DISPLAY = "display", "Waiting-room display"


class Kiosk(TenantModel):
    """A device of the hospital that runs with no one signed in: a self check-in kiosk, or a
    waiting-room display of one department. It is enrolled by a member of staff opening "enrol this
    device" on it, which leaves a long-lived cookie holding a random token; only the token's SHA-256
    is kept here. Revoking clears it; a deactivated kiosk is refused too."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=KioskKind.choices, default=KioskKind.CHECK_IN)
    department = models.ForeignKey(
        "organizations.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A display shows this department's queue; a check-in kiosk here serves only it (or every "
        "department when empty).",
    )
    location = models.CharField(max_length=200, blank=True, help_text="Where it stands, e.g. 'Main entrance'.")
    is_active = models.BooleanField(default=True)
    # SECURITY: the token itself is never stored; 256 random bits need no salt or slow hash.
    token_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="kiosk_name_unique_in_organization"),
            models.UniqueConstraint(
                fields=["token_hash"], condition=~models.Q(token_hash=""), name="kiosk_token_unique"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=KioskKind.values), name="kiosk_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(kind=KioskKind.DISPLAY) | models.Q(department__isnull=False),
                name="kiosk_display_has_department",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_enrolled(self) -> bool:
        return bool(self.token_hash)


class TicketCounter(TenantModel):
    """The last ticket number given in one department on one local day. Issuing a ticket locks this
    row, so numbers are given one at a time; the unique constraint on tickets stands behind it."""

    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    issued_on = models.DateField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "department", "issued_on"], name="ticket_counter_one_per_department_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issued_on}: {self.last_number}"


class QueueTicket(TenantModel):
    """The number a checked-in patient is called by (`CAR-014`): per department and local day, given
    at check-in, at the desk or at a kiosk. Waiting-room displays show tickets, never names."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("organizations.Department", on_delete=models.PROTECT, related_name="+")
    issued_on = models.DateField()
    number = models.PositiveIntegerField()
    code = models.CharField(max_length=16)
    kiosk = models.ForeignKey(Kiosk, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "appointment"], name="ticket_one_per_appointment"),
            # SECURITY: never two patients called by one number, whatever the lock does.
            models.UniqueConstraint(
                fields=["organization", "department", "issued_on", "number"], name="ticket_number_unique"
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="ticket_number_positive"),
        ]

    def __str__(self) -> str:
        return self.code
