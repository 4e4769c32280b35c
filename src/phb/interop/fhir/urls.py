"""Routes of the FHIR R4 API under /fhir/r4/."""

from django.urls import path, re_path

from phb.interop.fhir import bulk, everything, slot_views, views

app_name = "fhir"
_TYPE = r"(?P<resource_type>[A-Z][A-Za-z]{1,63})"
_ID = r"(?P<resource_id>[A-Za-z0-9\-.]{1,64})"
urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    path("", views.SystemView.as_view(), name="system"),
    # Operations: before the generic <Type>/<id> routes.
    re_path(rf"^Patient/{_ID}/\$everything/?$", everything.EverythingView.as_view(), name="patient-everything"),
    re_path(r"^\$export/?$", bulk.ExportKickoffView.as_view(kind="system"), name="export"),
    re_path(r"^Patient/\$export/?$", bulk.ExportKickoffView.as_view(kind="patient"), name="patient-export"),
    re_path(rf"^Group/{_ID}/\$export/?$", bulk.ExportKickoffView.as_view(kind="group"), name="group-export"),
    re_path(
        r"^\$export-status/(?P<export_id>[A-Za-z0-9\-]{1,64})/?$", bulk.ExportStatusView.as_view(), name="export-status"
    ),
    re_path(
        r"^\$export-file/(?P<export_id>[A-Za-z0-9\-]{1,64})/(?P<index>[0-9]{1,6})/?$",
        bulk.ExportFileView.as_view(),
        name="export-file",
    ),
    # Slot is computed, not a registry type with rows.
    re_path(r"^Slot/?$", slot_views.SlotSearchView.as_view(), name="slot-search"),
    re_path(rf"^Slot/{_ID}/?$", slot_views.SlotReadView.as_view(), name="slot-read"),
    re_path(rf"^{_TYPE}/?$", views.SearchView.as_view(), name="search"),
    re_path(rf"^{_TYPE}/{_ID}/?$", views.ReadView.as_view(), name="read"),
    re_path(
        rf"^{_TYPE}/{_ID}/_history/(?P<version_id>[A-Za-z0-9\-.]{{1,64}})/?$", views.ReadView.as_view(), name="vread"
    ),
    re_path(r"^(?P<rest>.*)$", views.NotFoundView.as_view(), name="not-found"),
]
