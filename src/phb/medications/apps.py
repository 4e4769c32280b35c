from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "phb.medications"
    label = "medications"
    verbose_name = "Medications"

    def ready(self) -> None:
        from phb.clinical.public import register_chart_section, register_encounter_panel
        from phb.medications import handlers  # noqa: F401  (subscribes to the app's events)
        from phb.medications.selectors import current_medications, encounter_prescriptions

        # Replaces the chart's placeholder of the same key: one query, after the chart's access check.
        register_chart_section(
            "medications",
            current_medications,
            title="Current medications",
            order=40,
            template="medications/chart/_current.html",
        )
        register_encounter_panel(
            "prescriptions",
            encounter_prescriptions,
            title="Prescriptions",
            order=40,
            template="medications/_encounter_panel.html",
        )
        # A merged patient's prescriptions, checks, overrides, repeat requests and doses, in every
        # organization, follow them to the surviving record (signed prescriptions included: see db.py).
        from phb.medications import models
        from phb.patients.public import register_rows_handler

        for model in (
            models.Prescription,
            models.PrescriptionItem,
            models.SafetyCheck,
            models.SafetyOverride,
            models.RepeatRequest,
            models.DoseEvent,
            models.MissEpisode,
        ):
            register_rows_handler(f"medications_{model._meta.model_name}", model)
