from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "phb.notifications"
    label = "notifications"
    verbose_name = "Notifications"
