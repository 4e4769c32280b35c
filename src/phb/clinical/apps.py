from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "phb.clinical"
    label = "clinical"
    verbose_name = "Clinical record"

    def ready(self) -> None:
        from phb.clinical import (
            handlers,  # noqa: F401  (subscribes to other apps' events)
            merge,  # noqa: F401  (the record follows a merged patient)
        )
