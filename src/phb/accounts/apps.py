from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "phb.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from phb.accounts import signals

        signals.connect_axes()
