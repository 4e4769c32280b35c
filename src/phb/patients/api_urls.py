from django.urls import path

from phb.patients import api

urlpatterns = [
    path("me/consents/", api.MyConsentsApi.as_view(), name="my-consents"),
    path("me/consents/<str:consent_id>/withdraw/", api.MyConsentWithdrawApi.as_view(), name="my-consent-withdraw"),
    path("me/access-log/", api.MyAccessLogApi.as_view(), name="my-access-log"),
    path("me/exports/", api.MyExportsApi.as_view(), name="my-exports"),
    path("me/exports/<str:export_id>/", api.MyExportApi.as_view(), name="my-export"),
    path("me/exports/<str:export_id>/download", api.MyExportDownloadApi.as_view(), name="my-export-download"),
]
