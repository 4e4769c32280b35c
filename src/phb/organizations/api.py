"""REST API for organizations: platform operators list and create; members read their own, and their
organization's calendar (opening hours, public holidays), which its administrators change."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.errors import NotFound
from phb.kernel.models import Organization, OrganizationType
from phb.organizations import selectors, services
from phb.organizations.models import OpeningHours, PublicHoliday


class OrganizationOutput(serializers.ModelSerializer):
    type = serializers.CharField(source="kind")
    parent = serializers.UUIDField(source="parent_id", allow_null=True)

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "type",
            "code",
            "registration_number",
            "parent",
            "address_line",
            "country",
            "state",
            "city",
            "timezone",
            "currency",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrganizationInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.ChoiceField(choices=OrganizationType.choices)
    code = serializers.SlugField(max_length=40)
    parent = serializers.UUIDField(required=False, allow_null=True)
    address_line = serializers.CharField(max_length=300, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False)
    state = serializers.CharField(max_length=100, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)


class OrganizationListApi(PhbApiView):
    required_permission = {"GET": None, "POST": "platform.organizations.manage"}

    @extend_schema(responses=OrganizationOutput(many=True), summary="Organizations visible to the caller")
    def get(self, request: Request) -> Response:
        paginator = PagePagination()
        page = paginator.paginate_queryset(selectors.organization_list(ctx=self.ctx), request, view=self)
        return paginator.get_paginated_response(OrganizationOutput(page, many=True).data)

    @extend_schema(request=OrganizationInput, responses={201: OrganizationOutput}, summary="Onboard an organization")
    def post(self, request: Request) -> Response:
        data = OrganizationInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        organization = services.organization_create(
            ctx=self.ctx, kind=fields.pop("type"), parent_id=fields.pop("parent", None), **fields
        )
        return Response(OrganizationOutput(organization).data, status=status.HTTP_201_CREATED)


class OrganizationDetailApi(PhbApiView):
    required_permission = None  # any signed-in user; the selector hides what they may not see

    @extend_schema(responses=OrganizationOutput, summary="One organization")
    def get(self, request: Request, organization_id: str) -> Response:
        organization = selectors.organization_get(ctx=self.ctx, organization_id=self.parse_id(organization_id))
        return Response(OrganizationOutput(organization).data)


# --------------------------------------------------------------------------------------------------
# The organization's calendar: opening hours and public holidays
# --------------------------------------------------------------------------------------------------


class OpeningIntervalSerializer(serializers.ModelSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 Monday to 6 Sunday")
    opens_at = serializers.TimeField(help_text="Local time of the organization.")
    closes_at = serializers.TimeField()

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens_at", "closes_at"]


class OpeningHoursInput(serializers.Serializer):
    hours = OpeningIntervalSerializer(
        many=True, help_text="The whole week; an empty list removes the opening hours (nothing is bounded)."
    )

    def validate_hours(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > 7 * 6:
            raise serializers.ValidationError("at most six intervals a day")
        return value


class HolidayOutput(serializers.ModelSerializer):
    date = serializers.DateField(source="observed_on")

    class Meta:
        model = PublicHoliday
        fields = ["id", "date", "name"]


class HolidayInput(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField(max_length=120)


class HolidayFilters(serializers.Serializer):
    from_date = serializers.DateField(required=False)
    to_date = serializers.DateField(required=False)


class _MyOrganization(PhbApiView):
    required_permission = None

    def my_organization(self, organization_id: str) -> None:
        """The calendar is reached through the caller's own organization; any other is not found."""
        # SECURITY: another organization's calendar is indistinguishable from none.
        if self.parse_id(organization_id) != self.ctx.organization_id:
            raise NotFound("no such organization")


class OpeningHoursApi(_MyOrganization):
    @extend_schema(responses=OpeningIntervalSerializer(many=True), summary="My organization's weekly opening hours")
    def get(self, request: Request, organization_id: str) -> Response:
        self.my_organization(organization_id)
        return Response(OpeningIntervalSerializer(selectors.opening_hours_list(ctx=self.ctx), many=True).data)

    @extend_schema(
        request=OpeningHoursInput,
        responses={
            200: OpeningIntervalSerializer(many=True),
            400: OpenApiResponse(description="VALIDATION_ERROR; OPENING_HOURS_OVERLAP"),
        },
        summary="Replace the weekly opening hours (hospital administrators)",
    )
    def put(self, request: Request, organization_id: str) -> Response:
        self.my_organization(organization_id)
        data = OpeningHoursInput(data=request.data)
        data.is_valid(raise_exception=True)
        rows = services.opening_hours_set(
            ctx=self.ctx, hours=[(h["weekday"], h["opens_at"], h["closes_at"]) for h in data.validated_data["hours"]]
        )
        return Response(OpeningIntervalSerializer(rows, many=True).data)


class HolidayListApi(_MyOrganization):
    @extend_schema(
        parameters=[HolidayFilters], responses=HolidayOutput(many=True), summary="My organization's public holidays"
    )
    def get(self, request: Request, organization_id: str) -> Response:
        self.my_organization(organization_id)
        filters = HolidayFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        holidays = selectors.holiday_list(ctx=self.ctx, **filters.validated_data)
        paginator = PagePagination()
        page = paginator.paginate_queryset(holidays, request, view=self)
        return paginator.get_paginated_response(HolidayOutput(page, many=True).data)

    @extend_schema(
        request=HolidayInput,
        responses={201: HolidayOutput, 409: OpenApiResponse(description="HOLIDAY_EXISTS")},
        summary="Close the organization on a date (hospital administrators)",
    )
    def post(self, request: Request, organization_id: str) -> Response:
        self.my_organization(organization_id)
        data = HolidayInput(data=request.data)
        data.is_valid(raise_exception=True)
        holiday = services.holiday_add(
            ctx=self.ctx, observed_on=data.validated_data["date"], name=data.validated_data["name"]
        )
        return Response(HolidayOutput(holiday).data, status=status.HTTP_201_CREATED)


class HolidayApi(_MyOrganization):
    @extend_schema(responses={204: None}, summary="Remove a public holiday (hospital administrators)")
    def delete(self, request: Request, organization_id: str, holiday_id: str) -> Response:
        self.my_organization(organization_id)
        services.holiday_remove(ctx=self.ctx, holiday_id=self.parse_id(holiday_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
