from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "phb.demo"
    label = "demo"
    verbose_name = "Demo data"
