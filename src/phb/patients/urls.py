from django.urls import path

from phb.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.home, name="home"),
    path("onboarding/", views.onboarding, name="onboarding"),
    path("profile/", views.profile, name="profile"),
    path("hospitals/", views.hospitals, name="hospitals"),
    path("hospitals/<uuid:registration_id>/primary/", views.hospital_set_primary, name="hospital-primary"),
    path("consents/", views.consent_list, name="consents"),
    path("consents/<uuid:consent_id>/withdraw/", views.consent_withdraw, name="consent-withdraw"),
    path("access-log/", views.access_log, name="access-log"),
    path("export/", views.export_list, name="exports"),
    path("export/<uuid:export_id>/download/<str:fmt>/", views.export_download, name="export-download"),
]
