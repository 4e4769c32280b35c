"""What an organization is made of: departments, its opening hours and public holidays (later: locations,
wards, beds, plans)."""

from __future__ import annotations

from django.db import models

from phb.kernel.models import TenantModel


class DepartmentKind(models.TextChoices):
    EMERGENCY = "emergency", "Emergency"
    SURGERY = "surgery", "Surgery"
    PAEDIATRICS = "paediatrics", "Paediatrics"
    OBSTETRICS_GYNAECOLOGY = "obstetrics_gynaecology", "Obstetrics and gynaecology"
    INTERNAL_MEDICINE = "internal_medicine", "Internal medicine"
    CARDIOLOGY = "cardiology", "Cardiology"
    ORTHOPAEDICS = "orthopaedics", "Orthopaedics"
    RADIOLOGY = "radiology", "Radiology"
    LABORATORY = "laboratory", "Laboratory"
    PHARMACY = "pharmacy", "Pharmacy"
    ICU = "icu", "Intensive care unit"
    OUTPATIENTS = "outpatients", "Outpatients"
    OTHER = "other", "Other"


class Department(TenantModel):
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=30, choices=DepartmentKind.choices)
    code = models.SlugField(max_length=40, help_text="Unique within the organization, e.g. 'cardiology'.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="department_code_unique_in_organization"),
            models.CheckConstraint(condition=models.Q(kind__in=DepartmentKind.values), name="department_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(TenantModel):
    """When the organization receives patients on one weekday, in its local time. A day may have more
    than one interval (closed at lunch). An organization with no rows is not bounded (open whenever its
    practitioners are); once it has rows, a weekday without any is closed."""

    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        verbose_name_plural = "opening hours"
        ordering = ["weekday", "opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")), name="opening_hours_close_after_open"
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="opening_hours_weekday_valid"
            ),
            models.UniqueConstraint(
                fields=["organization", "weekday", "opens_at"], name="opening_hours_one_interval_per_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{Weekday(self.weekday).label} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class PublicHoliday(TenantModel):
    """A day the organization is closed (a public holiday, or its own): no practitioner sees patients."""

    observed_on = models.DateField()
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["observed_on"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "observed_on"], name="public_holiday_once_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.observed_on}: {self.name}"
