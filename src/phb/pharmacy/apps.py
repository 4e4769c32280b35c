from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "phb.pharmacy"
    label = "pharmacy"
    verbose_name = "Pharmacy"
