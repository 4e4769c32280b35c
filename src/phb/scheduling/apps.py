from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "phb.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from phb.patients.public import register_rows_handler
        from phb.scheduling.models import Appointment

        # A merged patient's appointments, in every organization, follow them to the surviving record.
        register_rows_handler("scheduling_appointments", Appointment)
