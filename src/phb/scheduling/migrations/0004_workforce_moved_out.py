"""Practitioners' profiles, weekly availability and leave now belong to the workforce app (its 0001).

State only: scheduling forgets the three models and `Appointment.practitioner` points at
`workforce.PractitionerProfile`, whose table is the same `scheduling_practitionerprofile`, so the
database's foreign key is already right and nothing is written."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0003_front_desk_kiosks_tickets"),
        ("workforce", "0001_move_from_scheduling"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="appointment",
                    name="practitioner",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="workforce.practitionerprofile",
                    ),
                ),
                migrations.DeleteModel(name="Leave"),
                migrations.DeleteModel(name="WeeklyAvailability"),
                migrations.DeleteModel(name="PractitionerProfile"),
            ],
        ),
    ]
