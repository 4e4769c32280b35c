from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "phb.pharmacy"
    label = "pharmacy"
    verbose_name = "Pharmacy"

    def ready(self) -> None:
        from phb.pharmacy import handlers  # noqa: F401  (subscribes to events)
