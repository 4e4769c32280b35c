"""Prescriptions and their items, safety checks and overrides, status history, repeat requests, doses
due and missed-dose episodes; row-level security on every table; signed prescriptions sealed."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import phb.kernel.crypto
import phb.kernel.db
import phb.kernel.ids
import phb.medications.db


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("clinical", "0005_symptoms_care_plans"),
        ("kernel", "0002_audit_trail"),
        ("organizations", "0002_opening_hours_and_holidays"),
        ("patients", "0005_photo_and_second_phone"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Prescription",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("number", models.CharField(max_length=20)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft"),
                            ("signed", "Signed"),
                            ("partially_dispensed", "Partially dispensed"),
                            ("dispensed", "Dispensed"),
                            ("cancelled", "Cancelled"),
                            ("expired", "Expired"),
                        ],
                        default="draft",
                        max_length=20,
                    ),
                ),
                (
                    "pregnant",
                    models.BooleanField(default=False, help_text="Recorded by the prescriber for the safety check."),
                ),
                (
                    "lactating",
                    models.BooleanField(default=False, help_text="Recorded by the prescriber for the safety check."),
                ),
                ("signed_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, help_text="Not dispensable after this.", null=True)),
                ("cancelled_at", models.DateTimeField(blank=True, null=True)),
                ("cancel_reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("expired_at", models.DateTimeField(blank=True, null=True)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "cancelled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "encounter",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="clinical.encounter",
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
                    "pharmacy_department",
                    models.ForeignKey(
                        blank=True,
                        help_text="The nominated pharmacy; empty: any pharmacy of the organization.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="organizations.department",
                    ),
                ),
                (
                    "prescriber",
                    models.ForeignKey(
                        blank=True,
                        help_text="Who signed it.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "repeat_of",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="repeats",
                        to="medications.prescription",
                    ),
                ),
                (
                    "replaced_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="medications.prescription",
                    ),
                ),
                (
                    "replaces",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replacements",
                        to="medications.prescription",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PrescriptionCounter",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("year", models.PositiveSmallIntegerField()),
                ("value", models.PositiveIntegerField(default=0)),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="kernel.organization",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PrescriptionEvent",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("from_status", models.CharField(blank=True, max_length=20)),
                ("to_status", models.CharField(max_length=20)),
                ("at", models.DateTimeField()),
                ("reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("detail", models.JSONField(blank=True, default=dict, help_text="Ids and codes only.")),
                (
                    "actor",
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
                    "prescription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="history",
                        to="medications.prescription",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PrescriptionItem",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("position", models.PositiveSmallIntegerField(default=0)),
                ("drug_system", models.CharField(max_length=255)),
                ("drug_code", models.CharField(max_length=40)),
                ("drug_display", models.CharField(max_length=500)),
                ("form", models.CharField(blank=True, max_length=60)),
                ("strength", models.CharField(blank=True, max_length=60)),
                ("dose_quantity", models.DecimalField(decimal_places=3, max_digits=10)),
                ("dose_unit", models.CharField(max_length=30)),
                ("route", models.CharField(blank=True, max_length=40)),
                (
                    "frequency",
                    models.CharField(
                        choices=[
                            ("OD", "Once a day"),
                            ("BD", "Twice a day"),
                            ("TDS", "Three times a day"),
                            ("QDS", "Four times a day"),
                            ("QH", "Every N hours"),
                            ("ON", "At night"),
                            ("PRN", "When required"),
                            ("ONCE", "Once only"),
                        ],
                        max_length=6,
                    ),
                ),
                (
                    "interval_hours",
                    models.PositiveSmallIntegerField(blank=True, help_text="For every N hours.", null=True),
                ),
                ("duration_days", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("quantity", models.DecimalField(decimal_places=3, max_digits=10)),
                ("quantity_unit", models.CharField(max_length=30)),
                ("quantity_dispensed", models.DecimalField(decimal_places=3, default=0, max_digits=10)),
                ("refills", models.PositiveSmallIntegerField(default=0)),
                ("indication_system", models.CharField(blank=True, max_length=255)),
                ("indication_code", models.CharField(blank=True, max_length=40)),
                ("indication_display", models.CharField(blank=True, max_length=500)),
                ("instructions", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                ("daily_amount_mg", models.DecimalField(blank=True, decimal_places=3, max_digits=12, null=True)),
                ("starts_at", models.DateTimeField(blank=True, null=True)),
                ("ends_at", models.DateTimeField(blank=True, null=True)),
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
                    "prescription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="items", to="medications.prescription"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="MissEpisode",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("started_at", models.DateTimeField(help_text="The first missed dose's due time.")),
                ("misses", models.PositiveSmallIntegerField()),
                ("notified_at", models.DateTimeField(blank=True, null=True)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
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
                    "recipient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="medications.prescriptionitem"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="DoseEvent",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("due_at", models.DateTimeField()),
                (
                    "status",
                    models.CharField(
                        choices=[("due", "Due"), ("taken", "Taken"), ("missed", "Missed"), ("skipped", "Skipped")],
                        default="due",
                        max_length=8,
                    ),
                ),
                ("marked_at", models.DateTimeField(blank=True, help_text="When it was marked.", null=True)),
                (
                    "taken_at",
                    models.DateTimeField(blank=True, help_text="When the patient says it happened.", null=True),
                ),
                ("auto_missed", models.BooleanField(default=False)),
                (
                    "marked_by",
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
                    "prescription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="medications.prescription"
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="doses",
                        to="medications.prescriptionitem",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="RepeatRequest",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("requested_at", models.DateTimeField()),
                (
                    "note",
                    phb.kernel.crypto.EncryptedTextField(blank=True, default="", help_text="The patient's message."),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for the prescriber"),
                            ("approved", "Approved"),
                            ("refused", "Refused"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("refusal_reason", phb.kernel.crypto.EncryptedTextField(blank=True, default="")),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "new_prescription",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="medications.prescription",
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
                    "prescription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="repeat_requests",
                        to="medications.prescription",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SafetyCheck",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("checked_at", models.DateTimeField()),
                (
                    "purpose",
                    models.CharField(
                        choices=[("check", "Check"), ("sign", "Signing"), ("repeat", "Repeat approval")], max_length=8
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("clear", "No alert"),
                            ("alerts", "Alerts shown"),
                            ("refused", "Signing refused: an alert needed an override reason"),
                            ("signed", "Signed"),
                        ],
                        max_length=8,
                    ),
                ),
                ("knowledge_version", models.CharField(max_length=60)),
                ("pregnant", models.BooleanField(default=False)),
                ("lactating", models.BooleanField(default=False)),
                ("current_drugs", models.JSONField(blank=True, default=list, help_text="Codes checked against.")),
                ("alerts", models.JSONField(blank=True, default=list)),
                ("highest_severity", models.CharField(blank=True, max_length=16)),
                (
                    "checked_by",
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
                    "prescription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="checks",
                        to="medications.prescription",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="SafetyOverride",
            fields=[
                (
                    "id",
                    models.UUIDField(default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("alert_key", models.CharField(max_length=300)),
                ("kind", models.CharField(max_length=30)),
                ("severity", models.CharField(max_length=16)),
                ("rule", models.CharField(max_length=120)),
                ("title", models.CharField(max_length=300)),
                ("drugs", models.JSONField(default=list)),
                ("reason", phb.kernel.crypto.EncryptedTextField()),
                ("overridden_at", models.DateTimeField()),
                ("knowledge_version", models.CharField(max_length=60)),
                (
                    "check_run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="overrides",
                        to="medications.safetycheck",
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
                    "overridden_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "prescription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="overrides",
                        to="medications.prescription",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(fields=["organization", "patient", "created_at"], name="prescription_patient_time"),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(fields=["organization", "status", "signed_at"], name="prescription_status_time"),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(fields=["organization", "encounter"], name="prescription_encounter"),
        ),
        migrations.AddIndex(
            model_name="prescription",
            index=models.Index(
                condition=models.Q(("status__in", ["signed", "partially_dispensed"])),
                fields=["organization", "expires_at"],
                name="prescription_expiry_due",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.UniqueConstraint(fields=("organization", "number"), name="prescription_number_unique"),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["draft", "signed", "partially_dispensed", "dispensed", "cancelled", "expired"])
                ),
                name="prescription_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("prescriber__isnull", True), ("signed_at__isnull", True), ("status", "draft")),
                    models.Q(("signed_at__isnull", True), ("status", "cancelled")),
                    models.Q(
                        ("expires_at__isnull", False), ("prescriber__isnull", False), ("signed_at__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="prescription_signed_consistent",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "cancelled"), _negated=True), ("cancelled_at__isnull", False), _connector="OR"
                ),
                name="prescription_cancelled_has_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescription",
            constraint=models.CheckConstraint(
                condition=models.Q(("replaces", models.F("id")), _negated=True), name="prescription_not_own_replacement"
            ),
        ),
        migrations.AddConstraint(
            model_name="prescriptioncounter",
            constraint=models.UniqueConstraint(fields=("organization", "year"), name="rx_counter_one_per_year"),
        ),
        migrations.AddIndex(
            model_name="prescriptionevent",
            index=models.Index(fields=["organization", "prescription", "at"], name="rx_event_prescription"),
        ),
        migrations.AddIndex(
            model_name="prescriptionitem",
            index=models.Index(fields=["organization", "prescription", "position"], name="rx_item_prescription"),
        ),
        migrations.AddIndex(
            model_name="prescriptionitem",
            index=models.Index(fields=["organization", "patient", "ends_at"], name="rx_item_patient_current"),
        ),
        migrations.AddConstraint(
            model_name="prescriptionitem",
            constraint=models.CheckConstraint(
                condition=models.Q(("frequency__in", ["OD", "BD", "TDS", "QDS", "QH", "ON", "PRN", "ONCE"])),
                name="rx_item_frequency_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescriptionitem",
            constraint=models.CheckConstraint(
                condition=models.Q(("dose_quantity__gt", 0)), name="rx_item_dose_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="prescriptionitem",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity__gt", 0)), name="rx_item_quantity_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="prescriptionitem",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity_dispensed__gte", 0), ("quantity_dispensed__lte", models.F("quantity"))),
                name="rx_item_dispensed_within_quantity",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescriptionitem",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("frequency", "QH"), ("interval_hours__gte", 1), ("interval_hours__lte", 24)),
                    models.Q(models.Q(("frequency", "QH"), _negated=True), ("interval_hours__isnull", True)),
                    _connector="OR",
                ),
                name="rx_item_interval_with_frequency",
            ),
        ),
        migrations.AddConstraint(
            model_name="prescriptionitem",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("indication_code", ""), ("indication_system", "")),
                    models.Q(
                        models.Q(("indication_system", ""), _negated=True),
                        models.Q(("indication_code", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="rx_item_indication_coding_whole",
            ),
        ),
        migrations.AddIndex(
            model_name="missepisode",
            index=models.Index(fields=["organization", "patient", "started_at"], name="miss_episode_patient"),
        ),
        migrations.AddConstraint(
            model_name="missepisode",
            constraint=models.UniqueConstraint(
                condition=models.Q(("ended_at__isnull", True)),
                fields=("organization", "item"),
                name="miss_episode_one_open",
            ),
        ),
        migrations.AddIndex(
            model_name="doseevent",
            index=models.Index(fields=["organization", "patient", "due_at"], name="dose_patient_time"),
        ),
        migrations.AddIndex(
            model_name="doseevent",
            index=models.Index(fields=["organization", "item", "due_at"], name="dose_item_time"),
        ),
        migrations.AddIndex(
            model_name="doseevent",
            index=models.Index(condition=models.Q(("status", "due")), fields=["due_at"], name="dose_unmarked_due"),
        ),
        migrations.AddConstraint(
            model_name="doseevent",
            constraint=models.UniqueConstraint(fields=("organization", "item", "due_at"), name="dose_once_per_time"),
        ),
        migrations.AddConstraint(
            model_name="doseevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["due", "taken", "missed", "skipped"])), name="dose_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="doseevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("marked_at__isnull", True), ("status", "due")),
                    models.Q(models.Q(("status", "due"), _negated=True), ("marked_at__isnull", False)),
                    _connector="OR",
                ),
                name="dose_marked_consistent",
            ),
        ),
        migrations.AddIndex(
            model_name="repeatrequest",
            index=models.Index(fields=["organization", "status", "requested_at"], name="repeat_status_time"),
        ),
        migrations.AddIndex(
            model_name="repeatrequest",
            index=models.Index(fields=["organization", "patient", "requested_at"], name="repeat_patient_time"),
        ),
        migrations.AddConstraint(
            model_name="repeatrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["pending", "approved", "refused"])), name="repeat_status_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="repeatrequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")),
                fields=("organization", "prescription"),
                name="repeat_one_pending_per_prescription",
            ),
        ),
        migrations.AddConstraint(
            model_name="repeatrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("decided_at__isnull", True), ("status", "pending")),
                    models.Q(models.Q(("status", "pending"), _negated=True), ("decided_at__isnull", False)),
                    _connector="OR",
                ),
                name="repeat_decided_consistent",
            ),
        ),
        migrations.AddConstraint(
            model_name="repeatrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "approved"), _negated=True),
                    ("new_prescription__isnull", False),
                    _connector="OR",
                ),
                name="repeat_approved_has_prescription",
            ),
        ),
        migrations.AddIndex(
            model_name="safetycheck",
            index=models.Index(fields=["organization", "prescription", "checked_at"], name="safety_check_rx"),
        ),
        migrations.AddConstraint(
            model_name="safetycheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("purpose__in", ["check", "sign", "repeat"])), name="safety_check_purpose"
            ),
        ),
        migrations.AddConstraint(
            model_name="safetycheck",
            constraint=models.CheckConstraint(
                condition=models.Q(("outcome__in", ["clear", "alerts", "refused", "signed"])),
                name="safety_check_outcome",
            ),
        ),
        migrations.AddIndex(
            model_name="safetyoverride",
            index=models.Index(fields=["organization", "overridden_at"], name="safety_override_time"),
        ),
        migrations.AddIndex(
            model_name="safetyoverride",
            index=models.Index(fields=["organization", "overridden_by", "overridden_at"], name="safety_override_who"),
        ),
        migrations.AddIndex(
            model_name="safetyoverride",
            index=models.Index(fields=["organization", "prescription"], name="safety_override_rx"),
        ),
        phb.kernel.db.EnableRowLevelSecurity("Prescription"),
        phb.kernel.db.EnableRowLevelSecurity("PrescriptionItem"),
        phb.kernel.db.EnableRowLevelSecurity("PrescriptionCounter"),
        phb.kernel.db.EnableRowLevelSecurity("PrescriptionEvent"),
        phb.kernel.db.EnableRowLevelSecurity("SafetyCheck"),
        phb.kernel.db.EnableRowLevelSecurity("SafetyOverride"),
        phb.kernel.db.EnableRowLevelSecurity("RepeatRequest"),
        phb.kernel.db.EnableRowLevelSecurity("DoseEvent"),
        phb.kernel.db.EnableRowLevelSecurity("MissEpisode"),
        phb.medications.db.SealSignedPrescriptions("Prescription", "PrescriptionItem"),
    ]
