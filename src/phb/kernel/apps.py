from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "phb.kernel"
    label = "kernel"
    verbose_name = "PHB kernel"

    def ready(self) -> None:
        from phb.kernel import checks, logging

        logging.configure()
        checks.register()
