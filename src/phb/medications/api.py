"""The prescriptions API: for prescribers, a patient's prescriptions (draft with items, update the
draft, check, sign with override reasons, cancel, replace), repeat requests to approve or refuse, a
patient's adherence; for clinical governance, the override report; for the patient, their
medications, repeat requests, doses to mark and adherence.

Every endpoint opens the medical record, so every one needs an open step-up window (a fresh second
factor). Views parse, call one selector or service, and serialize; permissions, the care relationship
and tenancy are decided there (another organization's ids are 404, a missing capability 403)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.accounts.step_up import RequiresMedAccess
from phb.kernel.api import PhbApiView
from phb.kernel.errors import ValidationFailed
from phb.kernel.ids import parse_uuid
from phb.medications import adherence, policies, repeats, selectors, services
from phb.medications.models import Prescription, PrescriptionItem

VIEW = policies.VIEW


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class MedicationsApi(PhbApiView):
    """A clinician's view of prescriptions: their role, and a fresh second factor."""

    required_permission = VIEW
    permission_classes = [*PhbApiView.permission_classes, RequiresMedAccess]


class PrescriberApi(MedicationsApi):
    required_permission = policies.PRESCRIBE


class MyMedicationsApi(PhbApiView):
    """The signed-in patient's own: any signed-in user (the selector finds their record), step-up."""

    required_permission = None
    permission_classes = [*PhbApiView.permission_classes, RequiresMedAccess]


# --- serializers ------------------------------------------------------------------------------------


class PrescriptionItemInput(serializers.Serializer):
    drug_code = serializers.CharField(max_length=40, help_text="A code of the drug catalogue.")
    form = serializers.CharField(max_length=60, required=False, allow_blank=True)
    strength = serializers.CharField(max_length=60, required=False, allow_blank=True)
    dose_quantity = serializers.DecimalField(max_digits=10, decimal_places=3)
    dose_unit = serializers.CharField(max_length=30, required=False, allow_blank=True, help_text="Default: the form's")
    route = serializers.CharField(max_length=40, required=False, allow_blank=True)
    frequency = serializers.CharField(max_length=6, help_text="OD, BD, TDS, QDS, QH (every N hours), ON, PRN, ONCE")
    interval_hours = serializers.IntegerField(required=False, allow_null=True, help_text="For QH: 2, 3, 4, 6, 8, 12")
    duration_days = serializers.IntegerField(required=False, allow_null=True)
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3, required=False, allow_null=True)
    quantity_unit = serializers.CharField(max_length=30, required=False, allow_blank=True)
    refills = serializers.IntegerField(required=False, default=0)
    indication_code = serializers.CharField(max_length=10, required=False, allow_blank=True, help_text="ICD-10-CM")
    instructions = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class PrescriptionCreateInput(serializers.Serializer):
    items = PrescriptionItemInput(many=True)
    encounter_id = serializers.UUIDField(required=False, allow_null=True)
    pharmacy_department_id = serializers.UUIDField(required=False, allow_null=True)
    pregnant = serializers.BooleanField(required=False, default=False)
    lactating = serializers.BooleanField(required=False, default=False)


class PrescriptionUpdateInput(serializers.Serializer):
    items = PrescriptionItemInput(many=True, required=False)
    pharmacy_department_id = serializers.UUIDField(required=False, allow_null=True)
    pregnant = serializers.BooleanField(required=False)
    lactating = serializers.BooleanField(required=False)


class PrescriptionFlagsInput(serializers.Serializer):
    pregnant = serializers.BooleanField(required=False, help_text="As recorded by the prescriber for the check.")
    lactating = serializers.BooleanField(required=False)


class SafetyOverrideInput(serializers.Serializer):
    alert = serializers.CharField(max_length=300, help_text="The alert's `key`, from the check.")
    reason = serializers.CharField(max_length=2000, allow_blank=True)


class PrescriptionSignInput(PrescriptionFlagsInput):
    overrides = SafetyOverrideInput(many=True, required=False)


class RepeatApproveInput(serializers.Serializer):
    overrides = SafetyOverrideInput(many=True, required=False)


class PrescriptionReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class PrescriptionReplaceInput(serializers.Serializer):
    items = PrescriptionItemInput(
        many=True, required=False, help_text="Default: the items of the replaced prescription."
    )
    encounter_id = serializers.UUIDField(required=False, allow_null=True)


class SafetyAlertOutput(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    severity = serializers.CharField()
    rule = serializers.CharField()
    title = serializers.CharField()
    mechanism = serializers.CharField()
    management = serializers.CharField()
    source = serializers.CharField()
    items = serializers.ListField(child=serializers.CharField())
    drugs = serializers.ListField(child=serializers.CharField())
    requires_override = serializers.BooleanField()


class SafetyCheckOutput(serializers.Serializer):
    id = serializers.UUIDField()
    checked_at = serializers.DateTimeField()
    purpose = serializers.CharField()
    outcome = serializers.CharField()
    knowledge_version = serializers.CharField()
    pregnant = serializers.BooleanField()
    lactating = serializers.BooleanField()
    current_drugs = serializers.ListField(child=serializers.CharField())
    alerts = SafetyAlertOutput(many=True)


class SafetyOverrideOutput(serializers.Serializer):
    id = serializers.UUIDField()
    prescription_id = serializers.UUIDField()
    prescription_number = serializers.CharField(source="prescription.number")
    patient_id = serializers.UUIDField()
    alert_key = serializers.CharField()
    kind = serializers.CharField()
    severity = serializers.CharField()
    rule = serializers.CharField()
    title = serializers.CharField()
    drugs = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField()
    overridden_by = serializers.UUIDField(source="overridden_by_id")
    overridden_by_name = serializers.CharField(source="overridden_by.full_name")
    overridden_at = serializers.DateTimeField()
    knowledge_version = serializers.CharField()


class PrescriptionItemOutput(serializers.Serializer):
    id = serializers.UUIDField()
    drug_system = serializers.CharField()
    drug_code = serializers.CharField()
    drug_display = serializers.CharField()
    form = serializers.CharField()
    strength = serializers.CharField()
    dose_quantity = serializers.DecimalField(max_digits=10, decimal_places=3)
    dose_unit = serializers.CharField()
    route = serializers.CharField()
    frequency = serializers.CharField()
    interval_hours = serializers.IntegerField(allow_null=True)
    duration_days = serializers.IntegerField(allow_null=True)
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3)
    quantity_unit = serializers.CharField()
    quantity_dispensed = serializers.DecimalField(max_digits=10, decimal_places=3)
    refills = serializers.IntegerField()
    indication_code = serializers.CharField()
    indication_display = serializers.CharField()
    instructions = serializers.CharField()
    daily_amount_mg = serializers.DecimalField(max_digits=12, decimal_places=3, allow_null=True)
    directions = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)

    def get_directions(self, item: PrescriptionItem) -> str:
        return selectors.directions(item)


class PrescriptionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    patient_id = serializers.UUIDField()
    encounter_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField(help_text="draft, signed, partially_dispensed, dispensed, cancelled, expired")
    author_id = serializers.UUIDField()
    prescriber_id = serializers.UUIDField(allow_null=True)
    prescriber_name = serializers.SerializerMethodField()
    pharmacy_department_id = serializers.UUIDField(allow_null=True)
    pregnant = serializers.BooleanField()
    lactating = serializers.BooleanField()
    replaces_id = serializers.UUIDField(allow_null=True)
    replaced_by_id = serializers.UUIDField(allow_null=True)
    repeat_of_id = serializers.UUIDField(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    items = PrescriptionItemOutput(many=True, source="item_list")

    def get_prescriber_name(self, prescription: Prescription) -> str:
        return prescription.prescriber.full_name if prescription.prescriber_id else ""


class PrescriptionHistoryOutput(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor_id = serializers.UUIDField(allow_null=True)
    at = serializers.DateTimeField()
    reason = serializers.CharField()


class PrescriptionDetailOutput(PrescriptionOutput):
    history = PrescriptionHistoryOutput(many=True, source="history_list")
    checks = SafetyCheckOutput(many=True, source="check_list")
    overrides = SafetyOverrideOutput(many=True, source="override_list")


class RepeatRequestOutput(serializers.Serializer):
    id = serializers.UUIDField()
    prescription_id = serializers.UUIDField()
    prescription_number = serializers.CharField(source="prescription.number")
    patient_id = serializers.UUIDField()
    requested_at = serializers.DateTimeField()
    note = serializers.CharField()
    status = serializers.CharField(help_text="pending, approved, refused")
    decided_at = serializers.DateTimeField(allow_null=True)
    refusal_reason = serializers.CharField()
    new_prescription_id = serializers.UUIDField(allow_null=True)


class RepeatRequestInput(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class DoseAdherenceOutput(serializers.Serializer):
    taken = serializers.IntegerField()
    missed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    percent = serializers.IntegerField(allow_null=True, help_text="taken / (taken + missed + skipped)")


class ItemDoseAdherenceOutput(serializers.Serializer):
    item_id = serializers.UUIDField()
    prescription_id = serializers.UUIDField()
    drug = serializers.CharField()
    strength = serializers.CharField()
    directions = serializers.CharField()
    adherence = DoseAdherenceOutput()


class DoseAdherenceSummaryOutput(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    total = DoseAdherenceOutput()
    items = ItemDoseAdherenceOutput(many=True)


class DoseEventOutput(serializers.Serializer):
    id = serializers.UUIDField()
    item_id = serializers.UUIDField()
    prescription_id = serializers.UUIDField()
    drug = serializers.CharField(source="item.drug_display")
    strength = serializers.CharField(source="item.strength")
    directions = serializers.CharField()
    due_at = serializers.DateTimeField()
    status = serializers.CharField(help_text="due, taken, missed, skipped")
    marked_at = serializers.DateTimeField(allow_null=True)
    taken_at = serializers.DateTimeField(allow_null=True)
    auto_missed = serializers.BooleanField()


class DoseEventMarkInput(serializers.Serializer):
    status = serializers.CharField(max_length=8, help_text="taken, missed or skipped")
    taken_at = serializers.DateTimeField(required=False, allow_null=True)


class MyPrescriptionItemOutput(serializers.Serializer):
    item = PrescriptionItemOutput()
    directions = serializers.CharField()
    adherence = DoseAdherenceOutput()
    current = serializers.BooleanField()


class MyPrescriptionOutput(serializers.Serializer):
    prescription_id = serializers.UUIDField(source="prescription.id")
    number = serializers.CharField(source="prescription.number")
    hospital = serializers.CharField()
    status = serializers.CharField(source="prescription.status")
    signed_at = serializers.DateTimeField(source="prescription.signed_at")
    ready_at_pharmacy = serializers.BooleanField()
    repeat_allowed = serializers.SerializerMethodField()
    repeat_blocked = serializers.CharField(help_text="Why a repeat cannot be asked for ('' when it can).")
    pending_request_id = serializers.UUIDField(source="pending_request.id", allow_null=True, default=None)
    items = MyPrescriptionItemOutput(many=True)

    def get_repeat_allowed(self, row: selectors.MyPrescription) -> bool:
        return not row.repeat_blocked and row.pending_request is None


def _overrides(entries: list[dict[str, Any]] | None) -> dict[str, str]:
    return {e["alert"]: e["reason"] for e in entries or []}


_REFUSED_422 = OpenApiResponse(description="OVERRIDE_REASON_REQUIRED: `alerts` lists the alerts needing a reason")


# --- prescribers ------------------------------------------------------------------------------------


class PatientPrescriptionsApi(MedicationsApi):
    required_permission = {"GET": VIEW, "POST": policies.PRESCRIBE}

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="Only prescriptions of this status")],
        responses=PrescriptionOutput(many=True),
        summary="A patient's prescriptions here, newest first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        found = selectors.prescription_list(
            ctx=self.ctx, patient_id=self.parse_id(patient_id), status=request.query_params.get("status", "")
        )
        return Response(PrescriptionOutput(found, many=True).data)

    @extend_schema(
        request=PrescriptionCreateInput,
        responses={201: PrescriptionOutput, 400: OpenApiResponse(description="VALIDATION_ERROR, every bad item")},
        summary="Write a draft prescription",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(PrescriptionCreateInput, request.data)
        prescription = services.prescription_create(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        return _detail(self, prescription.id, status.HTTP_201_CREATED)


def _detail(view: PhbApiView, prescription_id: uuid.UUID, code: int = status.HTTP_200_OK) -> Response:
    prescription = selectors.prescription_get(ctx=view.ctx, prescription_id=prescription_id)
    return Response(PrescriptionDetailOutput(prescription).data, status=code)


class PrescriptionApi(MedicationsApi):
    required_permission = {"GET": VIEW, "PATCH": policies.PRESCRIBE}

    @extend_schema(responses=PrescriptionDetailOutput, summary="One prescription: items, history, checks, overrides")
    def get(self, request: Request, prescription_id: str) -> Response:
        return _detail(self, self.parse_id(prescription_id))

    @extend_schema(
        request=PrescriptionUpdateInput,
        responses={200: PrescriptionDetailOutput, 409: OpenApiResponse(description="PRESCRIPTION_NOT_DRAFT")},
        summary="Change one's own draft (items are replaced whole when given)",
    )
    def patch(self, request: Request, prescription_id: str) -> Response:
        data = _valid(PrescriptionUpdateInput, request.data)
        prescription = services.prescription_update(
            ctx=self.ctx, prescription_id=self.parse_id(prescription_id), **data
        )
        return _detail(self, prescription.id)


class PrescriptionCheckApi(PrescriberApi):
    @extend_schema(
        request=PrescriptionFlagsInput,
        responses=SafetyCheckOutput,
        summary="Run the safety check on one's draft (kept)",
    )
    def post(self, request: Request, prescription_id: str) -> Response:
        data = _valid(PrescriptionFlagsInput, request.data)
        check = services.prescription_check(ctx=self.ctx, prescription_id=self.parse_id(prescription_id), **data)
        return Response(SafetyCheckOutput(check).data)


class PrescriptionSignApi(PrescriberApi):
    @extend_schema(
        request=PrescriptionSignInput,
        responses={200: PrescriptionDetailOutput, 422: _REFUSED_422, 409: OpenApiResponse(description="NOT_DRAFT")},
        summary="Sign one's draft: the check runs again; contraindicated and major alerts need a reason",
    )
    def post(self, request: Request, prescription_id: str) -> Response:
        data = _valid(PrescriptionSignInput, request.data)
        prescription = services.prescription_sign(
            ctx=self.ctx,
            prescription_id=self.parse_id(prescription_id),
            overrides=_overrides(data.pop("overrides", None)),
            **data,
        )
        return _detail(self, prescription.id)


class PrescriptionCancelApi(PrescriberApi):
    @extend_schema(
        request=PrescriptionReasonInput,
        responses={200: PrescriptionDetailOutput, 409: OpenApiResponse(description="ILLEGAL_TRANSITION")},
        summary="Cancel a draft, or a signed prescription saying why",
    )
    def post(self, request: Request, prescription_id: str) -> Response:
        data = _valid(PrescriptionReasonInput, request.data)
        prescription = services.prescription_cancel(
            ctx=self.ctx, prescription_id=self.parse_id(prescription_id), reason=data.get("reason", "")
        )
        return _detail(self, prescription.id)


class PrescriptionReplaceApi(PrescriberApi):
    @extend_schema(
        request=PrescriptionReplaceInput,
        responses={201: PrescriptionDetailOutput, 409: OpenApiResponse(description="PRESCRIPTION_NOT_REPLACEABLE")},
        summary="Start the replacement of a signed prescription (a draft; signing it cancels the old one)",
    )
    def post(self, request: Request, prescription_id: str) -> Response:
        data = _valid(PrescriptionReplaceInput, request.data)
        draft = services.prescription_replace(ctx=self.ctx, prescription_id=self.parse_id(prescription_id), **data)
        return _detail(self, draft.id, status.HTTP_201_CREATED)


class RepeatRequestsApi(PrescriberApi):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="pending (default), approved, refused")],
        responses=RepeatRequestOutput(many=True),
        summary="Repeat requests of the prescriptions I signed",
    )
    def get(self, request: Request) -> Response:
        found = selectors.repeat_request_list(ctx=self.ctx, status=request.query_params.get("status", "pending"))
        return Response(RepeatRequestOutput(found, many=True).data)


