from django.contrib import admin

from phb.kernel.context import Ctx
from phb.organizations.models import Department


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "organization", "is_active"]
    list_filter = ["kind"]

    def get_queryset(self, request):
        # The Django admin is for platform superusers only: it sees every tenant, explicitly.
        return Department.objects.for_system(Ctx.system(reason=f"django admin: {request.user.pk}"))
