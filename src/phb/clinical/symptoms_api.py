"""The API of patient-reported symptoms. A patient (`me/...`) reports a symptom to a hospital where they
are registered, adds a photo the same day, and reads their own reports and trends; a clinician reads
the reports, photos and trends of a patient in their care here. Reading the record needs the step-up
window on both sides (`MED_ACCESS_REQUIRED`). Views parse, call one selector or service, serialize."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FileUploadParser
from rest_framework.request import Request
from rest_framework.response import Response

from phb.accounts.step_up import RequiresMedAccess
from phb.clinical import symptoms
from phb.clinical.api import ClinicalApi
from phb.clinical.models import BodyLocation, SymptomReport
from phb.kernel.api import PhbApiView
from phb.kernel.errors import NotFound, ValidationFailed


def _short_texts(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=symptoms.ITEM_MAX),
        required=False,
        max_length=symptoms.ITEMS_MAX,
        help_text=help_text,
    )


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationFailed.field(name, "a whole number", code="not_a_whole_number") from exc


def _jpeg(photo: bytes | None) -> HttpResponse:
    if photo is None:
        raise NotFound("this report has no photo")
    response = HttpResponse(photo, content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    return response


class MyRecordApi(PhbApiView):
    """The signed-in patient's own record: any signed-in user (the selector finds their record), with
    a fresh second factor."""

    required_permission = None
    permission_classes = [*PhbApiView.permission_classes, RequiresMedAccess]


# --- serializers ------------------------------------------------------------------------------------


class SymptomReportInput(serializers.Serializer):
    organization_id = serializers.UUIDField(help_text="A hospital where you are registered: its care team sees it.")
    symptom_code = serializers.CharField(
        required=False, allow_blank=True, max_length=10, help_text="A code of GET /symptom-codes/ (ICD-10-CM)."
    )
    symptom_text = serializers.CharField(
        required=False, allow_blank=True, max_length=symptoms.SYMPTOM_TEXT_MAX, help_text="In your words."
    )
    severity = serializers.IntegerField(min_value=0, max_value=10, help_text="0 (none) to 10 (the worst).")
    onset_at = serializers.DateTimeField(required=False, allow_null=True, help_text="When it started ...")
    onset_days_ago = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=symptoms.ONSET_DAYS_MAX, help_text="... or about when."
    )
    body_location = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text=", ".join(BodyLocation.values)
    )
    body_location_detail = serializers.CharField(required=False, allow_blank=True, max_length=symptoms.DETAIL_MAX)
    triggers = _short_texts("What brings it on.")
    relief_factors = _short_texts("What eases it.")
    associated_symptoms = _short_texts("Other symptoms with it: codes of the list, or short texts.")


class SymptomReportOutput(serializers.ModelSerializer):
    symptom_name = serializers.SerializerMethodField()
    body_location = serializers.CharField(help_text="One of the body locations, or empty.")
    triggers = serializers.ListField(child=serializers.CharField())
    relief_factors = serializers.ListField(child=serializers.CharField())
    associated_symptoms = serializers.ListField(child=serializers.CharField())
    has_photo = serializers.SerializerMethodField()

    class Meta:
        model = SymptomReport
        fields = [
            "id",
            "organization_id",
            "patient_id",
            "reported_at",
            "symptom_code",
            "symptom_name",
            "symptom_text",
            "severity",
            "onset_at",
            "onset_days_ago",
            "body_location",
            "body_location_detail",
            "triggers",
            "relief_factors",
            "associated_symptoms",
            "has_photo",
        ]

    def get_symptom_name(self, report: SymptomReport) -> str:
        return symptoms.symptom_name(report.symptom_code) if report.symptom_code else ""

    def get_has_photo(self, report: SymptomReport) -> bool:
        flag = getattr(report, "has_photo", None)
        return bool(flag) if flag is not None else report.photo is not None


class TrendPointOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    severity = serializers.IntegerField()
    report_id = serializers.UUIDField()


class SymptomSeriesOutput(serializers.Serializer):
    key = serializers.CharField(help_text="The code, or the patient's words.")
    label = serializers.CharField()
    code = serializers.CharField()
    points = TrendPointOutput(many=True, help_text="Oldest first.")
    change = serializers.IntegerField(allow_null=True, help_text="Latest severity minus the one before.")
    direction = serializers.CharField(help_text="worse, better, same, or empty for a single report.")


class SymptomCodeOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    icd10cm = serializers.CharField()


# --- the patient's own ------------------------------------------------------------------------------

_LIMIT = OpenApiParameter("limit", int, description="At most this many, latest first (1-200).")
_DAYS = OpenApiParameter("days", int, description="The last this many days (default 365).")


class MySymptomReportsApi(MyRecordApi):
    @extend_schema(parameters=[_LIMIT], responses=SymptomReportOutput(many=True), summary="My symptom reports")
    def get(self, request: Request) -> Response:
        found = symptoms.my_symptom_reports(ctx=self.ctx, limit=_int_param(request, "limit", 100))
        return Response(SymptomReportOutput(found, many=True).data)

    @extend_schema(
        request=SymptomReportInput,
        responses={201: SymptomReportOutput, 400: OpenApiResponse(description="VALIDATION_ERROR, every bad field")},
        summary="Report a symptom to a hospital where I am registered",
    )
    def post(self, request: Request) -> Response:
        data = _valid(SymptomReportInput, request.data)
        report = symptoms.symptom_report_create(ctx=self.ctx, **data)
        return Response(SymptomReportOutput(report).data, status=status.HTTP_201_CREATED)


class MySymptomReportApi(MyRecordApi):
    @extend_schema(responses=SymptomReportOutput, summary="One of my symptom reports")
    def get(self, request: Request, report_id: str) -> Response:
        report = symptoms.my_symptom_report_get(ctx=self.ctx, report_id=self.parse_id(report_id))
        return Response(SymptomReportOutput(report).data)


class MySymptomPhotoApi(MyRecordApi):
    parser_classes = [FileUploadParser]

    @extend_schema(
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="No photo.")},
        summary="The photo of one of my symptom reports",
    )
    def get(self, request: Request, report_id: str) -> HttpResponse:
        return _jpeg(symptoms.my_symptom_photo(ctx=self.ctx, report_id=self.parse_id(report_id)))

    @extend_schema(
        request={"image/*": OpenApiTypes.BINARY},
        responses={204: None, 409: OpenApiResponse(description="PHOTO_PRESENT, REPORT_CLOSED (after a day)")},
        summary="Add a photo to one of my symptom reports, on the day of the report",
    )
    def put(self, request: Request, report_id: str) -> Response:
        upload = request.data.get("file")
        if upload is None:
            raise ValidationFailed.field("photo", "send the image as the request body", code="required")
        symptoms.symptom_report_photo_attach(ctx=self.ctx, report_id=self.parse_id(report_id), data=upload.read())
        return Response(status=status.HTTP_204_NO_CONTENT)


class MySymptomTrendsApi(MyRecordApi):
    @extend_schema(parameters=[_DAYS], responses=SymptomSeriesOutput(many=True), summary="My symptoms over time")
    def get(self, request: Request) -> Response:
        series = symptoms.my_symptom_trends(ctx=self.ctx, days=_int_param(request, "days", symptoms.TREND_DAYS))
        return Response(SymptomSeriesOutput(series, many=True).data)


class SymptomCodesApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=SymptomCodeOutput(many=True), summary="The list of symptoms a patient picks from")
    def get(self, request: Request) -> Response:
        return Response(SymptomCodeOutput(list(symptoms.symptom_catalogue().values()), many=True).data)


# --- the care team's --------------------------------------------------------------------------------


class PatientSymptomReportsApi(ClinicalApi):
    @extend_schema(
        parameters=[_LIMIT],
        responses=SymptomReportOutput(many=True),
        summary="The symptoms a patient reported to this organization, latest first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        found = symptoms.symptom_report_list(
            ctx=self.ctx, patient_id=self.parse_id(patient_id), limit=_int_param(request, "limit", 50)
        )
        return Response(SymptomReportOutput(found, many=True).data)


class SymptomReportApi(ClinicalApi):
    @extend_schema(responses=SymptomReportOutput, summary="One symptom report (audited)")
    def get(self, request: Request, report_id: str) -> Response:
        report = symptoms.symptom_report_get(ctx=self.ctx, report_id=self.parse_id(report_id))
        return Response(SymptomReportOutput(report).data)


class SymptomPhotoApi(ClinicalApi):
    @extend_schema(
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="No photo.")},
        summary="The photo of a symptom report (audited)",
    )
    def get(self, request: Request, report_id: str) -> HttpResponse:
        return _jpeg(symptoms.symptom_report_photo(ctx=self.ctx, report_id=self.parse_id(report_id)))


class PatientSymptomTrendsApi(ClinicalApi):
    @extend_schema(
        parameters=[_DAYS], responses=SymptomSeriesOutput(many=True), summary="A patient's symptoms over time (audited)"
    )
    def get(self, request: Request, patient_id: str) -> Response:
        series = symptoms.symptom_trends(
            ctx=self.ctx, patient_id=self.parse_id(patient_id), days=_int_param(request, "days", symptoms.TREND_DAYS)
        )
        return Response(SymptomSeriesOutput(series, many=True).data)
