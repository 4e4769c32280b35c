from django.urls import path

from phb.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.home, name="home"),
    path("consents/", views.consent_list, name="consents"),
    path("consents/<uuid:consent_id>/withdraw/", views.consent_withdraw, name="consent-withdraw"),
    path("access-log/", views.access_log, name="access-log"),
    path("export/", views.export_list, name="exports"),
    path("export/<uuid:export_id>/download/<str:fmt>/", views.export_download, name="export-download"),
]
