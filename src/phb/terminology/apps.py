from django.apps import AppConfig


class TerminologyConfig(AppConfig):
    name = "phb.terminology"
    label = "terminology"
    verbose_name = "Terminology"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from phb.terminology import services

        post_migrate.connect(services.load_after_migrate, sender=self, dispatch_uid="phb.terminology.load")
