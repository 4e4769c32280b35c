from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "phb.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from phb.accounts import schema, signals  # noqa: F401 (schema registers the OpenAPI extension)

        signals.connect_axes()
