"""The clinical record's API for clinicians: a patient's encounters (and walk-in visits), vital signs
and notes; finishing an encounter; drafting, signing and amending notes; my critical alerts and their
acknowledgement. Patient ids appear in paths as in the registry's staff API; nothing else about the
patient does.

Every endpoint opens the medical record, so every one needs an open step-up window (a fresh second
factor: `X-Med-Access`, or the web session's window). Views parse, call one selector or service, and
serialize; the permission and the care relationship are decided there."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.accounts.step_up import RequiresMedAccess
from phb.clinical import alerts, selectors, services, vitals
from phb.clinical.models import (
    AlertStatus,
    ClinicalNote,
    CriticalAlert,
    Encounter,
    NoteKind,
    NoteTemplate,
    Observation,
    VitalSignsSet,
)
from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.ids import parse_uuid

VIEW = "clinical.record.view"


def _valid(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ClinicalApi(PhbApiView):
    """A clinician's view of the medical record: their role, and a fresh second factor."""

    required_permission = VIEW
    permission_classes = [*PhbApiView.permission_classes, RequiresMedAccess]


# --- encounters -------------------------------------------------------------------------------------


class EncounterOutput(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", allow_null=True)
    attending_name = serializers.SerializerMethodField()

    class Meta:
        model = Encounter
        fields = [
            "id",
            "patient_id",
            "encounter_class",
            "source",
            "appointment_id",
            "status",
            "attending_id",
            "attending_name",
            "department_id",
            "department_name",
            "reason",
            "started_at",
            "ended_at",
            "created_at",
        ]

    def get_attending_name(self, encounter: Encounter) -> str:
        return encounter.attending.full_name if encounter.attending else ""


class EncounterWalkInInput(serializers.Serializer):
    department_id = serializers.UUIDField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    attending_id = serializers.UUIDField(required=False, allow_null=True)
    start_now = serializers.BooleanField(default=True)


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class PatientEncountersApi(ClinicalApi):
    required_permission = {"GET": VIEW, "POST": VIEW}

    @extend_schema(responses=EncounterOutput(many=True), summary="A patient's encounters here, latest first (audited)")
    def get(self, request: Request, patient_id: str) -> Response:
        encounters = selectors.encounter_list(ctx=self.ctx, patient_id=self.parse_id(patient_id))
        paginator = PagePagination()
        page = paginator.paginate_queryset(encounters, request, view=self)
        return paginator.get_paginated_response(EncounterOutput(page, many=True).data)

    @extend_schema(request=EncounterWalkInInput, responses={201: EncounterOutput}, summary="Start a walk-in visit")
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(EncounterWalkInInput, request.data)
        encounter = services.encounter_start_walk_in(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        encounter = selectors.encounter_get(ctx=self.ctx, encounter_id=encounter.id)
        return Response(EncounterOutput(encounter).data, status=status.HTTP_201_CREATED)


class EncounterApi(ClinicalApi):
    @extend_schema(responses=EncounterOutput, summary="One encounter (audited)")
    def get(self, request: Request, encounter_id: str) -> Response:
        encounter = selectors.encounter_get(ctx=self.ctx, encounter_id=self.parse_id(encounter_id))
        return Response(EncounterOutput(encounter).data)


class EncounterFinishApi(ClinicalApi):
    @extend_schema(request=None, responses=EncounterOutput, summary="Finish an encounter in progress")
    def post(self, request: Request, encounter_id: str) -> Response:
        encounter = services.encounter_finish(ctx=self.ctx, encounter_id=self.parse_id(encounter_id))
        return Response(EncounterOutput(selectors.encounter_get(ctx=self.ctx, encounter_id=encounter.id)).data)


class EncounterCancelApi(ClinicalApi):
    @extend_schema(request=CancelInput, responses=EncounterOutput, summary="Cancel an encounter, saying why")
    def post(self, request: Request, encounter_id: str) -> Response:
        data = _valid(CancelInput, request.data)
        encounter = services.encounter_cancel(ctx=self.ctx, encounter_id=self.parse_id(encounter_id), **data)
        return Response(EncounterOutput(selectors.encounter_get(ctx=self.ctx, encounter_id=encounter.id)).data)


# --- vital signs ------------------------------------------------------------------------------------


class ObservationOutput(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField()

    class Meta:
        model = Observation
        fields = ["code", "name", "value", "unit", "interpretation", "reference_low", "reference_high", "derived"]

    def get_name(self, observation: Observation) -> str:
        sign = vitals.BY_CODE.get(observation.code)
        return sign.name if sign else ""

    def get_value(self, observation: Observation) -> str:
        return observation.value_code or str(observation.value_numeric)


class News2Output(serializers.Serializer):
    score = serializers.IntegerField(source="news2_score")
    subscores = serializers.DictField(child=serializers.IntegerField(), source="news2_subscores")
    single_parameter_3 = serializers.BooleanField(source="news2_single_parameter_3")
    response = serializers.CharField(source="news2_response")


class VitalSignsOutput(serializers.ModelSerializer):
    observations = serializers.SerializerMethodField()
    news2 = serializers.SerializerMethodField()

    class Meta:
        model = VitalSignsSet
        fields = [
            "id",
            "patient_id",
            "encounter_id",
            "effective_at",
            "recorded_by_id",
            "on_supplemental_oxygen",
            "spo2_scale",
            "age_band",
            "news2",
            "observations",
        ]

    def get_observations(self, vital_set: VitalSignsSet) -> list[dict[str, Any]]:
        rows = getattr(vital_set, "prefetched", None)
        if rows is None:
            rows = list(vital_set.observations.all())
        return list(ObservationOutput(sorted(rows, key=lambda o: o.code), many=True).data)

    def get_news2(self, vital_set: VitalSignsSet) -> dict[str, Any] | None:
        return None if vital_set.news2_score is None else dict(News2Output(vital_set).data)


class VitalSignsInput(serializers.Serializer):
    encounter_id = serializers.UUIDField(required=False, allow_null=True)
    effective_at = serializers.DateTimeField(required=False, allow_null=True)
    on_supplemental_oxygen = serializers.BooleanField(required=False, allow_null=True, default=None)
    hypercapnic_respiratory_failure = serializers.BooleanField(
        default=False, help_text="Score SpO2 on NEWS2 scale 2 (target saturation 88-92 %, prescribed)."
    )
    values = serializers.DictField(
        child=serializers.JSONField(),
        help_text="By name: "
        + ", ".join(f"{name} ({vitals.BY_NAME[name].unit or 'ACVPU'})" for name in vitals.RECORDABLE),
    )


class PatientVitalSignsApi(ClinicalApi):
    required_permission = {"GET": VIEW, "POST": VIEW}

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="How many sets, at most 200 (default 50).")],
        responses=VitalSignsOutput(many=True),
        summary="A patient's latest vital signs, latest first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        try:
            limit = int(request.query_params.get("limit", 50))
        except ValueError:
            limit = 0  # refused by the selector with a clear error
        sets = selectors.vital_signs_list(ctx=self.ctx, patient_id=self.parse_id(patient_id), limit=limit)
        return Response(VitalSignsOutput(sets, many=True).data)

    @extend_schema(
        request=VitalSignsInput,
        responses={201: VitalSignsOutput},
        summary="Record a set of vital signs (NEWS2, flags, critical alert)",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(VitalSignsInput, request.data)
        vital_set = services.vital_signs_record(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(VitalSignsOutput(vital_set).data, status=status.HTTP_201_CREATED)


# --- notes ------------------------------------------------------------------------------------------


class AddendumOutput(serializers.ModelSerializer):
    class Meta:
        model = ClinicalNote
        fields = ["id", "author_id", "text", "signed_at"]


class NoteOutput(serializers.ModelSerializer):
    # Plain text, not an enum: another component's enum is also named after a field "kind".
    kind = serializers.CharField(help_text="soap, free or addendum")
    addenda = serializers.SerializerMethodField()

    class Meta:
        model = ClinicalNote
        fields = [
            "id",
            "patient_id",
            "encounter_id",
            "author_id",
            "kind",
            "template_id",
            "amends_id",
            "status",
            "subjective",
            "objective",
            "assessment",
            "plan",
            "text",
            "created_at",
            "updated_at",
            "signed_at",
            "addenda",
        ]

    def get_addenda(self, note: ClinicalNote) -> list[dict[str, Any]]:
        return list(AddendumOutput(getattr(note, "addenda_list", []), many=True).data)


class SectionsInput(serializers.Serializer):
    subjective = serializers.CharField(required=False, allow_blank=True, max_length=20000, trim_whitespace=False)
    objective = serializers.CharField(required=False, allow_blank=True, max_length=20000, trim_whitespace=False)
    assessment = serializers.CharField(required=False, allow_blank=True, max_length=20000, trim_whitespace=False)
    plan = serializers.CharField(required=False, allow_blank=True, max_length=20000, trim_whitespace=False)
    text = serializers.CharField(required=False, allow_blank=True, max_length=20000, trim_whitespace=False)


class NoteCreateInput(SectionsInput):
    kind = serializers.CharField(default=NoteKind.SOAP, max_length=10, help_text="soap (default) or free.")
    encounter_id = serializers.UUIDField(required=False, allow_null=True)
    template_id = serializers.UUIDField(required=False, allow_null=True)


class AddendumInput(serializers.Serializer):
    text = serializers.CharField(max_length=20000)


class PatientNotesApi(ClinicalApi):
    required_permission = {"GET": VIEW, "POST": VIEW}

    @extend_schema(
        parameters=[OpenApiParameter("encounter_id", str, description="Only this encounter's notes.")],
        responses=NoteOutput(many=True),
        summary="A patient's notes with their addenda, latest first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        raw = request.query_params.get("encounter_id")
        encounter_id = parse_uuid(raw) if raw else None
        if raw and encounter_id is None:
            return Response(NoteOutput([], many=True).data)
        notes = selectors.note_list(ctx=self.ctx, patient_id=self.parse_id(patient_id), encounter_id=encounter_id)
        return Response(NoteOutput(notes, many=True).data)

    @extend_schema(request=NoteCreateInput, responses={201: NoteOutput}, summary="Write a draft note")
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(NoteCreateInput, request.data)
        note = services.note_create(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class NoteApi(ClinicalApi):
    @extend_schema(responses=NoteOutput, summary="One note with its addenda (audited)")
    def get(self, request: Request, note_id: str) -> Response:
        return Response(NoteOutput(selectors.note_get(ctx=self.ctx, note_id=self.parse_id(note_id))).data)

    @extend_schema(
        request=SectionsInput, responses=NoteOutput, summary="Change one's own draft (a signed note: 409 NOTE_SIGNED)"
    )
    def patch(self, request: Request, note_id: str) -> Response:
        data = _valid(SectionsInput, request.data, partial=True)
        note = services.note_update(ctx=self.ctx, note_id=self.parse_id(note_id), **data)
        return Response(NoteOutput(note).data)


class NoteSignApi(ClinicalApi):
    @extend_schema(request=None, responses=NoteOutput, summary="Sign one's own draft: it never changes again")
    def post(self, request: Request, note_id: str) -> Response:
        note = services.note_sign(ctx=self.ctx, note_id=self.parse_id(note_id))
        return Response(NoteOutput(note).data)


class NoteAddendumApi(ClinicalApi):
    @extend_schema(request=AddendumInput, responses={201: NoteOutput}, summary="Add a signed addendum to a signed note")
    def post(self, request: Request, note_id: str) -> Response:
        data = _valid(AddendumInput, request.data)
        addendum = services.note_addendum_add(ctx=self.ctx, note_id=self.parse_id(note_id), **data)
        return Response(NoteOutput(addendum).data, status=status.HTTP_201_CREATED)


class NoteTemplateOutput(serializers.ModelSerializer):
    class Meta:
        model = NoteTemplate
        fields = ["id", "name", "department_kind", "department_id", "sections"]


class NoteTemplatesApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(
        parameters=[OpenApiParameter("department_id", str, description="Templates for this department first.")],
        responses=NoteTemplateOutput(many=True),
        summary="Note templates for a department",
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("department_id")
        templates = selectors.note_template_list(ctx=self.ctx, department_id=parse_uuid(raw) if raw else None)
        return Response(NoteTemplateOutput(templates, many=True).data)


# --- critical alerts --------------------------------------------------------------------------------


class CriticalAlertOutput(serializers.ModelSerializer):
    reference = serializers.SerializerMethodField()

    class Meta:
        model = CriticalAlert
        fields = [
            "id",
            "reference",
            "patient_id",
            "encounter_id",
            "vital_set_id",
            "department_id",
            "recipient_id",
            "findings",
            "status",
            "raised_at",
            "acknowledged_at",
            "acknowledged_by_id",
            "escalated_at",
        ]

    def get_reference(self, alert: CriticalAlert) -> str:
        return alerts.reference(alert)


class MyCriticalAlertsApi(ClinicalApi):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=AlertStatus.values, description="Default: open.")],
        responses=CriticalAlertOutput(many=True),
        summary="My critical alerts, newest first (audited)",
    )
    def get(self, request: Request) -> Response:
        found = selectors.critical_alert_list(ctx=self.ctx, status=request.query_params.get("status", AlertStatus.OPEN))
        paginator = PagePagination()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(CriticalAlertOutput(page, many=True).data)


class CriticalAlertAcknowledgeApi(ClinicalApi):
    @extend_schema(request=None, responses=CriticalAlertOutput, summary="Acknowledge a critical alert")
    def post(self, request: Request, alert_id: str) -> Response:
        alert = alerts.critical_alert_acknowledge(ctx=self.ctx, alert_id=self.parse_id(alert_id))
        return Response(CriticalAlertOutput(alert).data)


# --- diagnoses (chart) ------------------------------------------------------------------------------

from phb.clinical import diagnoses  # noqa: E402
from phb.clinical.models import Diagnosis  # noqa: E402


class DiagnosisOutput(serializers.ModelSerializer):
    # Plain text, not enums: other components have fields of these names with other choices.
    clinical_status = serializers.CharField(help_text="active, resolved, ruled_out or entered_in_error")
    category = serializers.CharField(help_text="problem_list_item or encounter_diagnosis")
    severity = serializers.CharField(help_text="mild, moderate, severe or blank")
    diagnosed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Diagnosis
        fields = [
            "id",
            "patient_id",
            "encounter_id",
            "system",
            "code",
            "display",
            "clinical_status",
            "category",
            "severity",
            "onset_date",
            "abatement_date",
            "diagnosed_by_id",
            "diagnosed_by_name",
            "recorded_at",
            "note",
            "updated_at",
        ]

    def get_diagnosed_by_name(self, diagnosis: Diagnosis) -> str:
        return diagnosis.diagnosed_by.full_name if diagnosis.diagnosed_by_id else ""


class DiagnosisInput(serializers.Serializer):
    system = serializers.CharField(
        max_length=255, help_text="icd10-cm, snomed-ct, icd-10, or the system's URI (ICD-10-CM is checked)"
    )
    code = serializers.CharField(max_length=40)
    display = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, default="encounter_diagnosis")
    clinical_status = serializers.CharField(required=False, default="active")
    severity = serializers.CharField(required=False, allow_blank=True, default="")
    onset_date = serializers.DateField(required=False, allow_null=True, default=None)
    abatement_date = serializers.DateField(required=False, allow_null=True, default=None)
    encounter_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    diagnosed_by_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class DiagnosisUpdateInput(serializers.Serializer):
    clinical_status = serializers.CharField(required=False)
    category = serializers.CharField(required=False)
    severity = serializers.CharField(required=False, allow_blank=True)
    onset_date = serializers.DateField(required=False, allow_null=True)
    abatement_date = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class PatientDiagnosesApi(ClinicalApi):
    required_permission = {"GET": VIEW, "POST": VIEW}

    @extend_schema(
        parameters=[
            OpenApiParameter("clinical_status", str, description="active, resolved, ruled_out, entered_in_error"),
            OpenApiParameter("category", str, description="problem_list_item or encounter_diagnosis"),
            OpenApiParameter("encounter_id", str, description="Only this encounter's."),
        ],
        responses=DiagnosisOutput(many=True),
        summary="A patient's diagnoses and problems, latest first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        encounter_id = request.query_params.get("encounter_id")
        found = diagnoses.diagnosis_list(
            ctx=self.ctx,
            patient_id=self.parse_id(patient_id),
            clinical_status=request.query_params.get("clinical_status", ""),
            category=request.query_params.get("category", ""),
            encounter_id=self.parse_id(encounter_id) if encounter_id else None,
        )
        paginator = PagePagination()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(DiagnosisOutput(page, many=True).data)

    @extend_schema(request=DiagnosisInput, responses={201: DiagnosisOutput}, summary="Record a diagnosis or problem")
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(DiagnosisInput, request.data)
        diagnosis = diagnoses.diagnosis_add(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        diagnosis = diagnoses.diagnosis_get(ctx=self.ctx, diagnosis_id=diagnosis.id)
        return Response(DiagnosisOutput(diagnosis).data, status=status.HTTP_201_CREATED)


class DiagnosisApi(ClinicalApi):
    @extend_schema(responses=DiagnosisOutput, summary="One diagnosis (audited)")
    def get(self, request: Request, diagnosis_id: str) -> Response:
        diagnosis = diagnoses.diagnosis_get(ctx=self.ctx, diagnosis_id=self.parse_id(diagnosis_id))
        return Response(DiagnosisOutput(diagnosis).data)

    @extend_schema(
        request=DiagnosisUpdateInput, responses=DiagnosisOutput, summary="Change a diagnosis's status or details"
    )
    def patch(self, request: Request, diagnosis_id: str) -> Response:
        data = _valid(DiagnosisUpdateInput, request.data, partial=True)
        diagnosis = diagnoses.diagnosis_update(ctx=self.ctx, diagnosis_id=self.parse_id(diagnosis_id), **data)
        return Response(DiagnosisOutput(diagnoses.diagnosis_get(ctx=self.ctx, diagnosis_id=diagnosis.id)).data)
