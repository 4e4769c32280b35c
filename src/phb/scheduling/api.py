"""The appointments API for staff: list and book, one appointment with its history, status changes,
the booking question asked without booking, free slots and a day's queue; for a signed-in patient,
their own appointments and moving one to another free time (`/api/v1/me/appointments/`). Another organization's appointment is
"not found". Complaints and symptoms travel in bodies, never in URLs.

Views leave permission decisions to the services and selectors they call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound
from phb.scheduling import queueing, selectors, services, slots, transitions
from phb.scheduling.models import Appointment, AppointmentStatus, AppointmentTransition, AppointmentType, Priority


class AppointmentOutput(serializers.ModelSerializer):
    type = serializers.CharField(source="kind")
    patient_hpn = serializers.CharField(source="patient.hpn")
    patient_name = serializers.SerializerMethodField()
    symptoms = serializers.ListField(child=serializers.CharField(), allow_null=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "reference",
            "status",
            "patient_id",
            "patient_hpn",
            "patient_name",
            "practitioner_id",
            "department_id",
            "specialization",
            "start_at",
            "end_at",
            "type",
            "priority",
            "chief_complaint",
            "symptoms",
            "notes",
            "fee",
            "rescheduled_to_id",
            "referred_from_id",
            "created_at",
        ]

    def get_patient_name(self, appointment: Appointment) -> str:
        return f"{appointment.patient.given_name} {appointment.patient.family_name}"


class TransitionOutput(serializers.ModelSerializer):
    class Meta:
        model = AppointmentTransition
        fields = ["from_status", "to_status", "actor_id", "at", "reason"]


class AppointmentDetailOutput(serializers.Serializer):
    appointment = AppointmentOutput()
    history = TransitionOutput(many=True)


class BookingInput(serializers.Serializer):
    patient_id = serializers.UUIDField()
    practitioner_id = serializers.UUIDField(required=False, allow_null=True)
    department_id = serializers.UUIDField(required=False, allow_null=True)
    start_at = serializers.DateTimeField()
    type = serializers.ChoiceField(choices=AppointmentType.choices, default=AppointmentType.IN_PERSON)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    chief_complaint = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    symptoms = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, allow_null=True, max_length=50, default=None
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class ConflictInput(serializers.Serializer):
    patient_id = serializers.UUIDField()
    practitioner_id = serializers.UUIDField(required=False, allow_null=True)
    department_id = serializers.UUIDField(required=False, allow_null=True)
    start_at = serializers.DateTimeField()


class ConflictOutput(serializers.Serializer):
    conflict = serializers.BooleanField()
    code = serializers.CharField(help_text="The code booking would answer with; empty when it would succeed.")
    detail = serializers.CharField()


class TransitionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class ListFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=AppointmentStatus.choices, required=False)
    practitioner = serializers.UUIDField(required=False)
    department = serializers.UUIDField(required=False)
    date = serializers.DateField(required=False)


class SlotFilters(serializers.Serializer):
    practitioner = serializers.UUIDField(required=False)
    department = serializers.UUIDField(required=False)
    specialization = serializers.CharField(required=False, max_length=100, help_text="With or without a department.")
    type = serializers.ChoiceField(
        choices=[AppointmentType.IN_PERSON, AppointmentType.TELEMEDICINE],
        required=False,
        help_text="telemedicine: only practitioners who offer it.",
    )
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class SlotOutput(serializers.Serializer):
    practitioner_id = serializers.UUIDField()
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField()


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


_IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The same key and body within 24 hours returns the first result.",
)
_REFUSED = OpenApiResponse(
    description="IN_THE_PAST (400); PATIENT_NOT_REGISTERED, SAME_DAY_SAME_SPECIALTY, PRACTITIONER_UNAVAILABLE, "
    "DAILY_MAXIMUM, SLOT_TAKEN, IDEMPOTENCY_KEY_REUSED (409)."
)


class AppointmentsApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[ListFilters],
        responses=AppointmentOutput(many=True),
        summary="Appointments of my organization (audited)",
    )
    def get(self, request: Request) -> Response:
        filters = _valid(ListFilters, request.query_params)
        appointments = selectors.appointment_list(
            ctx=self.ctx,
            status=filters.get("status", ""),
            practitioner_id=filters.get("practitioner"),
            department_id=filters.get("department"),
            on_date=filters.get("date"),
        )
        paginator = PagePagination()
        page = paginator.paginate_queryset(appointments, request, view=self)
        return paginator.get_paginated_response(AppointmentOutput(page, many=True).data)

    @extend_schema(
        request=BookingInput,
        parameters=[_IDEMPOTENCY],
        responses={201: AppointmentOutput, 400: _REFUSED, 409: _REFUSED},
        summary="Book an appointment",
    )
    def post(self, request: Request) -> Response:
        data = _valid(BookingInput, request.data)
        appointment = services.appointment_book(
            ctx=self.ctx,
            patient_id=data["patient_id"],
            practitioner_id=data.get("practitioner_id"),
            department_id=data.get("department_id"),
            start_at=data["start_at"],
            kind=data["type"],
            priority=data["priority"],
            chief_complaint=data["chief_complaint"],
            symptoms=data["symptoms"],
            notes=data["notes"],
            idempotency_key=request.headers.get("Idempotency-Key", "")[:100],
        )
        return Response(AppointmentOutput(appointment).data, status=status.HTTP_201_CREATED)


class AppointmentApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=AppointmentDetailOutput, summary="One appointment and its history (audited)")
    def get(self, request: Request, appointment_id: str) -> Response:
        appointment, history = selectors.appointment_get(ctx=self.ctx, appointment_id=self.parse_id(appointment_id))
        return Response(AppointmentDetailOutput({"appointment": appointment, "history": history}).data)


class AppointmentTransitionApi(PhbApiView):
    required_permission = None
    action_name = "confirm"

    @extend_schema(
        request=TransitionInput,
        responses={
            200: AppointmentOutput,
            409: OpenApiResponse(description="ILLEGAL_TRANSITION; CANCELLATION_CUTOFF_PASSED (a patient, too late)"),
        },
        summary="Change an appointment's status (reason required to cancel and reject); a patient may cancel "
        "their own until the cut-off; a practitioner accepts a pending appointment booked with them or "
        "waiting in their department's queue (it becomes theirs)",
    )
    def post(self, request: Request, appointment_id: str) -> Response:
        data = _valid(TransitionInput, request.data)
        if self.action_name == "accept":
            # A practitioner takes what is booked with them, or what waits in their department's queue.
            appointment = services.appointment_accept(ctx=self.ctx, appointment_id=self.parse_id(appointment_id))
            appointment, _ = selectors.appointment_get(ctx=self.ctx, appointment_id=appointment.id)
            return Response(AppointmentOutput(appointment).data)
        if self.action_name == "check-in":
            # Checking in gives the day's ticket, wherever it is done.
            appointment = services.appointment_check_in(ctx=self.ctx, appointment_id=self.parse_id(appointment_id))
            appointment, _ = selectors.appointment_get(ctx=self.ctx, appointment_id=appointment.id)
            return Response(AppointmentOutput(appointment).data)
        if self.action_name == "cancel" and self.ctx.organization_id is None:
            # A patient cancels their own appointment (until the cut-off).
            appointment = services.appointment_cancel_mine(
                ctx=self.ctx, appointment_id=self.parse_id(appointment_id), reason=data["reason"]
            )
            return Response(AppointmentOutput(appointment).data)
        appointment = services.appointment_transition(
            ctx=self.ctx,
            appointment_id=self.parse_id(appointment_id),
            to_status=transitions.ACTIONS[self.action_name],
            reason=data["reason"],
        )
        appointment, _ = selectors.appointment_get(ctx=self.ctx, appointment_id=appointment.id)
        return Response(AppointmentOutput(appointment).data)


class CheckConflictApi(PhbApiView):
    required_permission = None

    @extend_schema(request=ConflictInput, responses=ConflictOutput, summary="Would this booking be refused, and why")
    def post(self, request: Request) -> Response:
        data = _valid(ConflictInput, request.data)
        answer = services.check_conflict(
            ctx=self.ctx,
            patient_id=data["patient_id"],
            practitioner_id=data.get("practitioner_id"),
            department_id=data.get("department_id"),
            start_at=data["start_at"],
        )
        return Response(ConflictOutput(answer).data)


class FreeSlotsApi(PhbApiView):
    required_permission = None

    @extend_schema(parameters=[SlotFilters], responses=SlotOutput(many=True), summary="Free slots in a date range")
    def get(self, request: Request) -> Response:
        filters = _valid(SlotFilters, request.query_params)
        free = slots.slots_free(
            ctx=self.ctx,
            practitioner_id=filters.get("practitioner"),
            department_id=filters.get("department"),
            specialization=filters.get("specialization", ""),
            kind=filters.get("type", ""),
            start_date=filters["start_date"],
            end_date=filters["end_date"],
        )
        return Response(SlotOutput(free, many=True).data)


class QueueFilters(serializers.Serializer):
    department = serializers.UUIDField(required=False)
    practitioner = serializers.UUIDField(required=False)
    day = serializers.DateField(required=False, help_text="The organization's local date; today by default.")


class QueueEntryOutput(serializers.Serializer):
    position = serializers.IntegerField(help_text="0 while being seen, then 1, 2, ... in the order called.")
    ticket = serializers.CharField(help_text="The number the patient is called by (e.g. CAR-014); empty if none.")
    appointment_id = serializers.UUIDField(source="appointment.id")
    reference = serializers.CharField(source="appointment.reference")
    status = serializers.CharField(source="appointment.status")
    priority = serializers.CharField(source="appointment.priority")
    patient_id = serializers.UUIDField(source="appointment.patient_id")
    patient_name = serializers.SerializerMethodField()
    practitioner_id = serializers.UUIDField(source="appointment.practitioner_id", allow_null=True)
    department_id = serializers.UUIDField(source="appointment.department_id")
    start_at = serializers.DateTimeField(source="appointment.start_at")
    checked_in_at = serializers.DateTimeField(allow_null=True)
    estimated_wait_minutes = serializers.IntegerField()

    def get_patient_name(self, entry: selectors.QueueEntry) -> str:
        return f"{entry.appointment.patient.given_name} {entry.appointment.patient.family_name}"


class QueueApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[QueueFilters],
        responses=QueueEntryOutput(many=True),
        summary="A day's queue (today by default): checked in and being seen, in the order called, with "
        "tickets and estimated waits (audited)",
    )
    def get(self, request: Request) -> Response:
        filters = _valid(QueueFilters, request.query_params)
        entries = selectors.queue(
            ctx=self.ctx,
            department_id=filters.get("department"),
            practitioner_id=filters.get("practitioner"),
            day=filters.get("day"),
        )
        return Response(QueueEntryOutput(entries, many=True).data)


class PendingFilters(serializers.Serializer):
    department = serializers.UUIDField(required=False)
    unassigned = serializers.BooleanField(
        required=False, default=False, help_text="Only those booked to the department's queue, no practitioner named."
    )
    limit = serializers.IntegerField(required=False, default=200, min_value=1, max_value=500)


class PendingQueueApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[PendingFilters],
        responses=AppointmentOutput(many=True),
        summary="Pending appointments from today on that wait for a practitioner to accept them, emergency "
        "first, then the earliest (audited)",
    )
    def get(self, request: Request) -> Response:
        filters = _valid(PendingFilters, request.query_params)
        rows = selectors.pending_queue(
            ctx=self.ctx,
            department_id=filters.get("department"),
            unassigned_only=filters["unassigned"],
            limit=filters["limit"],
        )
        return Response(AppointmentOutput(rows, many=True).data)


class RescheduleInput(serializers.Serializer):
    start_at = serializers.DateTimeField()
    practitioner_id = serializers.UUIDField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class ReferInput(serializers.Serializer):
    to_department_id = serializers.UUIDField()
    to_organization_id = serializers.UUIDField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=1000)


class MeetingLinkOutput(serializers.Serializer):
    url = serializers.CharField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()


class AppointmentRescheduleApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=RescheduleInput,
        responses={201: AppointmentOutput, 400: _REFUSED, 409: _REFUSED},
        summary="Move an appointment to a new time; returns the new appointment",
    )
    def post(self, request: Request, appointment_id: str) -> Response:
        data = _valid(RescheduleInput, request.data)
        appointment = services.appointment_reschedule(
            ctx=self.ctx,
            appointment_id=self.parse_id(appointment_id),
            new_start=data["start_at"],
            practitioner_id=data.get("practitioner_id"),
            reason=data["reason"],
        )
        return Response(AppointmentOutput(appointment).data, status=status.HTTP_201_CREATED)


class AppointmentReferApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=ReferInput,
        responses={
            201: AppointmentOutput,
            409: OpenApiResponse(description="CONSENT_REQUIRED, PATIENT_NOT_REGISTERED, ILLEGAL_TRANSITION"),
        },
        summary="Refer the patient to a department (here or, with consent, at another organization)",
    )
    def post(self, request: Request, appointment_id: str) -> Response:
        data = _valid(ReferInput, request.data)
        appointment = services.appointment_refer(
            ctx=self.ctx,
            appointment_id=self.parse_id(appointment_id),
            to_department_id=data["to_department_id"],
            to_organization_id=data.get("to_organization_id"),
            reason=data["reason"],
        )
        return Response(AppointmentOutput(appointment).data, status=status.HTTP_201_CREATED)


class TelemedicineLinkApi(PhbApiView):
    required_permission = None

    @extend_schema(
        responses={200: MeetingLinkOutput, 409: OpenApiResponse(description="TELEMEDICINE_NOT_OPEN, with opens_at")},
        summary="The video call link, for the patient and the practitioner, while the call is open (audited)",
    )
    def get(self, request: Request, appointment_id: str) -> Response:
        link = selectors.telemedicine_link_get(ctx=self.ctx, appointment_id=self.parse_id(appointment_id))
        return Response(MeetingLinkOutput(link).data)


# --------------------------------------------------------------------------------------------------
# The patient's own appointments
# --------------------------------------------------------------------------------------------------


class MyAppointmentOutput(serializers.ModelSerializer):
    """What a patient sees of their appointment (never the staff's notes)."""

    type = serializers.CharField(source="kind")

    class Meta:
        model = Appointment
        fields = [
            "id",
            "reference",
            "organization_id",
            "status",
            "practitioner_id",
            "department_id",
            "specialization",
            "start_at",
            "end_at",
            "type",
            "chief_complaint",
            "fee",
            "rescheduled_to_id",
        ]


class MySlotFilters(serializers.Serializer):
    start_date = serializers.DateField(required=False, help_text="Today by default.")
    end_date = serializers.DateField(required=False, help_text="13 days after the start by default.")
    anyone = serializers.BooleanField(
        required=False, default=False, help_text="Anyone in the department, not only the same practitioner."
    )


class MyRescheduleInput(serializers.Serializer):
    start_at = serializers.DateTimeField()
    practitioner_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Another practitioner of the same department; the same by default."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


def _my_appointment(ctx: Any, appointment_id: Any) -> Appointment:
    """One of the signed-in patient's own appointments (the read is audited); anyone else's is not found."""
    found = next((a for a in selectors.my_appointments(ctx=ctx) if a.id == appointment_id), None)
    if found is None:
        raise NotFound("no such appointment")
    return found


class MyAppointmentsApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=MyAppointmentOutput(many=True), summary="My appointments at every hospital (audited)")
    def get(self, request: Request) -> Response:
        return Response(MyAppointmentOutput(selectors.my_appointments(ctx=self.ctx), many=True).data)


class MyAppointmentSlotsApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[MySlotFilters],
        responses=SlotOutput(many=True),
        summary="Free times to move one of my appointments to: its practitioner's, or its department's",
    )
    def get(self, request: Request, appointment_id: str) -> Response:
        filters = _valid(MySlotFilters, request.query_params)
        appointment = _my_appointment(self.ctx, self.parse_id(appointment_id))
        # SECURITY: a system context reads only the free times of the appointment's own department.
        system = Ctx.system(reason="a patient chooses a new time", organization_id=appointment.organization_id)
        start = filters.get("start_date") or queueing.today(system)
        end = filters.get("end_date") or start + dt.timedelta(days=13)
        same = appointment.practitioner_id if not filters["anyone"] else None
        free = slots.slots_free(
            ctx=system,
            practitioner_id=same,
            department_id=None if same else appointment.department_id,
            start_date=start,
            end_date=end,
        )
        return Response(SlotOutput(free, many=True).data)


class MyAppointmentRescheduleApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=MyRescheduleInput,
        responses={
            201: MyAppointmentOutput,
            400: _REFUSED,
            404: OpenApiResponse(description="Not one of my appointments"),
            409: OpenApiResponse(
                description="RESCHEDULE_CUTOFF_PASSED (too late to change online), SLOT_TAKEN, "
                "PRACTITIONER_UNAVAILABLE, DAILY_MAXIMUM, SAME_DAY_SAME_SPECIALTY, ILLEGAL_TRANSITION"
            ),
        },
        summary="Move one of my appointments to another free time (until the cut-off); returns the new one",
    )
    def post(self, request: Request, appointment_id: str) -> Response:
        data = _valid(MyRescheduleInput, request.data)
        appointment = services.appointment_reschedule(
            ctx=self.ctx,
            appointment_id=self.parse_id(appointment_id),
            new_start=data["start_at"],
            practitioner_id=data.get("practitioner_id"),
            reason=data["reason"] or "moved by the patient",
            as_patient=True,
        )
        return Response(MyAppointmentOutput(appointment).data, status=status.HTTP_201_CREATED)
