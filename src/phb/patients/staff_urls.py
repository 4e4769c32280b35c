from django.urls import path

from phb.patients import staff_views as views

app_name = "patients_staff"
urlpatterns = [
    path("", views.patient_search, name="search"),
    path("register/", views.walk_in, name="walk-in"),
    path("<uuid:patient_id>/", views.patient_detail, name="patient"),
    path("<uuid:patient_id>/edit/", views.patient_edit, name="edit"),
    path("<uuid:patient_id>/register/", views.register_existing, name="register-existing"),
    path("registrations/", views.registrations, name="registrations"),
    path("registrations/<uuid:registration_id>/decide/", views.registration_decide, name="registration-decide"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/<uuid:candidate_id>/", views.duplicate_detail, name="duplicate"),
    path("duplicates/<uuid:candidate_id>/merge/", views.duplicate_merge, name="duplicate-merge"),
    path("duplicates/<uuid:candidate_id>/dismiss/", views.duplicate_dismiss, name="duplicate-dismiss"),
    path("merges/", views.merges, name="merges"),
    path("merges/<uuid:merge_id>/undo/", views.merge_undo, name="merge-undo"),
]
