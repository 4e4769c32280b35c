from django.urls import path

from phb.clinical import api

urlpatterns = [
    path("patients/<str:patient_id>/encounters/", api.PatientEncountersApi.as_view(), name="patient-encounters"),
    path("patients/<str:patient_id>/vital-signs/", api.PatientVitalSignsApi.as_view(), name="patient-vital-signs"),
    path("patients/<str:patient_id>/notes/", api.PatientNotesApi.as_view(), name="patient-notes"),
    path("encounters/<str:encounter_id>/", api.EncounterApi.as_view(), name="encounter"),
    path("encounters/<str:encounter_id>/finish/", api.EncounterFinishApi.as_view(), name="encounter-finish"),
    path("encounters/<str:encounter_id>/cancel/", api.EncounterCancelApi.as_view(), name="encounter-cancel"),
    path("notes/<str:note_id>/", api.NoteApi.as_view(), name="note"),
    path("notes/<str:note_id>/sign/", api.NoteSignApi.as_view(), name="note-sign"),
    path("notes/<str:note_id>/addenda/", api.NoteAddendumApi.as_view(), name="note-addenda"),
    path("note-templates/", api.NoteTemplatesApi.as_view(), name="note-templates"),
    path("me/critical-alerts/", api.MyCriticalAlertsApi.as_view(), name="my-critical-alerts"),
    path(
        "critical-alerts/<str:alert_id>/acknowledge/",
        api.CriticalAlertAcknowledgeApi.as_view(),
        name="critical-alert-acknowledge",
    ),
    # --- diagnoses (chart) ---
    path("patients/<str:patient_id>/diagnoses/", api.PatientDiagnosesApi.as_view(), name="patient-diagnoses"),
    path("diagnoses/<str:diagnosis_id>/", api.DiagnosisApi.as_view(), name="diagnosis"),
]

# --- documents ----------------------------------------------------------------------------------------
from phb.clinical import document_api  # noqa: E402

urlpatterns += [
    path("patients/<str:patient_id>/documents/", document_api.PatientDocumentsApi.as_view(), name="patient-documents"),
    path("documents/<str:document_id>/", document_api.DocumentApi.as_view(), name="document"),
    path("documents/<str:document_id>/content/", document_api.DocumentContentApi.as_view(), name="document-content"),
    path(
        "documents/<str:document_id>/entered-in-error/",
        document_api.DocumentEnteredInErrorApi.as_view(),
        name="document-entered-in-error",
    ),
]


# --- allergies and intolerances, history, immunizations -------------------------------------------
from phb.clinical import history_api  # noqa: E402

urlpatterns += [
    path("patients/<str:patient_id>/allergies/", history_api.PatientAllergiesApi.as_view(), name="patient-allergies"),
    path("allergies/<str:allergy_id>/", history_api.AllergyApi.as_view(), name="allergy"),
    path(
        "allergies/<str:allergy_id>/entered-in-error/",
        history_api.AllergyEnteredInErrorApi.as_view(),
        name="allergy-entered-in-error",
    ),
    path(
        "patients/<str:patient_id>/no-known-allergies/",
        history_api.PatientNoKnownAllergiesApi.as_view(),
        name="patient-no-known-allergies",
    ),
    path(
        "no-known-allergies/<str:statement_id>/entered-in-error/",
        history_api.NoKnownAllergiesEnteredInErrorApi.as_view(),
        name="no-known-allergies-entered-in-error",
    ),
    path("patients/<str:patient_id>/history/", history_api.PatientHistoryApi.as_view(), name="patient-history"),
    path("history/<str:entry_id>/", history_api.HistoryEntryApi.as_view(), name="history-entry"),
    path(
        "history/<str:entry_id>/entered-in-error/",
        history_api.HistoryEntryEnteredInErrorApi.as_view(),
        name="history-entry-entered-in-error",
    ),
    path(
        "patients/<str:patient_id>/social-history/",
        history_api.PatientSocialHistoryApi.as_view(),
        name="patient-social-history",
    ),
    path(
        "social-history/<str:version_id>/entered-in-error/",
        history_api.SocialHistoryEnteredInErrorApi.as_view(),
        name="social-history-entered-in-error",
    ),
    path(
        "patients/<str:patient_id>/immunizations/",
        history_api.PatientImmunizationsApi.as_view(),
        name="patient-immunizations",
    ),
    path("immunizations/<str:immunization_id>/", history_api.ImmunizationApi.as_view(), name="immunization"),
    path(
        "immunizations/<str:immunization_id>/entered-in-error/",
        history_api.ImmunizationEnteredInErrorApi.as_view(),
        name="immunization-entered-in-error",
    ),
]
