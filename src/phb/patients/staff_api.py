"""The registry API for staff: search, register walk-ins (with the master patient index's warnings),
open and edit a record, register an existing record with proof, the administrator's queues, merge
and undo. Search criteria travel in POST bodies: names and birth dates never appear in URLs.

Each view leaves the permission decision to the service or selector it calls (they know, for
instance, that search is open to any role that sees demographics or clinical records)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FileUploadParser
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PhbApiView
from phb.kernel.errors import NotFound, ValidationFailed
from phb.patients import merge, selectors, services
from phb.patients.models import BloodType, MaritalStatus, Patient, PatientMerge, PatientRegistration, Sex


class RegistrationOutput(serializers.ModelSerializer):
    class Meta:
        model = PatientRegistration
        fields = ["id", "mrn", "status", "is_primary", "rejection_reason", "created_at", "decided_at"]


class PatientSummary(serializers.Serializer):
    id = serializers.UUIDField()
    hpn = serializers.CharField()
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    other_names = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    birth_date_estimated = serializers.BooleanField()
    sex = serializers.CharField()
    phone = serializers.CharField()


class PatientOutput(PatientSummary):
    phone_secondary = serializers.CharField()
    gender_identity = serializers.CharField()
    email = serializers.CharField()
    country = serializers.CharField()
    state = serializers.CharField()
    city = serializers.CharField()
    address_line = serializers.CharField()
    preferred_language = serializers.CharField()
    secondary_language = serializers.CharField()
    marital_status = serializers.CharField()
    occupation = serializers.CharField()
    blood_type = serializers.CharField()
    deceased = serializers.BooleanField()
    deceased_on = serializers.DateField(allow_null=True)
    identifiers = serializers.SerializerMethodField(help_text="National identifiers, all but their last 4 masked.")
    emergency_contacts = serializers.SerializerMethodField()

    def get_identifiers(self, patient: Patient) -> dict[str, str]:
        return {
            kind: "•" * max(len(value) - 4, 0) + value[-4:]
            for kind in services.IDENTIFIERS
            if (value := getattr(patient, kind))
        }

    def get_emergency_contacts(self, patient: Patient) -> list[dict[str, Any]]:
        return list(
            patient.emergency_contacts.order_by("created_at").values("name", "relationship", "phone", "is_next_of_kin")
        )


class FoundOutput(serializers.Serializer):
    patient = PatientSummary()
    registration = RegistrationOutput(allow_null=True, help_text="None: reached by break-the-glass.")
    similarity = serializers.FloatField()


class SearchInput(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="Any part of the name.")
    hpn = serializers.CharField(required=False, allow_blank=True, max_length=20)
    mrn = serializers.CharField(required=False, allow_blank=True, max_length=20)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    birth_date = serializers.DateField(required=False, allow_null=True)
    identifier_kind = serializers.ChoiceField(choices=list(services.IDENTIFIERS), required=False)
    identifier = serializers.CharField(required=False, allow_blank=True, max_length=40)


class DemographicsInput(serializers.Serializer):
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    other_names = serializers.CharField(max_length=200, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    estimated_age_years = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=130)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    gender_identity = serializers.CharField(max_length=50, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone_secondary = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address_line = serializers.CharField(max_length=300, required=False, allow_blank=True)
    preferred_language = serializers.CharField(max_length=10, required=False)
    marital_status = serializers.ChoiceField(choices=MaritalStatus.choices, required=False)
    occupation = serializers.CharField(max_length=100, required=False, allow_blank=True)
    blood_type = serializers.ChoiceField(choices=BloodType.choices, required=False, allow_blank=True)
    nin = serializers.CharField(max_length=20, required=False, allow_blank=True)
    passport = serializers.CharField(max_length=20, required=False, allow_blank=True)
    ssn = serializers.CharField(max_length=20, required=False, allow_blank=True)


class WalkInInput(DemographicsInput):
    confirmed_distinct = serializers.BooleanField(
        default=False, help_text="Staff checked the possible duplicates shown and this is someone else."
    )


class UpdateInput(DemographicsInput):
    given_name = serializers.CharField(max_length=100, required=False)
    family_name = serializers.CharField(max_length=100, required=False)
    deceased = serializers.BooleanField(required=False)
    deceased_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "estimated_age_years" in attrs:
            raise serializers.ValidationError({"estimated_age_years": "give the birth date and its estimated flag"})
        return attrs


class ProofInput(serializers.Serializer):
    hpn = serializers.CharField(required=False, allow_blank=True, max_length=20)
    birth_date = serializers.DateField(required=False, allow_null=True)


class WalkInOutput(serializers.Serializer):
    patient = PatientSummary()
    registration = RegistrationOutput()


class DecisionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class PendingOutput(serializers.Serializer):
    registration = RegistrationOutput(source="*")
    patient = PatientSummary()


class DuplicateOutput(serializers.Serializer):
    id = serializers.UUIDField()
    patient = PatientSummary()
    other = PatientSummary()
    points = serializers.FloatField()
    reasons = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class MergeInput(serializers.Serializer):
    survivor_id = serializers.UUIDField()
    merged_id = serializers.UUIDField()


class MergeOutput(serializers.ModelSerializer):
    class Meta:
        model = PatientMerge
        fields = ["id", "survivor_id", "merged_id", "created_at", "undo_until", "undone_at"]


_CONFLICT = OpenApiResponse(description="POSSIBLE_DUPLICATE or PATIENT_EXISTS, with `candidates`.")


def _valid(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PatientSearchApi(PhbApiView):
    required_permission = None

    @extend_schema(request=SearchInput, responses=FoundOutput(many=True), summary="Search patients of my organization")
    def post(self, request: Request) -> Response:
        data = _valid(SearchInput, request.data)
        found = selectors.patient_search(
            ctx=self.ctx,
            q=data.get("q", ""),
            hpn_number=data.get("hpn", ""),
            mrn=data.get("mrn", ""),
            phone=data.get("phone", ""),
            birth_date=data.get("birth_date"),
            identifier_kind=data.get("identifier_kind", ""),
            identifier=data.get("identifier", ""),
        )
        return Response(FoundOutput(found, many=True).data)


class PatientWalkInApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=WalkInInput,
        responses={201: WalkInOutput, 409: _CONFLICT},
        summary="Register a walk-in patient (new record, registered here)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(WalkInInput, request.data)
        registration = services.walk_in_register(ctx=self.ctx, **data)
        return Response(
            WalkInOutput({"patient": registration.patient, "registration": registration}).data,
            status=status.HTTP_201_CREATED,
        )


class PatientApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=PatientOutput, summary="Open a patient's record (audited)")
    def get(self, request: Request, patient_id: str) -> Response:
        patient, _ = selectors.patient_open(ctx=self.ctx, patient_id=self.parse_id(patient_id))
        return Response(PatientOutput(patient).data)

    @extend_schema(request=UpdateInput, responses=PatientOutput, summary="Correct a patient's demographics")
    def patch(self, request: Request, patient_id: str) -> Response:
        data = _valid(UpdateInput, request.data, partial=True)
        patient = services.patient_update(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(PatientOutput(patient).data)


class PatientRegisterHereApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=ProofInput,
        responses={201: RegistrationOutput},
        summary="Register an existing record here, with the patient's HPN or birth date as proof",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(ProofInput, request.data)
        proof_hpn = data.get("hpn", "")
        registration = services.registration_create(
            ctx=self.ctx,
            patient_id=self.parse_id(patient_id),
            at_desk=True,
            proof_hpn=proof_hpn,
            proof_birth_date=data.get("birth_date"),
        )
        return Response(RegistrationOutput(registration).data, status=status.HTTP_201_CREATED)


class PendingRegistrationsApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=PendingOutput(many=True), summary="Registrations waiting for a decision")
    def get(self, request: Request) -> Response:
        return Response(PendingOutput(selectors.registrations_pending(ctx=self.ctx)[:200], many=True).data)


class RegistrationDecisionApi(PhbApiView):
    required_permission = None
    approve = True

    @extend_schema(request=DecisionInput, responses=RegistrationOutput, summary="Decide a pending registration")
    def post(self, request: Request, registration_id: str) -> Response:
        data = _valid(DecisionInput, request.data)
        registration = services.registration_decide(
            ctx=self.ctx,
            registration_id=self.parse_id(registration_id),
            approve=self.approve,
            reason=data.get("reason", ""),
        )
        return Response(RegistrationOutput(registration).data)


class DuplicatesApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=DuplicateOutput(many=True), summary="Possible duplicates waiting for review")
    def get(self, request: Request) -> Response:
        return Response(DuplicateOutput(selectors.duplicates_open(ctx=self.ctx)[:200], many=True).data)


class DuplicateDismissApi(PhbApiView):
    required_permission = None

    @extend_schema(request=None, responses={204: None}, summary="Not the same person")
    def post(self, request: Request, candidate_id: str) -> Response:
        merge.duplicate_dismiss(ctx=self.ctx, candidate_id=self.parse_id(candidate_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MergesApi(PhbApiView):
    required_permission = None

    @extend_schema(request=MergeInput, responses={201: MergeOutput}, summary="Merge two records of one person")
    def post(self, request: Request) -> Response:
        data = _valid(MergeInput, request.data)
        done = merge.patient_merge(ctx=self.ctx, survivor_id=data["survivor_id"], merged_id=data["merged_id"])
        return Response(MergeOutput(done).data, status=status.HTTP_201_CREATED)


class MergeUndoApi(PhbApiView):
    required_permission = None

    @extend_schema(request=None, responses=MergeOutput, summary="Undo a merge (within 30 days)")
    def post(self, request: Request, merge_id: str) -> Response:
        return Response(MergeOutput(merge.patient_merge_undo(ctx=self.ctx, merge_id=self.parse_id(merge_id))).data)


class PatientPhotoApi(PhbApiView):
    """The patient's photo: JPEG out; any common image format in (re-encoded, metadata dropped)."""

    required_permission = None
    parser_classes = [FileUploadParser]

    @extend_schema(
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="No photo.")},
        summary="A patient's photo (audited)",
    )
    def get(self, request: Request, patient_id: str) -> HttpResponse:
        photo = selectors.patient_photo(ctx=self.ctx, patient_id=self.parse_id(patient_id))
        if photo is None:
            raise NotFound("no photo of this patient")
        response = HttpResponse(photo, content_type="image/jpeg")
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        request={"image/*": OpenApiTypes.BINARY}, responses={204: None}, summary="Keep a photo of the patient"
    )
    def put(self, request: Request, patient_id: str) -> Response:
        upload = request.data.get("file")
        if upload is None:
            raise ValidationFailed.field("photo", "Send the image as the request body.", code="required")
        services.patient_photo_set(ctx=self.ctx, patient_id=self.parse_id(patient_id), data=upload.read())
        return Response(status=status.HTTP_204_NO_CONTENT)
