from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "phb.medications"
    label = "medications"
    verbose_name = "Medications"
