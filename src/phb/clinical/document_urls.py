from django.urls import path

from phb.clinical import document_views as views

app_name = "clinical_documents"
urlpatterns = [
    path("patients/<uuid:patient_id>/", views.documents_page, name="page"),
    path("patients/<uuid:patient_id>/upload/", views.document_upload, name="upload"),
    path(
        "patients/<uuid:patient_id>/<uuid:document_id>/entered-in-error/",
        views.document_entered_in_error,
        name="entered-in-error",
    ),
    path("<uuid:document_id>/download/", views.document_download, name="download"),
]
