from django.contrib import admin

from phb.notifications.models import NotificationDelivery


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "template_code", "status", "error_code", "recipient_ref"]
    list_filter = ["channel", "status"]
    readonly_fields = [f.name for f in NotificationDelivery._meta.fields]