class RepeatRequestApproveApi(PrescriberApi):
    @extend_schema(
        request=RepeatApproveInput,
        responses={200: RepeatRequestOutput, 422: _REFUSED_422, 409: OpenApiResponse(description="REPEAT_*")},
        summary="Approve: a new signed prescription, after the same safety check",
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = _valid(RepeatApproveInput, request.data)
        decided = repeats.repeat_request_approve(
            ctx=self.ctx, request_id=self.parse_id(request_id), overrides=_overrides(data.get("overrides"))
        )
        return Response(RepeatRequestOutput(decided).data)


class RepeatRequestRefuseApi(PrescriberApi):
    @extend_schema(request=PrescriptionReasonInput, responses=RepeatRequestOutput, summary="Refuse, saying why")
    def post(self, request: Request, request_id: str) -> Response:
        data = _valid(PrescriptionReasonInput, request.data)
        decided = repeats.repeat_request_refuse(
            ctx=self.ctx, request_id=self.parse_id(request_id), reason=data.get("reason", "")
        )
        return Response(RepeatRequestOutput(decided).data)


def _days(request: Request) -> int:
    raw = request.query_params.get("days", "30")
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed.field("days", "a whole number of days", code="invalid") from None


_DAYS = OpenApiParameter("days", int, description="The last this many days (default 30, at most 366).")


class PatientAdherenceApi(MedicationsApi):
    @extend_schema(parameters=[_DAYS], responses=DoseAdherenceSummaryOutput, summary="A patient's adherence here")
    def get(self, request: Request, patient_id: str) -> Response:
        summary = selectors.adherence_summary(ctx=self.ctx, patient_id=self.parse_id(patient_id), days=_days(request))
        return Response(DoseAdherenceSummaryOutput(summary).data)


# --- the override report ------------------------------------------------------------------------------


def report_period(since: str | None, until: str | None) -> tuple[dt.datetime, dt.datetime]:
    """[since, until) from ISO dates (inclusive days); default: the last 30 days."""
    today = timezone.localdate()

    def day(value: str | None, default: dt.date, field: str) -> dt.date:
        if not value:
            return default
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationFailed.field(field, "a date: YYYY-MM-DD", code="invalid") from None

    start = day(since, today - dt.timedelta(days=29), "since")
    end = day(until, today, "until")
    zone = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time(0), tzinfo=zone),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )


