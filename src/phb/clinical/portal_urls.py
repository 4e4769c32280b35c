from django.urls import path

from phb.clinical import portal_views, views

app_name = "clinical_portal"
urlpatterns = [
    path("record/", views.my_record, name="record"),
    path("symptoms/", portal_views.my_symptoms, name="symptoms"),
    path("symptoms/<uuid:report_id>/photo/", portal_views.my_symptom_photo, name="symptom-photo"),
    path("care-plans/", portal_views.my_care_plans, name="care-plans"),
]
