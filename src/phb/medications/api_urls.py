from django.urls import path

from phb.medications import api

urlpatterns = [
    path(
        "patients/<str:patient_id>/prescriptions/", api.PatientPrescriptionsApi.as_view(), name="patient-prescriptions"
    ),
    path("patients/<str:patient_id>/adherence/", api.PatientAdherenceApi.as_view(), name="patient-adherence"),
    path("prescriptions/<str:prescription_id>/", api.PrescriptionApi.as_view(), name="prescription"),
    path("prescriptions/<str:prescription_id>/check/", api.PrescriptionCheckApi.as_view(), name="prescription-check"),
    path("prescriptions/<str:prescription_id>/sign/", api.PrescriptionSignApi.as_view(), name="prescription-sign"),
    path(
        "prescriptions/<str:prescription_id>/cancel/", api.PrescriptionCancelApi.as_view(), name="prescription-cancel"
    ),
    path(
        "prescriptions/<str:prescription_id>/replace/",
        api.PrescriptionReplaceApi.as_view(),
        name="prescription-replace",
    ),
    path("repeat-requests/", api.RepeatRequestsApi.as_view(), name="repeat-requests"),
    path(
        "repeat-requests/<str:request_id>/approve/",
        api.RepeatRequestApproveApi.as_view(),
        name="repeat-request-approve",
    ),
    path(
        "repeat-requests/<str:request_id>/refuse/", api.RepeatRequestRefuseApi.as_view(), name="repeat-request-refuse"
    ),
    path("medication-overrides/", api.OverrideReportApi.as_view(), name="medication-overrides"),
    path("me/medications/", api.MyPrescriptionsApi.as_view(), name="my-medications"),
    path("me/repeat-requests/", api.MyRepeatRequestsApi.as_view(), name="my-repeat-requests"),
    path(
        "me/prescriptions/<str:prescription_id>/repeat-requests/",
        api.MyPrescriptionRepeatApi.as_view(),
        name="my-prescription-repeat",
    ),
    path(
        "me/prescriptions/<str:prescription_id>/pharmacy/",
        api.MyPrescriptionPharmacyApi.as_view(),
        name="my-prescription-pharmacy",
    ),
    path("me/doses/", api.MyDosesApi.as_view(), name="my-doses"),
    path("me/doses/<str:dose_id>/", api.MyDoseApi.as_view(), name="my-dose"),
    path("me/adherence/", api.MyAdherenceApi.as_view(), name="my-adherence"),
]