def report_prescriber(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        raise ValidationFailed.field("prescriber", "a user id", code="invalid")
    return parsed


class OverrideReportApi(MedicationsApi):
    required_permission = None  # the selector decides: department heads and privacy officers

    @extend_schema(
        parameters=[
            OpenApiParameter("since", dt.date, description="First day (default: 29 days ago)"),
            OpenApiParameter("until", dt.date, description="Last day (default: today)"),
            OpenApiParameter("prescriber", uuid.UUID, description="Only this prescriber's overrides"),
            OpenApiParameter("severity", str, description="contraindicated, major, moderate or minor"),
        ],
        responses=SafetyOverrideOutput(many=True),
        summary="Overrides of safety alerts in the organization (audited)",
    )
    def get(self, request: Request) -> Response:
        since, until = report_period(request.query_params.get("since"), request.query_params.get("until"))
        rows = selectors.override_report(
            ctx=self.ctx,
            since=since,
            until=until,
            prescriber_id=report_prescriber(request.query_params.get("prescriber")),
            severity=request.query_params.get("severity", ""),
        )
        return Response(SafetyOverrideOutput(rows, many=True).data)


# --- the patient's own --------------------------------------------------------------------------------


class MyPrescriptionsApi(MyMedicationsApi):
    @extend_schema(responses=MyPrescriptionOutput(many=True), summary="My current medications, at every hospital")
    def get(self, request: Request) -> Response:
        return Response(MyPrescriptionOutput(selectors.my_medications(ctx=self.ctx), many=True).data)


class MyRepeatRequestsApi(MyMedicationsApi):
    @extend_schema(responses=RepeatRequestOutput(many=True), summary="My repeat requests")
    def get(self, request: Request) -> Response:
        return Response(RepeatRequestOutput(selectors.my_repeat_requests(ctx=self.ctx), many=True).data)


class MyPrescriptionRepeatApi(MyMedicationsApi):
    @extend_schema(
        request=RepeatRequestInput,
        responses={201: RepeatRequestOutput, 409: OpenApiResponse(description="REPEAT_NOT_ELIGIBLE, REPEAT_ALREADY_*")},
        summary="Ask for a repeat of one of my prescriptions",
    )
    def post(self, request: Request, prescription_id: str) -> Response:
        data = _valid(RepeatRequestInput, request.data)
        created = repeats.repeat_request_create(
            ctx=self.ctx, prescription_id=self.parse_id(prescription_id), note=data.get("note", "")
        )
        return Response(RepeatRequestOutput(created).data, status=status.HTTP_201_CREATED)


def _day(request: Request) -> dt.date | None:
    raw = request.query_params.get("day")
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.field("day", "a date: YYYY-MM-DD", code="invalid") from None


class MyDosesApi(MyMedicationsApi):
    @extend_schema(
        parameters=[OpenApiParameter("day", dt.date, description="Default: today")],
        responses=DoseEventOutput(many=True),
        summary="My doses due on a day",
    )
    def get(self, request: Request) -> Response:
        return Response(DoseEventOutput(selectors.my_doses(ctx=self.ctx, day=_day(request)), many=True).data)


class MyDoseApi(MyMedicationsApi):
    @extend_schema(
        request=DoseEventMarkInput,
        responses={200: DoseEventOutput, 409: OpenApiResponse(description="DOSE_NOT_DUE")},
        summary="Mark one of my doses taken, missed or skipped",
    )
    def post(self, request: Request, dose_id: str) -> Response:
        data = _valid(DoseEventMarkInput, request.data)
        dose = adherence.dose_mark(ctx=self.ctx, dose_id=self.parse_id(dose_id), **data)
        dose.directions = selectors.directions(dose.item)  # type: ignore[attr-defined]
        return Response(DoseEventOutput(dose).data)


class MyAdherenceApi(MyMedicationsApi):
    @extend_schema(parameters=[_DAYS], responses=DoseAdherenceSummaryOutput, summary="My adherence")
    def get(self, request: Request) -> Response:
        return Response(DoseAdherenceSummaryOutput(selectors.my_adherence(ctx=self.ctx, days=_days(request))).data)


class PharmacyChoiceInput(serializers.Serializer):
    pharmacy_department_id = serializers.UUIDField(
        allow_null=True, help_text="A pharmacy department of the prescribing organization; null: any of its pharmacies."
    )


class PharmacyChoiceOutput(serializers.Serializer):
    prescription_id = serializers.UUIDField(source="id")
    number = serializers.CharField()
    pharmacy_department_id = serializers.UUIDField(allow_null=True)


class MyPrescriptionPharmacyApi(MyMedicationsApi):
    @extend_schema(
        request=PharmacyChoiceInput,
        responses={200: PharmacyChoiceOutput, 409: OpenApiResponse(description="PHARMACY_NOT_CHANGEABLE")},
        summary="Choose where to collect one of my prescriptions",
    )
    def put(self, request: Request, prescription_id: str) -> Response:
        data = _valid(PharmacyChoiceInput, request.data)
        prescription = services.prescription_nominate_pharmacy(
            ctx=self.ctx,
            prescription_id=self.parse_id(prescription_id),
            pharmacy_department_id=data["pharmacy_department_id"],
        )
        return Response(PharmacyChoiceOutput(prescription).data)
