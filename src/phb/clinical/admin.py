"""The Django admin (platform superusers) sees the clinical record's metadata, read-only: nothing is
added, changed or deleted here, and no clinical text is shown. A signed note in particular cannot
change through the admin (nor through the service, the API, or on PostgreSQL a raw UPDATE)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from phb.clinical.models import ClinicalNote, CriticalAlert, Encounter, NoteTemplate
from phb.kernel.context import Ctx


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_queryset(self, request: HttpRequest) -> Any:
        # The Django admin is for platform superusers only: it sees every tenant, explicitly.
        return self.model.objects.for_system(Ctx.system(reason=f"django admin: {request.user.pk}"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClinicalNote)
class ClinicalNoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "author", "organization", "created_at", "signed_at"]
    list_filter = ["status", "kind"]
    fields = ["id", "organization", "patient", "encounter", "author", "kind", "amends", "status", "signed_at"]
    readonly_fields = fields


@admin.register(Encounter)
class EncounterAdmin(ReadOnlyAdmin):
    list_display = ["id", "encounter_class", "source", "status", "organization", "started_at", "ended_at"]
    list_filter = ["status", "encounter_class", "source"]
    fields = ["id", "organization", "patient", "encounter_class", "source", "appointment", "status", "attending"]
    readonly_fields = fields


@admin.register(CriticalAlert)
class CriticalAlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "organization", "raised_at", "acknowledged_at", "escalated_at"]
    list_filter = ["status"]
    fields = ["id", "organization", "recipient", "status", "raised_at", "acknowledged_at", "escalated_at"]
    readonly_fields = fields


@admin.register(NoteTemplate)
class NoteTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "department_kind", "organization", "is_active"]
    fields = ["name", "department_kind", "department", "sections", "is_active"]
    readonly_fields = fields


# --- documents: metadata only (no title, description, file name or content; never the storage key) ---

from phb.clinical.models import ClinicalDocument  # noqa: E402


@admin.register(ClinicalDocument)
class ClinicalDocumentAdmin(ReadOnlyAdmin):
    list_display = ["id", "category", "content_type", "size", "status", "organization", "created_at", "key_id"]
    list_filter = ["status", "category", "content_type"]
    fields = ["id", "organization", "patient", "encounter", "category", "content_type", "size", "sha256", "source"]
    fields += ["uploaded_by", "status", "entered_in_error_at", "key_id"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        from django.db.models import TextField
        from django.db.models.functions import Cast

        return (
            super()
            .get_queryset(request)
            .defer("content_key")
            .annotate(wrapped_key=Cast("content_key", output_field=TextField()))
        )

    @admin.display(description="key id")
    def key_id(self, document: ClinicalDocument) -> str:
        from phb.clinical.documents import key_id

        return key_id(document) or "—"
