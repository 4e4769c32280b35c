"""Allergies and intolerances, "no known allergies", medical/surgical/family and social history, immunizations."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import phb.kernel.crypto
import phb.kernel.db
import phb.kernel.ids


class Migration(migrations.Migration):
    dependencies = [
        ("clinical", "0003_diagnoses"),
        ("kernel", "0002_audit_trail"),
        ("patients", "0005_photo_and_second_phone"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AllergyIntolerance",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("note", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("entered_in_error_at", models.DateTimeField(blank=True, null=True)),
                ("entered_in_error_reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("substance_system", models.CharField(blank=True, max_length=255)),
                ("substance_code", models.CharField(blank=True, max_length=40)),
                ("substance_display", models.CharField(blank=True, max_length=500)),
                ("substance_text", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                (
                    "type",
                    models.CharField(
                        choices=[("allergy", "Allergy"), ("intolerance", "Intolerance")],
                        default="allergy",
                        max_length=12,
                    ),
                ),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("medication", "Medication"),
                            ("food", "Food"),
                            ("environment", "Environment"),
                            ("biologic", "Biologic"),
                        ],
                        max_length=12,
                    ),
                ),
                (
                    "criticality",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("low", "Low risk"),
                            ("high", "High risk"),
                            ("unable-to-assess", "Unable to assess risk"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "clinical_status",
                    models.CharField(
                        choices=[("active", "Active"), ("inactive", "Inactive"), ("resolved", "Resolved")],
                        default="active",
                        max_length=10,
                    ),
                ),
                (
                    "verification_status",
                    models.CharField(
                        choices=[
                            ("unconfirmed", "Unconfirmed"),
                            ("confirmed", "Confirmed"),
                            ("refuted", "Refuted"),
                            ("entered-in-error", "Entered in error"),
                        ],
                        default="unconfirmed",
                        max_length=16,
                    ),
                ),
                (
                    "reactions",
                    phb.kernel.crypto.EncryptedJSONField(
                        blank=True,
                        default=list,
                        help_text="[{manifestation: {system, code, display, text}, severity, onset_on, note}]",
                    ),
                ),
                ("onset_on", models.DateField(blank=True, null=True)),
                ("asserted_on", models.DateField()),
                (
                    "entered_in_error_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="kernel.organization",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["organization", "patient", "clinical_status"], name="allergy_patient_status")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(
                            ("clinical_status", "active"),
                            ("verification_status__in", ["unconfirmed", "confirmed"]),
                            models.Q(("substance_code", ""), _negated=True),
                        ),
                        fields=("organization", "patient", "substance_system", "substance_code"),
                        name="allergy_one_active_per_substance",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("type__in", ["allergy", "intolerance"])), name="allergy_type_valid"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("category__in", ["medication", "food", "environment", "biologic"])),
                        name="allergy_category_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("criticality__in", ["", "low", "high", "unable-to-assess"])),
                        name="allergy_criticality_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("clinical_status__in", ["active", "inactive", "resolved"])),
                        name="allergy_clinical_status_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("verification_status__in", ["unconfirmed", "confirmed", "refuted", "entered-in-error"])
                        ),
                        name="allergy_verification_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("substance_code", ""), ("substance_system", "")),
                            models.Q(
                                models.Q(("substance_system", ""), _negated=True),
                                models.Q(("substance_code", ""), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="allergy_substance_coding_whole",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="HistoryEntry",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("note", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("entered_in_error_at", models.DateTimeField(blank=True, null=True)),
                ("entered_in_error_reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("medical", "Past medical history"),
                            ("surgical", "Surgical history"),
                            ("family", "Family history"),
                        ],
                        max_length=10,
                    ),
                ),
                ("code_system", models.CharField(blank=True, max_length=255)),
                ("code", models.CharField(blank=True, max_length=40)),
                ("code_display", models.CharField(blank=True, max_length=500)),
                ("text", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("onset_on", models.DateField(blank=True, help_text="Medical: when it began.", null=True)),
                (
                    "resolved_on",
                    models.DateField(blank=True, help_text="Medical: when it resolved (empty: ongoing).", null=True),
                ),
                ("performed_on", models.DateField(blank=True, help_text="Surgical: when it was done.", null=True)),
                (
                    "relationship",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("MTH", "Mother"),
                            ("FTH", "Father"),
                            ("SIS", "Sister"),
                            ("BRO", "Brother"),
                            ("DAU", "Daughter"),
                            ("SONC", "Son"),
                            ("MGRMTH", "Maternal grandmother"),
                            ("MGRFTH", "Maternal grandfather"),
                            ("PGRMTH", "Paternal grandmother"),
                            ("PGRFTH", "Paternal grandfather"),
                            ("AUNT", "Aunt"),
                            ("UNCLE", "Uncle"),
                            ("COUSN", "Cousin"),
                            ("FAMMEMB", "Other family member"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "onset_age",
                    models.PositiveSmallIntegerField(
                        blank=True, help_text="Family: the relative's age at onset.", null=True
                    ),
                ),
                ("relative_deceased", models.BooleanField(blank=True, null=True)),
                (
                    "entered_in_error_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="kernel.organization",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "history entries",
                "indexes": [models.Index(fields=["organization", "patient", "kind"], name="history_patient_kind")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("kind__in", ["medical", "surgical", "family"])), name="history_kind_valid"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("kind", "family"),
                                (
                                    "relationship__in",
                                    [
                                        "MTH",
                                        "FTH",
                                        "SIS",
                                        "BRO",
                                        "DAU",
                                        "SONC",
                                        "MGRMTH",
                                        "MGRFTH",
                                        "PGRMTH",
                                        "PGRFTH",
                                        "AUNT",
                                        "UNCLE",
                                        "COUSN",
                                        "FAMMEMB",
                                    ],
                                ),
                            ),
                            models.Q(
                                models.Q(("kind", "family"), _negated=True),
                                ("onset_age__isnull", True),
                                ("relationship", ""),
                            ),
                            _connector="OR",
                        ),
                        name="history_family_fields",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("kind", "medical"),
                            models.Q(("onset_on__isnull", True), ("resolved_on__isnull", True)),
                            _connector="OR",
                        ),
                        name="history_medical_fields",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("kind", "surgical"), ("performed_on__isnull", True), _connector="OR"),
                        name="history_surgical_fields",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("code", ""), ("code_system", "")),
                            models.Q(
                                models.Q(("code_system", ""), _negated=True), models.Q(("code", ""), _negated=True)
                            ),
                            _connector="OR",
                        ),
                        name="history_coding_whole",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="Immunization",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("note", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("entered_in_error_at", models.DateTimeField(blank=True, null=True)),
                ("entered_in_error_reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("vaccine_system", models.CharField(blank=True, max_length=255)),
                ("vaccine_code", models.CharField(blank=True, max_length=40)),
                ("vaccine_display", models.CharField(blank=True, max_length=500)),
                ("vaccine_text", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                (
                    "status",
                    models.CharField(
                        choices=[("completed", "Completed"), ("not-done", "Not done")],
                        default="completed",
                        max_length=10,
                    ),
                ),
                (
                    "not_done_reason",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("IMMUNE", "Immunity"),
                            ("MEDPREC", "Medical precaution"),
                            ("OSTOCK", "Product out of stock"),
                            ("PATOBJ", "Patient objection"),
                        ],
                        max_length=8,
                    ),
                ),
                ("occurred_on", models.DateField()),
                ("dose_number", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("lot_number", models.CharField(blank=True, max_length=40)),
                (
                    "site",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("LA", "Left arm"),
                            ("RA", "Right arm"),
                            ("LD", "Left deltoid"),
                            ("RD", "Right deltoid"),
                            ("LT", "Left thigh"),
                            ("RT", "Right thigh"),
                            ("LG", "Left gluteus medius"),
                            ("RG", "Right gluteus medius"),
                            ("MOUTH", "Mouth"),
                            ("NOSE", "Nose"),
                        ],
                        max_length=6,
                    ),
                ),
                (
                    "route",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("IM", "Intramuscular"),
                            ("SQ", "Subcutaneous"),
                            ("IDINJ", "Intradermal"),
                            ("PO", "Oral"),
                            ("NASINHLC", "Nasal"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "performer_text",
                    phb.kernel.crypto.EncryptedTextField(
                        blank=True, default="", help_text="Who gave it, when not a clinician here."
                    ),
                ),
                (
                    "reported",
                    models.BooleanField(default=False, help_text="From the patient or another record, not given here."),
                ),
                (
                    "entered_in_error_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="kernel.organization",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "performer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["organization", "patient", "occurred_on"], name="immunization_patient_date")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["completed", "not-done"])), name="immunization_status_valid"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("not_done_reason", ""), ("status", "completed")),
                            models.Q(
                                ("not_done_reason__in", ["IMMUNE", "MEDPREC", "OSTOCK", "PATOBJ"]),
                                ("status", "not-done"),
                            ),
                            _connector="OR",
                        ),
                        name="immunization_not_done_reason",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("vaccine_code", ""), ("vaccine_system", "")),
                            models.Q(
                                models.Q(("vaccine_system", ""), _negated=True),
                                models.Q(("vaccine_code", ""), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="immunization_coding_whole",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("dose_number__isnull", True),
                            models.Q(("dose_number__gte", 1), ("dose_number__lte", 20)),
                            _connector="OR",
                        ),
                        name="immunization_dose_number_range",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="NoKnownAllergies",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("asserted_at", models.DateTimeField()),
                ("note", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("retired_at", models.DateTimeField(blank=True, null=True)),
                (
                    "retired_reason",
                    models.CharField(
                        blank=True, help_text="allergy_recorded, reasserted or entered_in_error", max_length=20
                    ),
                ),
                (
                    "asserted_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="kernel.organization",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "retired_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "no known allergies statements",
                "indexes": [models.Index(fields=["organization", "patient", "asserted_at"], name="nka_patient_time")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("retired_at__isnull", True)),
                        fields=("organization", "patient"),
                        name="nka_one_current_per_patient",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("retired_at__isnull", True), ("retired_reason", "")),
                            models.Q(
                                ("retired_at__isnull", False),
                                ("retired_reason__in", ["allergy_recorded", "reasserted", "entered_in_error"]),
                            ),
                            _connector="OR",
                        ),
                        name="nka_retired_consistent",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="SocialHistory",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("note", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("entered_in_error_at", models.DateTimeField(blank=True, null=True)),
                ("entered_in_error_reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("recorded_on", models.DateField()),
                (
                    "tobacco",
                    models.CharField(
                        choices=[
                            ("never", "Never"),
                            ("former", "Former"),
                            ("current", "Current"),
                            ("unknown", "Unknown"),
                        ],
                        default="unknown",
                        max_length=8,
                    ),
                ),
                ("tobacco_pack_years", models.DecimalField(blank=True, decimal_places=1, max_digits=5, null=True)),
                (
                    "alcohol",
                    models.CharField(
                        choices=[
                            ("none", "None"),
                            ("former", "Former"),
                            ("occasional", "Occasional"),
                            ("regular", "Regular"),
                            ("heavy", "Heavy"),
                            ("unknown", "Unknown"),
                        ],
                        default="unknown",
                        max_length=10,
                    ),
                ),
                ("alcohol_units_per_week", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("other_substances", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("occupation", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                (
                    "living_situation",
                    models.CharField(
                        choices=[
                            ("alone", "Lives alone"),
                            ("family", "With family or partner"),
                            ("shared", "With others"),
                            ("care_home", "Care home"),
                            ("homeless", "No fixed abode"),
                            ("other", "Other"),
                            ("unknown", "Unknown"),
                        ],
                        default="unknown",
                        max_length=10,
                    ),
                ),
                (
                    "entered_in_error_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="kernel.organization",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "social histories",
                "indexes": [
                    models.Index(fields=["organization", "patient", "recorded_on"], name="social_patient_date")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("tobacco__in", ["never", "former", "current", "unknown"])),
                        name="social_tobacco_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("alcohol__in", ["none", "former", "occasional", "regular", "heavy", "unknown"])
                        ),
                        name="social_alcohol_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "living_situation__in",
                                ["alone", "family", "shared", "care_home", "homeless", "other", "unknown"],
                            )
                        ),
                        name="social_living_valid",
                    ),
                ],
            },
        ),
        phb.kernel.db.EnableRowLevelSecurity("AllergyIntolerance"),
        phb.kernel.db.EnableRowLevelSecurity("NoKnownAllergies"),
        phb.kernel.db.EnableRowLevelSecurity("HistoryEntry"),
        phb.kernel.db.EnableRowLevelSecurity("SocialHistory"),
        phb.kernel.db.EnableRowLevelSecurity("Immunization"),
    ]
