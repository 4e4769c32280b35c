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


# --- patient-reported symptoms and care plans -------------------------------------------------------
from phb.clinical import care_plans_api, symptoms_api  # noqa: E402  (kept with the routes it serves)

urlpatterns += [
    path("symptom-codes/", symptoms_api.SymptomCodesApi.as_view(), name="symptom-codes"),
    path("me/symptom-reports/", symptoms_api.MySymptomReportsApi.as_view(), name="my-symptom-reports"),
    path("me/symptom-reports/<str:report_id>/", symptoms_api.MySymptomReportApi.as_view(), name="my-symptom-report"),
    path(
        "me/symptom-reports/<str:report_id>/photo/",
        symptoms_api.MySymptomPhotoApi.as_view(),
        name="my-symptom-report-photo",
    ),
    path("me/symptom-trends/", symptoms_api.MySymptomTrendsApi.as_view(), name="my-symptom-trends"),
    path(
        "patients/<str:patient_id>/symptom-reports/",
        symptoms_api.PatientSymptomReportsApi.as_view(),
        name="patient-symptom-reports",
    ),
    path(
        "patients/<str:patient_id>/symptom-trends/",
        symptoms_api.PatientSymptomTrendsApi.as_view(),
        name="patient-symptom-trends",
    ),
    path("symptom-reports/<str:report_id>/", symptoms_api.SymptomReportApi.as_view(), name="symptom-report"),
    path("symptom-reports/<str:report_id>/photo/", symptoms_api.SymptomPhotoApi.as_view(), name="symptom-report-photo"),
    path("care-plan-templates/", care_plans_api.TemplatesApi.as_view(), name="care-plan-templates"),
    path("care-plan-templates/<str:template_id>/", care_plans_api.TemplateApi.as_view(), name="care-plan-template"),
    path(
        "care-plan-templates/<str:template_id>/submit/",
        care_plans_api.TemplateSubmitApi.as_view(),
        name="care-plan-template-submit",
    ),
    path(
        "care-plan-templates/<str:template_id>/approve/",
        care_plans_api.TemplateApproveApi.as_view(),
        name="care-plan-template-approve",
    ),
    path(
        "care-plan-templates/<str:template_id>/return/",
        care_plans_api.TemplateReturnApi.as_view(),
        name="care-plan-template-return",
    ),
    path(
        "care-plan-templates/<str:template_id>/retire/",
        care_plans_api.TemplateRetireApi.as_view(),
        name="care-plan-template-retire",
    ),
    path(
        "patients/<str:patient_id>/care-plans/", care_plans_api.PatientCarePlansApi.as_view(), name="patient-care-plans"
    ),
    path("care-plans/<str:plan_id>/", care_plans_api.CarePlanApi.as_view(), name="care-plan"),
    path("care-plans/<str:plan_id>/status/", care_plans_api.CarePlanStatusApi.as_view(), name="care-plan-status"),
    path("care-plans/<str:plan_id>/goals/", care_plans_api.CarePlanGoalsApi.as_view(), name="care-plan-goals"),
    path(
        "care-plans/<str:plan_id>/activities/",
        care_plans_api.CarePlanActivitiesApi.as_view(),
        name="care-plan-activities",
    ),
    path("care-plans/<str:plan_id>/team/", care_plans_api.CarePlanTeamApi.as_view(), name="care-plan-team"),
    path(
        "care-plans/<str:plan_id>/team/<str:member_id>/",
        care_plans_api.CarePlanMemberApi.as_view(),
        name="care-plan-member",
    ),
    path("care-plan-goals/<str:goal_id>/progress/", care_plans_api.GoalProgressApi.as_view(), name="goal-progress"),
    path(
        "care-plan-activities/<str:activity_id>/status/",
        care_plans_api.ActivityStatusApi.as_view(),
        name="care-plan-activity-status",
    ),
    path("me/care-plans/", care_plans_api.MyCarePlansApi.as_view(), name="my-care-plans"),
]
