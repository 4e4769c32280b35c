"""The API of a patient's allergies and intolerances, "no known allergies", medical, surgical and
family history, social history and immunizations: list, record, change, mark entered in error.

Like the rest of the clinical API, every endpoint opens the medical record and needs the step-up
window; views parse, call one selector or service, and serialize. Coded concepts travel as
{system, code, display, text}: a coding, free text, or both. Statuses are plain strings (each field's
description lists them); the services refuse anything else with a clear error."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.clinical import history_selectors as selectors
from phb.clinical import history_services as services
from phb.clinical.api import ClinicalApi
from phb.clinical.models import (
    AlcoholUse,
    AllergyCategory,
    AllergyClinicalStatus,
    AllergyCriticality,
    AllergyIntolerance,
    AllergyType,
    AllergyVerificationStatus,
    FamilyRelationship,
    HistoryEntry,
    HistoryKind,
    Immunization,
    ImmunizationNotDoneReason,
    ImmunizationRoute,
    ImmunizationSite,
    ImmunizationStatus,
    LivingSituation,
    NoKnownAllergies,
    ReactionSeverity,
    SocialHistory,
    TobaccoUse,
)


def _one_of(choices: Any, extra: str = "") -> str:
    return f"One of: {', '.join(choices.values)}.{' ' + extra if extra else ''}"


def _valid(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class CodedConceptSerializer(serializers.Serializer):
    """A coded concept: a coding (system + code, the display filled in from the code system PHB holds)
    and/or free text."""

    system = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="Code system URI or short name (rxnorm, cvx, ...)."
    )
    code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    display = serializers.CharField(required=False, allow_blank=True, max_length=500)
    text = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text="Free text.")


def _concept(system: str, code: str, display: str, text: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display, "text": text}


class MarkEnteredInErrorInput(serializers.Serializer):
    reason = serializers.CharField(max_length=4000, help_text="What was wrong.")


# --- allergies ------------------------------------------------------------------------------------


class ReactionSerializer(serializers.Serializer):
    manifestation = CodedConceptSerializer(help_text="What happened (SNOMED CT, or text): hives, anaphylaxis, ...")
    severity = serializers.CharField(required=False, allow_blank=True, help_text=_one_of(ReactionSeverity))
    onset_on = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class AllergyOutput(serializers.ModelSerializer):
    substance = serializers.SerializerMethodField()
    type = serializers.CharField(help_text=_one_of(AllergyType))
    category = serializers.CharField(help_text=_one_of(AllergyCategory))
    criticality = serializers.CharField(help_text=_one_of(AllergyCriticality, "Empty: not assessed."))
    clinical_status = serializers.CharField(help_text=_one_of(AllergyClinicalStatus))
    verification_status = serializers.CharField(help_text=_one_of(AllergyVerificationStatus))
    reactions = ReactionSerializer(many=True)

    class Meta:
        model = AllergyIntolerance
        fields = [
            "id",
            "patient_id",
            "substance",
            "type",
            "category",
            "criticality",
            "clinical_status",
            "verification_status",
            "reactions",
            "onset_on",
            "asserted_on",
            "recorded_by_id",
            "note",
            "created_at",
            "updated_at",
            "entered_in_error_at",
            "entered_in_error_by_id",
            "entered_in_error_reason",
        ]

    @extend_schema_field(CodedConceptSerializer)
    def get_substance(self, allergy: AllergyIntolerance) -> dict[str, str]:
        return _concept(
            allergy.substance_system, allergy.substance_code, allergy.substance_display, allergy.substance_text
        )


class AllergyInput(serializers.Serializer):
    substance = CodedConceptSerializer(help_text="RxNorm, SNOMED CT or a drug catalogue's code, or free text.")
    category = serializers.CharField(help_text=_one_of(AllergyCategory))
    type = serializers.CharField(required=False, help_text=_one_of(AllergyType, "Default: allergy."))
    criticality = serializers.CharField(required=False, allow_blank=True, help_text=_one_of(AllergyCriticality))
    clinical_status = serializers.CharField(
        required=False, help_text=_one_of(AllergyClinicalStatus, "Default: active.")
    )
    verification_status = serializers.CharField(
        required=False, help_text="unconfirmed (default), confirmed or refuted."
    )
    reactions = ReactionSerializer(many=True, required=False)
    onset_on = serializers.DateField(required=False, allow_null=True)
    asserted_on = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Nested validated data as plain dicts and lists (the services take mappings)."""
    return {
        key: [dict(item) for item in value]
        if isinstance(value, list)
        else dict(value)
        if isinstance(value, dict)
        else value
        for key, value in data.items()
    }


