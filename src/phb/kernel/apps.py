from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "phb.kernel"
    label = "kernel"
    verbose_name = "PHB kernel"

    def ready(self) -> None:
        from phb.kernel import checks, logging

        logging.configure()
        checks.register()

        from django.core.signals import request_finished

        request_finished.connect(_clear_log_context, dispatch_uid="phb.kernel.clear_log_context")


def _clear_log_context(**kwargs: object) -> None:
    import structlog

    structlog.contextvars.clear_contextvars()
