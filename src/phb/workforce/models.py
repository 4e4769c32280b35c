"""Workforce: how staff practise at an organization (practitioner profiles), when they see patients
(weekly availability windows, each with an optional break) and when they do not (leave: whole days;
closures: a stretch of time within or across days). All tenant-owned.

The three tables that came from scheduling keep their names (`scheduling_*`, see `db_table`): the move
changed only Django's state, so a live database needed no rename and code still running the previous
release reads the same tables during a rolling deploy."""

from __future__ import annotations

from django.db import models

from phb.kernel.models import TenantModel
from phb.organizations.models import Weekday


class PractitionerProfile(TenantModel):
    """How a staff member practises at one organization: what they offer, where, for how much."""

    membership = models.ForeignKey("accounts.Membership", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    specialization = models.CharField(max_length=100)
    licence_number = models.CharField(max_length=50)
    licence_expires_on = models.DateField(null=True, blank=True)
    qualifications = models.JSONField(default=list, blank=True)
    years_of_experience = models.PositiveSmallIntegerField(default=0)
    languages = models.JSONField(default=list, blank=True)
    consultation_fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    offers_telemedicine = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "scheduling_practitionerprofile"
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="practitioner_one_profile_per_organization"),
            models.UniqueConstraint(fields=["organization", "membership"], name="practitioner_one_per_membership"),
            models.CheckConstraint(condition=models.Q(consultation_fee__gte=0), name="practitioner_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.specialization} ({self.licence_number})"


class WeeklyAvailability(TenantModel):
    """A recurring window, in the organization's local time, cut into slots of `slot_minutes`. A break
    (optional, inside the window) splits it in two parts, each cut from its own start."""

    practitioner = models.ForeignKey(PractitionerProfile, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(default=15)
    max_daily_appointments = models.PositiveSmallIntegerField(default=20)
    # Nullable: rows written before breaks existed, and by the previous release during a deploy, have none.
    break_starts_at = models.TimeField(null=True, blank=True)
    break_ends_at = models.TimeField(null=True, blank=True)

    class Meta:
        db_table = "scheduling_weeklyavailability"
        verbose_name_plural = "weekly availabilities"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="availability_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(slot_minutes__gte=5, slot_minutes__lte=480), name="availability_slot_length"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="availability_weekday_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(break_starts_at__isnull=True, break_ends_at__isnull=True)
                | models.Q(
                    break_starts_at__gt=models.F("starts_at"),
                    break_ends_at__gt=models.F("break_starts_at"),
                    break_ends_at__lt=models.F("ends_at"),
                ),
                name="availability_break_inside_window",
            ),
        ]
        indexes = [models.Index(fields=["organization", "practitioner", "weekday"], name="availability_lookup")]

    def __str__(self) -> str:
        text = f"{Weekday(self.weekday).label} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"
        if self.break_starts_at and self.break_ends_at:
            text += f" (break {self.break_starts_at:%H:%M}-{self.break_ends_at:%H:%M})"
        return text


class Leave(TenantModel):
    """Days a practitioner does not work (inclusive)."""

    practitioner = models.ForeignKey(PractitionerProfile, on_delete=models.CASCADE, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "scheduling_leave"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="leave_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["organization", "practitioner", "starts_on"], name="leave_lookup")]

    def __str__(self) -> str:
        return f"leave {self.starts_on}..{self.ends_on}"


class Closure(TenantModel):
    """A one-off stretch of time in which a practitioner sees nobody (a meeting, a theatre list, a
    half day off): [starts_at, ends_at)."""

    practitioner = models.ForeignKey(PractitionerProfile, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="closure_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["organization", "practitioner", "starts_at"], name="closure_lookup")]

    def __str__(self) -> str:
        return f"closed {self.starts_at:%Y-%m-%d %H:%M}..{self.ends_at:%Y-%m-%d %H:%M}"