class PatientAllergiesApi(ClinicalApi):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include_entered_in_error", bool, description="Also the allergies entered in error (default: no)."
            )
        ],
        responses=AllergyOutput(many=True),
        summary="A patient's allergies and intolerances, active first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        found = selectors.allergy_list(
            ctx=self.ctx,
            patient_id=self.parse_id(patient_id),
            include_entered_in_error=request.query_params.get("include_entered_in_error") in ("true", "1"),
        )
        return Response(AllergyOutput(found, many=True).data)

    @extend_schema(
        request=AllergyInput,
        responses={201: AllergyOutput},
        summary="Record an allergy or intolerance (a duplicate active one: 409 ALLERGY_DUPLICATE)",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _plain(_valid(AllergyInput, request.data))
        allergy = services.allergy_create(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(AllergyOutput(allergy).data, status=status.HTTP_201_CREATED)


class AllergyApi(ClinicalApi):
    @extend_schema(responses=AllergyOutput, summary="One allergy (audited)")
    def get(self, request: Request, allergy_id: str) -> Response:
        return Response(AllergyOutput(selectors.allergy_get(ctx=self.ctx, allergy_id=self.parse_id(allergy_id))).data)

    @extend_schema(request=AllergyInput, responses=AllergyOutput, summary="Change an allergy (status, reactions, ...)")
    def patch(self, request: Request, allergy_id: str) -> Response:
        data = _plain(_valid(AllergyInput, request.data, partial=True))
        allergy = services.allergy_update(ctx=self.ctx, allergy_id=self.parse_id(allergy_id), **data)
        return Response(AllergyOutput(allergy).data)


class AllergyEnteredInErrorApi(ClinicalApi):
    @extend_schema(request=MarkEnteredInErrorInput, responses=AllergyOutput, summary="Mark an allergy entered in error")
    def post(self, request: Request, allergy_id: str) -> Response:
        data = _valid(MarkEnteredInErrorInput, request.data)
        allergy = services.allergy_mark_entered_in_error(ctx=self.ctx, allergy_id=self.parse_id(allergy_id), **data)
        return Response(AllergyOutput(allergy).data)


class NoKnownAllergiesOutput(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()
    retired_reason = serializers.CharField(help_text="allergy_recorded, reasserted or entered_in_error (or empty).")

    class Meta:
        model = NoKnownAllergies
        fields = [
            "id",
            "patient_id",
            "current",
            "asserted_by_id",
            "asserted_at",
            "note",
            "retired_at",
            "retired_by_id",
            "retired_reason",
        ]

    def get_current(self, statement: NoKnownAllergies) -> bool:
        return statement.retired_at is None


class NoKnownAllergiesInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class PatientNoKnownAllergiesApi(ClinicalApi):
    @extend_schema(
        responses=NoKnownAllergiesOutput(many=True),
        summary='A patient\'s "no known allergies" statements, newest first (audited)',
    )
    def get(self, request: Request, patient_id: str) -> Response:
        found = selectors.no_known_allergies_list(ctx=self.ctx, patient_id=self.parse_id(patient_id))
        return Response(NoKnownAllergiesOutput(found, many=True).data)

    @extend_schema(
        request=NoKnownAllergiesInput,
        responses={201: NoKnownAllergiesOutput},
        summary='Record "no known allergies" (with active allergies: 409 ACTIVE_ALLERGIES)',
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(NoKnownAllergiesInput, request.data)
        statement = services.no_known_allergies_record(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(NoKnownAllergiesOutput(statement).data, status=status.HTTP_201_CREATED)


class NoKnownAllergiesEnteredInErrorApi(ClinicalApi):
    @extend_schema(
        request=None, responses=NoKnownAllergiesOutput, summary='Retire a "no known allergies" entered in error'
    )
    def post(self, request: Request, statement_id: str) -> Response:
        statement = services.no_known_allergies_mark_entered_in_error(
            ctx=self.ctx, statement_id=self.parse_id(statement_id)
        )
        return Response(NoKnownAllergiesOutput(statement).data)


# --- history --------------------------------------------------------------------------------------


class HistoryOutput(serializers.ModelSerializer):
    kind = serializers.CharField(help_text=_one_of(HistoryKind))
    concept = serializers.SerializerMethodField()
    relationship = serializers.CharField(help_text=_one_of(FamilyRelationship, "Family history only."))

    class Meta:
        model = HistoryEntry
        fields = [
            "id",
            "patient_id",
            "kind",
            "concept",
            "onset_on",
            "resolved_on",
            "performed_on",
            "relationship",
            "onset_age",
            "relative_deceased",
            "note",
            "recorded_by_id",
            "created_at",
            "updated_at",
            "entered_in_error_at",
            "entered_in_error_by_id",
            "entered_in_error_reason",
        ]

    @extend_schema_field(CodedConceptSerializer)
    def get_concept(self, entry: HistoryEntry) -> dict[str, str]:
        return _concept(entry.code_system, entry.code, entry.code_display, entry.text)


class HistoryChangeInput(serializers.Serializer):
    concept = CodedConceptSerializer(help_text="The condition (medical, family; ICD-10-CM or SNOMED CT) or procedure.")
    onset_on = serializers.DateField(required=False, allow_null=True, help_text="Medical history.")
    resolved_on = serializers.DateField(required=False, allow_null=True, help_text="Medical history; empty: ongoing.")
    performed_on = serializers.DateField(required=False, allow_null=True, help_text="Surgical history.")
    relationship = serializers.CharField(required=False, allow_blank=True, help_text=_one_of(FamilyRelationship))
    onset_age = serializers.IntegerField(required=False, allow_null=True, help_text="Family history: age at onset.")
    relative_deceased = serializers.BooleanField(required=False, allow_null=True, help_text="Family history.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class HistoryInput(HistoryChangeInput):
    kind = serializers.CharField(help_text=_one_of(HistoryKind))


class PatientHistoryApi(ClinicalApi):
    @extend_schema(
        parameters=[OpenApiParameter("kind", str, description=_one_of(HistoryKind, "Default: all."))],
        responses=HistoryOutput(many=True),
        summary="A patient's medical, surgical and family history (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        entries = selectors.history_list(
            ctx=self.ctx, patient_id=self.parse_id(patient_id), kind=request.query_params.get("kind", "")
        )
        return Response(HistoryOutput(entries[: selectors.MAX_ROWS], many=True).data)

    @extend_schema(request=HistoryInput, responses={201: HistoryOutput}, summary="Add a line of history")
    def post(self, request: Request, patient_id: str) -> Response:
        data = _plain(_valid(HistoryInput, request.data))
        entry = services.history_entry_create(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(HistoryOutput(entry).data, status=status.HTTP_201_CREATED)


class HistoryEntryApi(ClinicalApi):
    @extend_schema(responses=HistoryOutput, summary="One line of history (audited)")
    def get(self, request: Request, entry_id: str) -> Response:
        return Response(HistoryOutput(selectors.history_entry_get(ctx=self.ctx, entry_id=self.parse_id(entry_id))).data)

    @extend_schema(request=HistoryChangeInput, responses=HistoryOutput, summary="Correct a line of history")
    def patch(self, request: Request, entry_id: str) -> Response:
        data = _plain(_valid(HistoryChangeInput, request.data, partial=True))
        entry = services.history_entry_update(ctx=self.ctx, entry_id=self.parse_id(entry_id), **data)
        return Response(HistoryOutput(entry).data)


class HistoryEntryEnteredInErrorApi(ClinicalApi):
    @extend_schema(
        request=MarkEnteredInErrorInput, responses=HistoryOutput, summary="Mark a line of history entered in error"
    )
    def post(self, request: Request, entry_id: str) -> Response:
        data = _valid(MarkEnteredInErrorInput, request.data)
        entry = services.history_entry_mark_entered_in_error(ctx=self.ctx, entry_id=self.parse_id(entry_id), **data)
        return Response(HistoryOutput(entry).data)


class SocialHistoryOutput(serializers.ModelSerializer):
    tobacco = serializers.CharField(help_text=_one_of(TobaccoUse))
    alcohol = serializers.CharField(help_text=_one_of(AlcoholUse))
    living_situation = serializers.CharField(help_text=_one_of(LivingSituation))

    class Meta:
        model = SocialHistory
        fields = [
            "id",
            "patient_id",
            "recorded_on",
            "tobacco",
            "tobacco_pack_years",
            "alcohol",
            "alcohol_units_per_week",
            "other_substances",
            "occupation",
            "living_situation",
            "note",
            "recorded_by_id",
            "created_at",
            "entered_in_error_at",
            "entered_in_error_by_id",
            "entered_in_error_reason",
        ]


class SocialHistoryInput(serializers.Serializer):
    recorded_on = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")
    tobacco = serializers.CharField(required=False, help_text=_one_of(TobaccoUse))
    tobacco_pack_years = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)
    alcohol = serializers.CharField(required=False, help_text=_one_of(AlcoholUse))
    alcohol_units_per_week = serializers.IntegerField(required=False, allow_null=True)
    other_substances = serializers.CharField(required=False, allow_blank=True, max_length=500)
    occupation = serializers.CharField(required=False, allow_blank=True, max_length=500)
    living_situation = serializers.CharField(required=False, help_text=_one_of(LivingSituation))
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class PatientSocialHistoryApi(ClinicalApi):
    @extend_schema(
        responses=SocialHistoryOutput(many=True),
        summary="The versions of a patient's social history, current first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        found = selectors.social_history_list(ctx=self.ctx, patient_id=self.parse_id(patient_id))
        return Response(SocialHistoryOutput(found, many=True).data)

    @extend_schema(
        request=SocialHistoryInput,
        responses={201: SocialHistoryOutput},
        summary="Record the social history as it is now (a new version)",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(SocialHistoryInput, request.data)
        version = services.social_history_record(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(SocialHistoryOutput(version).data, status=status.HTTP_201_CREATED)


class SocialHistoryEnteredInErrorApi(ClinicalApi):
    @extend_schema(
        request=MarkEnteredInErrorInput,
        responses=SocialHistoryOutput,
        summary="Mark a social history version entered in error",
    )
    def post(self, request: Request, version_id: str) -> Response:
        data = _valid(MarkEnteredInErrorInput, request.data)
        version = services.social_history_mark_entered_in_error(
            ctx=self.ctx, version_id=self.parse_id(version_id), **data
        )
        return Response(SocialHistoryOutput(version).data)


# --- immunizations --------------------------------------------------------------------------------


class ImmunizationOutput(serializers.ModelSerializer):
    vaccine = serializers.SerializerMethodField()
    status = serializers.CharField(help_text=_one_of(ImmunizationStatus))
    not_done_reason = serializers.CharField(help_text=_one_of(ImmunizationNotDoneReason, "Not done only."))
    site = serializers.CharField(help_text=_one_of(ImmunizationSite))
    route = serializers.CharField(help_text=_one_of(ImmunizationRoute))

    class Meta:
        model = Immunization
        fields = [
            "id",
            "patient_id",
            "vaccine",
            "status",
            "not_done_reason",
            "occurred_on",
            "dose_number",
            "lot_number",
            "site",
            "route",
            "performer_id",
            "performer_text",
            "reported",
            "note",
            "recorded_by_id",
            "created_at",
            "updated_at",
            "entered_in_error_at",
            "entered_in_error_by_id",
            "entered_in_error_reason",
        ]

    @extend_schema_field(CodedConceptSerializer)
    def get_vaccine(self, immunization: Immunization) -> dict[str, str]:
        return _concept(
            immunization.vaccine_system,
            immunization.vaccine_code,
            immunization.vaccine_display,
            immunization.vaccine_text,
        )


class ImmunizationInput(serializers.Serializer):
    vaccine = CodedConceptSerializer(help_text='CVX (system "cvx") or another system\'s code, or free text.')
    occurred_on = serializers.DateField(help_text="When it was given (or not given).")
    status = serializers.CharField(required=False, help_text=_one_of(ImmunizationStatus, "Default: completed."))
    not_done_reason = serializers.CharField(
        required=False, allow_blank=True, help_text=_one_of(ImmunizationNotDoneReason)
    )
    dose_number = serializers.IntegerField(required=False, allow_null=True)
    lot_number = serializers.CharField(required=False, allow_blank=True, max_length=40)
    site = serializers.CharField(required=False, allow_blank=True, help_text=_one_of(ImmunizationSite))
    route = serializers.CharField(required=False, allow_blank=True, help_text=_one_of(ImmunizationRoute))
    performer_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A clinician here (default: whoever records a vaccination given)."
    )
    performer_text = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Who gave it, elsewhere."
    )
    reported = serializers.BooleanField(required=False, help_text="Reported, not given here.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class PatientImmunizationsApi(ClinicalApi):
    @extend_schema(responses=ImmunizationOutput(many=True), summary="A patient's vaccinations, latest first (audited)")
    def get(self, request: Request, patient_id: str) -> Response:
        found = selectors.immunization_list(ctx=self.ctx, patient_id=self.parse_id(patient_id))
        return Response(ImmunizationOutput(found, many=True).data)

    @extend_schema(request=ImmunizationInput, responses={201: ImmunizationOutput}, summary="Record a vaccination")
    def post(self, request: Request, patient_id: str) -> Response:
        data = _plain(_valid(ImmunizationInput, request.data))
        immunization = services.immunization_record(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return Response(ImmunizationOutput(immunization).data, status=status.HTTP_201_CREATED)


class ImmunizationApi(ClinicalApi):
    @extend_schema(responses=ImmunizationOutput, summary="One vaccination (audited)")
    def get(self, request: Request, immunization_id: str) -> Response:
        immunization = selectors.immunization_get(ctx=self.ctx, immunization_id=self.parse_id(immunization_id))
        return Response(ImmunizationOutput(immunization).data)

    @extend_schema(request=ImmunizationInput, responses=ImmunizationOutput, summary="Correct a vaccination record")
    def patch(self, request: Request, immunization_id: str) -> Response:
        data = _plain(_valid(ImmunizationInput, request.data, partial=True))
        immunization = services.immunization_update(
            ctx=self.ctx, immunization_id=self.parse_id(immunization_id), **data
        )
        return Response(ImmunizationOutput(immunization).data)


class ImmunizationEnteredInErrorApi(ClinicalApi):
    @extend_schema(
        request=MarkEnteredInErrorInput, responses=ImmunizationOutput, summary="Mark a vaccination entered in error"
    )
    def post(self, request: Request, immunization_id: str) -> Response:
        data = _valid(MarkEnteredInErrorInput, request.data)
        immunization = services.immunization_mark_entered_in_error(
            ctx=self.ctx, immunization_id=self.parse_id(immunization_id), **data
        )
        return Response(ImmunizationOutput(immunization).data)
