from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "phb.web"
    label = "web"
    verbose_name = "Web shell"
