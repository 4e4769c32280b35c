from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "phb.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
