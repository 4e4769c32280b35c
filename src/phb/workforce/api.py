"""The workforce API: practitioners (list, create, detail, update, deactivate, reactivate) and each
one's weekly availability windows, leave and closures. Another organization's practitioner is "not
found"; a doctor changes their own schedule only.

Views leave permission decisions to the services and selectors they call."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.workforce import selectors, services
from phb.workforce.models import Closure, Leave, PractitionerProfile, WeeklyAvailability


def _texts() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=200), max_length=30, required=False)


class PractitionerOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="user.full_name")
    consultation_fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    qualifications = serializers.ListField(child=serializers.CharField())
    languages = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = PractitionerProfile
        fields = [
            "id",
            "user_id",
            "name",
            "department_id",
            "specialization",
            "licence_number",
            "licence_expires_on",
            "qualifications",
            "years_of_experience",
            "languages",
            "consultation_fee",
            "offers_telemedicine",
            "is_active",
            "created_at",
            "updated_at",
        ]


class PractitionerFields(serializers.Serializer):
    department_id = serializers.UUIDField(required=False, allow_null=True)
    specialization = serializers.CharField(max_length=100, required=False)
    licence_number = serializers.CharField(max_length=50, required=False)
    licence_expires_on = serializers.DateField(required=False, allow_null=True)
    qualifications = _texts()
    years_of_experience = serializers.IntegerField(min_value=0, max_value=80, required=False)
    languages = _texts()
    consultation_fee = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    offers_telemedicine = serializers.BooleanField(required=False)


class PractitionerCreateInput(PractitionerFields):
    user_id = serializers.UUIDField(help_text="An active member of staff of the organization.")
    specialization = serializers.CharField(max_length=100)
    licence_number = serializers.CharField(max_length=50)


class PractitionerFilters(serializers.Serializer):
    department = serializers.UUIDField(required=False)
    specialization = serializers.CharField(required=False, max_length=100)
    active = serializers.BooleanField(
        required=False, allow_null=True, default=True, help_text="true (the default), false, or empty for both"
    )
    telemedicine = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only those who offer it (true) or not (false)."
    )


class WindowOutput(serializers.ModelSerializer):
    class Meta:
        model = WeeklyAvailability
        fields = [
            "id",
            "practitioner_id",
            "weekday",
            "starts_at",
            "ends_at",
            "break_starts_at",
            "break_ends_at",
            "slot_minutes",
            "max_daily_appointments",
        ]


class WindowUpdateInput(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False, help_text="0 Monday to 6 Sunday")
    starts_at = serializers.TimeField(required=False, help_text="Local time of the organization.")
    ends_at = serializers.TimeField(required=False)
    break_starts_at = serializers.TimeField(required=False, allow_null=True)
    break_ends_at = serializers.TimeField(required=False, allow_null=True)
    slot_minutes = serializers.IntegerField(min_value=5, max_value=480, required=False)
    max_daily_appointments = serializers.IntegerField(min_value=1, max_value=500, required=False)


class WindowInput(WindowUpdateInput):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 Monday to 6 Sunday")
    starts_at = serializers.TimeField(help_text="Local time of the organization.")
    ends_at = serializers.TimeField()
    break_starts_at = serializers.TimeField(required=False, allow_null=True, default=None)
    break_ends_at = serializers.TimeField(required=False, allow_null=True, default=None)
    slot_minutes = serializers.IntegerField(min_value=5, max_value=480, default=15)
    max_daily_appointments = serializers.IntegerField(min_value=1, max_value=500, default=20)


class LeaveOutput(serializers.ModelSerializer):
    class Meta:
        model = Leave
        fields = ["id", "practitioner_id", "starts_on", "ends_on", "reason", "created_at"]


class LeaveInput(serializers.Serializer):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(help_text="Inclusive.")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class LeaveFilters(serializers.Serializer):
    from_date = serializers.DateField(required=False, help_text="Only leave that has not ended before this date.")


class ClosureOutput(serializers.ModelSerializer):
    class Meta:
        model = Closure
        fields = ["id", "practitioner_id", "starts_at", "ends_at", "reason", "created_at"]


class ClosureInput(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text="With its offset, e.g. 2027-03-01T12:00:00+01:00.")
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ClosureFilters(serializers.Serializer):
    from_at = serializers.DateTimeField(required=False, help_text="Only closures that have not ended by then.")


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _refused(codes: str) -> OpenApiResponse:
    return OpenApiResponse(description=codes)


_NOT_FOUND = _refused("NOT_FOUND: no such practitioner here (another organization's included)")
_FORBIDDEN = _refused("FORBIDDEN: only staff managers, and the practitioner for their own schedule")


class PractitionerListApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[PractitionerFilters],
        responses=PractitionerOutput(many=True),
        summary="Practitioners of my organization (active ones unless active=false)",
    )
    def get(self, request: Request) -> Response:
        filters = _valid(PractitionerFilters, request.query_params)
        profiles = selectors.practitioner_list(
            ctx=self.ctx,
            department_id=filters.get("department"),
            specialization=filters.get("specialization", ""),
            active=filters.get("active"),
            telemedicine=filters.get("telemedicine"),
        ).select_related("user")
        paginator = PagePagination()
        page = paginator.paginate_queryset(profiles, request, view=self)
        return paginator.get_paginated_response(PractitionerOutput(page, many=True).data)

    @extend_schema(
        request=PractitionerCreateInput,
        responses={201: PractitionerOutput, 403: _FORBIDDEN, 409: _refused("PROFILE_EXISTS")},
        summary="Make a member of staff a practitioner (staff managers)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(PractitionerCreateInput, request.data)
        profile = services.practitioner_profile_create(
            ctx=self.ctx, user_id=data.pop("user_id"), department_id=data.pop("department_id", None), **data
        )
        profile = selectors.practitioner_get(ctx=self.ctx, practitioner_id=profile.id)
        return Response(PractitionerOutput(profile).data, status=status.HTTP_201_CREATED)


class PractitionerApi(PhbApiView):
    required_permission = None

    @extend_schema(responses={200: PractitionerOutput, 404: _NOT_FOUND}, summary="One practitioner")
    def get(self, request: Request, practitioner_id: str) -> Response:
        profile = selectors.practitioner_get(ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id))
        return Response(PractitionerOutput(profile).data)

    @extend_schema(
        request=PractitionerFields,
        responses={200: PractitionerOutput, 403: _FORBIDDEN, 404: _NOT_FOUND},
        summary="Change a practitioner's profile (staff managers); only the fields given change",
    )
    def patch(self, request: Request, practitioner_id: str) -> Response:
        data = _valid(PractitionerFields, request.data)
        profile = services.practitioner_profile_update(
            ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), **data
        )
        return Response(PractitionerOutput(profile).data)


class PractitionerActivationApi(PhbApiView):
    required_permission = None
    active = False

    @extend_schema(
        request=None,
        responses={200: PractitionerOutput, 403: _FORBIDDEN, 404: _NOT_FOUND},
        summary="Deactivate (no more slots or bookings; schedule and appointments kept) or reactivate",
    )
    def post(self, request: Request, practitioner_id: str) -> Response:
        change = services.practitioner_profile_reactivate if self.active else services.practitioner_profile_deactivate
        profile = change(ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id))
        return Response(PractitionerOutput(profile).data)


class AvailabilityListApi(PhbApiView):
    required_permission = None

    @extend_schema(
        responses={200: WindowOutput(many=True), 404: _NOT_FOUND},
        summary="A practitioner's weekly windows, by weekday then start",
    )
    def get(self, request: Request, practitioner_id: str) -> Response:
        windows = selectors.availability_list(ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id))
        return Response(WindowOutput(windows, many=True).data)

    @extend_schema(
        request=WindowInput,
        responses={
            201: WindowOutput,
            400: _refused("VALIDATION_ERROR; OUTSIDE_OPENING_HOURS"),
            403: _FORBIDDEN,
            404: _NOT_FOUND,
            409: _refused("AVAILABILITY_OVERLAPS"),
        },
        summary="Add a weekly window, with an optional break (inside the organization's opening hours)",
    )
    def post(self, request: Request, practitioner_id: str) -> Response:
        data = _valid(WindowInput, request.data)
        window = services.availability_add(ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), **data)
        return Response(WindowOutput(window).data, status=status.HTTP_201_CREATED)


class AvailabilityApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=WindowUpdateInput,
        responses={
            200: WindowOutput,
            400: _refused("VALIDATION_ERROR; OUTSIDE_OPENING_HOURS"),
            403: _FORBIDDEN,
            404: _NOT_FOUND,
            409: _refused("AVAILABILITY_OVERLAPS"),
        },
        summary="Change a weekly window (a break is removed with both break fields null)",
    )
    def patch(self, request: Request, practitioner_id: str, window_id: str) -> Response:
        data = _valid(WindowUpdateInput, request.data)
        window = services.availability_update(
            ctx=self.ctx,
            practitioner_id=self.parse_id(practitioner_id),
            window_id=self.parse_id(window_id),
            **data,
        )
        return Response(WindowOutput(window).data)

    @extend_schema(responses={204: None, 403: _FORBIDDEN, 404: _NOT_FOUND}, summary="Remove a weekly window")
    def delete(self, request: Request, practitioner_id: str, window_id: str) -> Response:
        services.availability_remove(
            ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), window_id=self.parse_id(window_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaveListApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[LeaveFilters],
        responses={200: LeaveOutput(many=True), 404: _NOT_FOUND},
        summary="A practitioner's leave, earliest first",
    )
    def get(self, request: Request, practitioner_id: str) -> Response:
        filters = _valid(LeaveFilters, request.query_params)
        leave = selectors.leave_list(
            ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), from_date=filters.get("from_date")
        )
        return Response(LeaveOutput(leave, many=True).data)

    @extend_schema(
        request=LeaveInput,
        responses={201: LeaveOutput, 403: _FORBIDDEN, 404: _NOT_FOUND, 409: _refused("LEAVE_OVERLAPS")},
        summary="Record days of leave (inclusive)",
    )
    def post(self, request: Request, practitioner_id: str) -> Response:
        data = _valid(LeaveInput, request.data)
        leave = services.leave_add(ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), **data)
        return Response(LeaveOutput(leave).data, status=status.HTTP_201_CREATED)


class LeaveApi(PhbApiView):
    required_permission = None

    @extend_schema(responses={204: None, 403: _FORBIDDEN, 404: _NOT_FOUND}, summary="Cancel leave")
    def delete(self, request: Request, practitioner_id: str, leave_id: str) -> Response:
        services.leave_remove(
            ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), leave_id=self.parse_id(leave_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClosureListApi(PhbApiView):
    required_permission = None

    @extend_schema(
        parameters=[ClosureFilters],
        responses={200: ClosureOutput(many=True), 404: _NOT_FOUND},
        summary="A practitioner's one-off closures, earliest first",
    )
    def get(self, request: Request, practitioner_id: str) -> Response:
        filters = _valid(ClosureFilters, request.query_params)
        closures = selectors.closure_list(
            ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), from_at=filters.get("from_at")
        )
        return Response(ClosureOutput(closures, many=True).data)

    @extend_schema(
        request=ClosureInput,
        responses={201: ClosureOutput, 403: _FORBIDDEN, 404: _NOT_FOUND, 409: _refused("CLOSURE_OVERLAPS")},
        summary="Make a practitioner unavailable for a stretch of time (at most 31 days)",
    )
    def post(self, request: Request, practitioner_id: str) -> Response:
        data = _valid(ClosureInput, request.data)
        closure = services.closure_add(ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), **data)
        return Response(ClosureOutput(closure).data, status=status.HTTP_201_CREATED)


class ClosureApi(PhbApiView):
    required_permission = None

    @extend_schema(responses={204: None, 403: _FORBIDDEN, 404: _NOT_FOUND}, summary="Cancel a closure")
    def delete(self, request: Request, practitioner_id: str, closure_id: str) -> Response:
        services.closure_remove(
            ctx=self.ctx, practitioner_id=self.parse_id(practitioner_id), closure_id=self.parse_id(closure_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
