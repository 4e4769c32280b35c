from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "phb.pharmacy"
    label = "pharmacy"
    verbose_name = "Pharmacy"

    def ready(self) -> None:
        from phb.patients.public import register_rows_handler
        from phb.pharmacy import handlers  # noqa: F401  (subscribes to events)
        from phb.pharmacy.models import Dispensing

        register_rows_handler("pharmacy_dispensings", Dispensing)  # they follow a merged patient's record
