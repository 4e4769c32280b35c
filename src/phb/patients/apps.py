from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "phb.patients"
    label = "patients"
    verbose_name = "Patients"
