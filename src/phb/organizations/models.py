"""What an organization is made of: departments (later: locations, wards, beds, plans)."""

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
