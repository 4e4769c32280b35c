from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "phb.workforce"
    label = "workforce"
    verbose_name = "Workforce"
