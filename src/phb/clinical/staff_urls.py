from django.urls import path

from phb.clinical import views

app_name = "clinical_staff"
urlpatterns = [
    path("patients/<uuid:patient_id>/", views.chart_page, name="chart"),
    path("patients/<uuid:patient_id>/trend/", views.chart_trend, name="chart-trend"),
    path("patients/<uuid:patient_id>/timeline/<slug:kind>/", views.chart_timeline, name="chart-timeline"),
    path("patients/<uuid:patient_id>/break-glass/", views.chart_break_glass, name="break-glass"),
    path("appointments/<uuid:appointment_id>/encounter/", views.appointment_encounter, name="appointment-encounter"),
    path("encounters/<uuid:encounter_id>/", views.encounter_page, name="encounter"),
    path("encounters/<uuid:encounter_id>/vitals/", views.encounter_vitals, name="encounter-vitals"),
    path("encounters/<uuid:encounter_id>/diagnoses/", views.encounter_diagnosis, name="encounter-diagnosis"),
    path("encounters/<uuid:encounter_id>/note/", views.encounter_note, name="encounter-note"),
    path("encounters/<uuid:encounter_id>/finish/", views.encounter_finish, name="encounter-finish"),
]
