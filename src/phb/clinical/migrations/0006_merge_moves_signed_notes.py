"""A signed note may move between a patient's record and the record it is merged into (and back, when
the merge is undone); nothing else about it may change. Re-creates the trigger function of 0001."""

from django.db import migrations

import phb.clinical.db


class Migration(migrations.Migration):
    dependencies = [("clinical", "0005_symptoms_care_plans"), ("patients", "0005_photo_and_second_phone")]

    operations = [
        phb.clinical.db.SealSignedRows("ClinicalNote", ["subjective", "objective", "assessment", "plan", "text"]),
    ]
