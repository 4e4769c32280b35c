from django.urls import path

from phb.medications import views

app_name = "medications_staff"
urlpatterns = [
    path("drugs/search/", views.drug_search, name="drug-search"),
    path("drugs/dose-fields/", views.dose_fields, name="dose-fields"),
    path("drugs/dose-preview/", views.dose_preview, name="dose-preview"),
    path("encounters/<uuid:encounter_id>/prescribe/", views.encounter_prescribe, name="encounter-prescribe"),
    path("prescriptions/<uuid:prescription_id>/", views.prescription_page, name="prescription"),
    path("prescriptions/<uuid:prescription_id>/items/", views.prescription_add_item, name="prescription-add-item"),
    path(
        "prescriptions/<uuid:prescription_id>/items/<int:position>/remove/",
        views.prescription_remove_item,
        name="prescription-remove-item",
    ),
    path("prescriptions/<uuid:prescription_id>/check/", views.prescription_check, name="prescription-check"),
    path("prescriptions/<uuid:prescription_id>/sign/", views.prescription_sign, name="prescription-sign"),
    path("prescriptions/<uuid:prescription_id>/cancel/", views.prescription_cancel, name="prescription-cancel"),
    path("prescriptions/<uuid:prescription_id>/replace/", views.prescription_replace, name="prescription-replace"),
    path("repeat-requests/", views.repeat_requests_page, name="repeat-requests"),
    path("repeat-requests/<uuid:request_id>/", views.repeat_request_decide, name="repeat-request-decide"),
    path("overrides/", views.override_report_page, name="overrides"),
]
