from django.urls import path

from phb.patients import api, staff_api

urlpatterns = [
    path("me/consents/", api.MyConsentsApi.as_view(), name="my-consents"),
    path("me/consents/<str:consent_id>/withdraw/", api.MyConsentWithdrawApi.as_view(), name="my-consent-withdraw"),
    path("me/access-log/", api.MyAccessLogApi.as_view(), name="my-access-log"),
    path("me/exports/", api.MyExportsApi.as_view(), name="my-exports"),
    path("me/exports/<str:export_id>/", api.MyExportApi.as_view(), name="my-export"),
    path("me/exports/<str:export_id>/download", api.MyExportDownloadApi.as_view(), name="my-export-download"),
    path("me/patient/", api.MyProfileApi.as_view(), name="my-patient"),
    path("me/onboarding/", api.MyOnboardingApi.as_view(), name="my-onboarding"),
    path("me/registrations/", api.MyRegistrationsApi.as_view(), name="my-registrations"),
    path(
        "me/registrations/<str:registration_id>/primary/",
        api.MyRegistrationPrimaryApi.as_view(),
        name="my-registration-primary",
    ),
    path("directory/organizations/", api.DirectoryApi.as_view(), name="directory"),
    # staff
    path("patients/", staff_api.PatientWalkInApi.as_view(), name="patients"),
    path("patients/search/", staff_api.PatientSearchApi.as_view(), name="patient-search"),
    path("patients/<str:patient_id>/", staff_api.PatientApi.as_view(), name="patient"),
    path("patients/<str:patient_id>/photo/", staff_api.PatientPhotoApi.as_view(), name="patient-photo"),
    path(
        "patients/<str:patient_id>/registrations/",
        staff_api.PatientRegisterHereApi.as_view(),
        name="patient-register-here",
    ),
    path("registrations/pending/", staff_api.PendingRegistrationsApi.as_view(), name="registrations-pending"),
    path(
        "registrations/<str:registration_id>/approve/",
        staff_api.RegistrationDecisionApi.as_view(approve=True),
        name="registration-approve",
    ),
    path(
        "registrations/<str:registration_id>/reject/",
        staff_api.RegistrationDecisionApi.as_view(approve=False),
        name="registration-reject",
    ),
    path("duplicates/", staff_api.DuplicatesApi.as_view(), name="duplicates"),
    path("duplicates/<str:candidate_id>/dismiss/", staff_api.DuplicateDismissApi.as_view(), name="duplicate-dismiss"),
    path("merges/", staff_api.MergesApi.as_view(), name="merges"),
    path("merges/<str:merge_id>/undo/", staff_api.MergeUndoApi.as_view(), name="merge-undo"),
]
