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
from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound
from phb.kernel.models import Organization
from phb.patients import consents, exports, hpn, portal, selectors
from phb.patients.models import Consent, ConsentKind, DataCategory, MaritalStatus, Patient, PatientExport, Sex


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
        patient = portal.my_patient(self.ctx)  # type: ignore[attr-defined]
        if patient is None:
            raise NotFound("no patient record is linked to this account")
        return patient


class MyConsentsApi(_OwnPatientMixin, PhbApiView):
    required_permission = None

    @extend_schema(responses=ConsentOutput(many=True), summary="My consents")
    def get(self, request: Request) -> Response:
        return Response(
            ConsentOutput(consents.consent_list(ctx=self.ctx, patient_id=self.my_patient().id), many=True).data
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
        events = selectors.access_log(ctx=self.ctx, patient_id=self.my_patient().id)
        page = PagePagination().paginate_queryset(events, request, view=self)
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

    @extend_schema(
        operation_id="me_exports_list",
        responses=ExportPage,
        summary="My data exports",
        description="Newest first, paginated (`page`).",
    )
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


# --- the patient's own record: profile, onboarding, hospitals -------------------------------------------


class MyProfileOutput(serializers.ModelSerializer):
    hpn_display = serializers.SerializerMethodField()
    preferences = serializers.JSONField(read_only=True)
    history_overview = serializers.JSONField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "hpn",
            "hpn_display",
            "given_name",
            "family_name",
            "other_names",
            "birth_date",
            "sex",
            *portal.PROFILE_FIELDS,
            "preferences",
            "history_overview",
            "onboarded_at",
        ]

    def get_hpn_display(self, patient: Patient) -> str:
        return hpn.display(patient.hpn)


class MyProfileInput(serializers.Serializer):
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone_secondary = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address_line = serializers.CharField(max_length=300, required=False, allow_blank=True)
    preferred_language = serializers.CharField(max_length=10, required=False)
    secondary_language = serializers.CharField(max_length=10, required=False, allow_blank=True)
    marital_status = serializers.ChoiceField(choices=MaritalStatus.choices, required=False)
    occupation = serializers.CharField(max_length=100, required=False, allow_blank=True)
    gender_identity = serializers.CharField(max_length=50, required=False, allow_blank=True)


class ContactInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    relationship = serializers.CharField(max_length=50)
    phone = serializers.CharField(max_length=32)
    is_next_of_kin = serializers.BooleanField(default=False)


class OnboardingInput(serializers.Serializer):
    given_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    family_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    preferences = serializers.DictField(required=False, help_text=f"Keys: {', '.join(portal.PREFERENCES)}.")
    history = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(max_length=300)),
        required=False,
        help_text=f"Keys: {', '.join(portal.HISTORY)}; each a list of short texts.",
    )
    emergency_contact = ContactInput(required=False)
    primary_organization_id = serializers.UUIDField(required=False, allow_null=True)


class MyRegistrationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    organization_name = serializers.CharField()
    mrn = serializers.CharField()
    status = serializers.CharField()
    is_primary = serializers.BooleanField()
    rejection_reason = serializers.CharField()


def _my_registrations(ctx: Ctx) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "organization_id": o.id,
            "organization_name": o.name,
            "mrn": r.mrn,
            "status": r.status,
            "is_primary": r.is_primary,
            "rejection_reason": r.rejection_reason,
        }
        for r, o in portal.my_registrations(ctx=ctx)
    ]


class RegistrationRequestInput(serializers.Serializer):
    organization_id = serializers.UUIDField()


class DirectoryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()


class MyProfileApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=MyProfileOutput, summary="My record: HPN, details, onboarding")
    def get(self, request: Request) -> Response:
        return Response(MyProfileOutput(portal.my_record(ctx=self.ctx)).data)

    @extend_schema(request=MyProfileInput, responses=MyProfileOutput, summary="Correct my contact details")
    def patch(self, request: Request) -> Response:
        data = MyProfileInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(MyProfileOutput(portal.profile_update(ctx=self.ctx, **data.validated_data)).data)


class MyOnboardingApi(PhbApiView):
    required_permission = None

    @extend_schema(request=OnboardingInput, responses={201: MyProfileOutput}, summary="Complete my onboarding")
    def post(self, request: Request) -> Response:
        data = OnboardingInput(data=request.data)
        data.is_valid(raise_exception=True)
        patient = portal.onboarding_complete(ctx=self.ctx, **data.validated_data)
        return Response(MyProfileOutput(patient).data, status=status.HTTP_201_CREATED)


class MyRegistrationsApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=MyRegistrationOutput(many=True), summary="My hospitals")
    def get(self, request: Request) -> Response:
        return Response(MyRegistrationOutput(_my_registrations(self.ctx), many=True).data)

    @extend_schema(
        request=RegistrationRequestInput, responses={201: MyRegistrationOutput}, summary="Ask a hospital to register me"
    )
    def post(self, request: Request) -> Response:
        data = RegistrationRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        registration = portal.registration_request(ctx=self.ctx, organization_id=data.validated_data["organization_id"])
        (mine,) = [r for r in _my_registrations(self.ctx) if r["id"] == registration.id]
        return Response(MyRegistrationOutput(mine).data, status=status.HTTP_201_CREATED)


class MyRegistrationPrimaryApi(PhbApiView):
    required_permission = None

    @extend_schema(request=None, responses={204: None}, summary="Make this my primary hospital")
    def post(self, request: Request, registration_id: str) -> Response:
        portal.registration_set_primary(ctx=self.ctx, registration_id=self.parse_id(registration_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DirectoryApi(PhbApiView):
    """Hospitals and clinics a patient may ask to register with."""

    required_permission = None

    @extend_schema(responses=DirectoryOutput(many=True), summary="Hospitals and clinics accepting patients")
    def get(self, request: Request) -> Response:
        return Response(DirectoryOutput(Organization.objects.accepting_patients().order_by("name"), many=True).data)
