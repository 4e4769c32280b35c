from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "phb.organizations"
    label = "organizations"
    verbose_name = "Organizations"
