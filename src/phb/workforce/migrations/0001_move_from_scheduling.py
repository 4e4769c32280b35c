"""The practitioners' profiles, weekly availability and leave move from scheduling to the workforce.

State only: the tables stay as they are, under their names (`scheduling_practitionerprofile`,
`scheduling_weeklyavailability`, `scheduling_leave`; the models name them in `db_table`), with their
rows, constraints, indexes and row-level security policies. Scheduling's 0004 then forgets the three
models and points `Appointment.practitioner` here."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import phb.kernel.ids


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0003_anomaly_flags"),
        ("kernel", "0002_audit_trail"),
        ("organizations", "0001_initial"),
        # The tables were made by scheduling's first migration: this one only takes them over.
        ("scheduling", "0002_reminders_telemedicine"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="PractitionerProfile",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("specialization", models.CharField(max_length=100)),
                        ("licence_number", models.CharField(max_length=50)),
                        ("licence_expires_on", models.DateField(blank=True, null=True)),
                        ("qualifications", models.JSONField(blank=True, default=list)),
                        ("years_of_experience", models.PositiveSmallIntegerField(default=0)),
                        ("languages", models.JSONField(blank=True, default=list)),
                        ("consultation_fee", models.DecimalField(decimal_places=2, default=0, max_digits=12)),
                        ("offers_telemedicine", models.BooleanField(default=False)),
                        ("is_active", models.BooleanField(default=True)),
                        (
                            "department",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="organizations.department",
                            ),
                        ),
                        (
                            "membership",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.membership"
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
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "scheduling_practitionerprofile",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("organization", "user"), name="practitioner_one_profile_per_organization"
                            ),
                            models.UniqueConstraint(
                                fields=("organization", "membership"), name="practitioner_one_per_membership"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("consultation_fee__gte", 0)), name="practitioner_fee_not_negative"
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="WeeklyAvailability",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "weekday",
                            models.PositiveSmallIntegerField(
                                choices=[
                                    (0, "Monday"),
                                    (1, "Tuesday"),
                                    (2, "Wednesday"),
                                    (3, "Thursday"),
                                    (4, "Friday"),
                                    (5, "Saturday"),
                                    (6, "Sunday"),
                                ]
                            ),
                        ),
                        ("starts_at", models.TimeField()),
                        ("ends_at", models.TimeField()),
                        ("slot_minutes", models.PositiveSmallIntegerField(default=15)),
                        ("max_daily_appointments", models.PositiveSmallIntegerField(default=20)),
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
                            "practitioner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="workforce.practitionerprofile",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "scheduling_weeklyavailability",
                        "verbose_name_plural": "weekly availabilities",
                        "indexes": [
                            models.Index(fields=["organization", "practitioner", "weekday"], name="availability_lookup")
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                                name="availability_ends_after_start",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("slot_minutes__gte", 5), ("slot_minutes__lte", 480)),
                                name="availability_slot_length",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("weekday__gte", 0), ("weekday__lte", 6)),
                                name="availability_weekday_valid",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Leave",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=phb.kernel.ids.uuid7, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("starts_on", models.DateField()),
                        ("ends_on", models.DateField()),
                        ("reason", models.CharField(blank=True, max_length=200)),
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
                            "practitioner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="workforce.practitionerprofile",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "scheduling_leave",
                        "indexes": [
                            models.Index(fields=["organization", "practitioner", "starts_on"], name="leave_lookup")
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("ends_on__gte", models.F("starts_on"))),
                                name="leave_ends_after_start",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
