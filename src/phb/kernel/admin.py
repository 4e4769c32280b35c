from django.contrib import admin, messages

from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.models import DeliveryStatus, Organization, OutboxDelivery


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "code", "registration_number", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code", "registration_number"]
    readonly_fields = ["registration_number", "created_at", "updated_at"]

    def get_queryset(self, request):
        return Organization.objects.for_platform(Ctx.system(reason=f"django admin: {request.user.pk}"))


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(admin.ModelAdmin):
    """Operators see failing and parked deliveries here, and put them back in the queue."""

    list_display = ["handler", "event", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status", "handler"]
    readonly_fields = [f.name for f in OutboxDelivery._meta.fields]
    actions = ["retry"]

    @admin.action(description="Retry the selected parked deliveries")
    def retry(self, request, queryset):
        ids = list(queryset.filter(status=DeliveryStatus.PARKED).values_list("id", flat=True))
        count = events.retry_parked(delivery_ids=ids)
        self.message_user(request, f"{count} deliveries queued again", messages.SUCCESS)
