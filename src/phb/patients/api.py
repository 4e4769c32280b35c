"""The patient's own corner of the API: their consents (list, give, withdraw), who accessed their record,
and exports of all their data (right of access)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.errors import NotFound
from phb.kernel.models import AuditEvent
from phb.patients import consents, exports
from phb.patients.models import Consent, ConsentKind, DataCategory, Patient, PatientExport


class ConsentOutput(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = [
            "id",
            "kind",
            "version",
            "granted_at",
            "withdrawn_at",
            "from_organization_id",
            "to_organization_id",
            "categories",
        ]


class ConsentInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    version = serializers.CharField(max_length=20)
    from_organization_id = serializers.UUIDField(required=False, allow_null=True)
    to_organization_id = serializers.UUIDField(required=False, allow_null=True)
    categories = serializers.ListField(child=serializers.ChoiceField(choices=DataCategory.choices), required=False)


class AccessOutput(serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    organization_id = serializers.UUIDField(allow_null=True)
    roles = serializers.CharField()
    emergency = serializers.BooleanField()
    outcome = serializers.CharField()


class _OwnPatientMixin:
    def my_patient(self) -> Patient:
        patient = Patient.objects.filter(user_id=self.ctx.actor_id).first()  # type: ignore[attr-defined]
        if patient is None:
            raise NotFound("no patient record is linked to this account")
        return patient


class MyConsentsApi(_OwnPatientMixin, PhbApiView):
    required_permission = None

    @extend_schema(responses=ConsentOutput(many=True), summary="My consents")
    def get(self, request: Request) -> Response:
        return Response(
            ConsentOutput(Consent.objects.filter(patient=self.my_patient()).order_by("-granted_at"), many=True).data
        )

    @extend_schema(request=ConsentInput, responses={201: ConsentOutput}, summary="Give a consent")
    def post(self, request: Request) -> Response:
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        consent = consents.consent_grant(ctx=self.ctx, patient_id=self.my_patient().id, **data.validated_data)
        return Response(ConsentOutput(consent).data, status=status.HTTP_201_CREATED)


class MyConsentWithdrawApi(PhbApiView):
    required_permission = None

    @extend_schema(request=None, responses=ConsentOutput, summary="Withdraw one of my consents")
    def post(self, request: Request, consent_id: str) -> Response:
        return Response(
            ConsentOutput(consents.consent_withdraw(ctx=self.ctx, consent_id=self.parse_id(consent_id))).data
        )


class MyAccessLogApi(_OwnPatientMixin, PhbApiView):
    """Who looked at or changed my record: when, which organization, in which role, in an emergency or not."""

    required_permission = None

    @extend_schema(responses=AccessOutput(many=True), summary="Who accessed my record")
    def get(self, request: Request) -> Response:
        from phb.kernel import audit

        patient = self.my_patient()
        events = AuditEvent.objects.for_patient(self.ctx, patient_id=patient.id).exclude(actor_id=self.ctx.actor_id)
        page = PagePagination().paginate_queryset(events.order_by("-occurred_at"), request, view=self)
        rows: list[dict[str, Any]] = [
            {
                "occurred_at": e.occurred_at,
                "action": e.action,
                "organization_id": e.organization_id,
                "roles": e.roles,
                "emergency": e.purpose_of_use == "ETREAT",
                "outcome": e.outcome,
            }
            for e in page or []
        ]
        audit.record(self.ctx, "patients.access_log.read", patient_id=patient.id, read=True)
        return Response({"count": events.count(), "results": AccessOutput(rows, many=True).data})


class ExportOutput(serializers.ModelSerializer):
    class Meta:
        model = PatientExport
        fields = [
            "id",
            "status",
            "progress",
            "error_code",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "schema_version",
            "json_bytes",
            "pdf_bytes",
        ]


class ExportPage(serializers.Serializer):
    count = serializers.IntegerField()
    results = ExportOutput(many=True)


class MyExportsApi(_OwnPatientMixin, PhbApiView):
    """Exports of all my data (right of access): ask for one, follow its progress, download it for 24 hours."""

    required_permission = None

    @extend_schema(responses=ExportPage, summary="My data exports", description="Newest first, paginated (`page`).")
    def get(self, request: Request) -> Response:
        rows = exports.export_list(ctx=self.ctx, patient_id=self.my_patient().id)
        page = PagePagination().paginate_queryset(rows, request, view=self)
        return Response({"count": rows.count(), "results": ExportOutput(page or [], many=True).data})

    @extend_schema(
        request=None,
        responses={202: ExportOutput},
        summary="Ask for an export of all my data",
        description="Queues the export; follow `status` and `progress`. One export at a time "
        "(409 `EXPORT_IN_PROGRESS` while one is queued or running).",
    )
    def post(self, request: Request) -> Response:
        export = exports.export_request(ctx=self.ctx, patient_id=self.my_patient().id)
        return Response(ExportOutput(export).data, status=status.HTTP_202_ACCEPTED)


class MyExportApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=ExportOutput, summary="One of my data exports (status and progress)")
    def get(self, request: Request, export_id: str) -> Response:
        return Response(ExportOutput(exports.export_get(ctx=self.ctx, export_id=self.parse_id(export_id))).data)


class _FileFormatIsNotARenderer(DefaultContentNegotiation):
    """Here `?format=` names the file to download, not one of DRF's renderers: errors are JSON problems."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class MyExportDownloadApi(PhbApiView):
    required_permission = None
    content_negotiation_class = _FileFormatIsNotARenderer

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(exports.FORMATS), required=True, description="json or pdf")
        ],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The JSON document"),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF summary"),
        },
        summary="Download one of my exports",
        description="Only while ready and for 24 hours: 409 `EXPORT_NOT_READY` or `EXPORT_FAILED`, "
        "410 `EXPORT_EXPIRED` after. Each download is recorded in the audit trail.",
    )
    def get(self, request: Request, export_id: str) -> HttpResponse:
        file = exports.export_download(
            ctx=self.ctx, export_id=self.parse_id(export_id), fmt=request.query_params.get("format", "")
        )
        response = HttpResponse(file.content, content_type=file.content_type)
        response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
        response["Cache-Control"] = "no-store"
        return response
