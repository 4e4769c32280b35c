from django.contrib import admin

from phb.accounts.models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "is_active", "is_platform_operator", "created_at"]
    search_fields = ["email"]
    exclude = ["password", "groups", "user_permissions"]
    readonly_fields = ["last_login", "created_at", "updated_at"]
