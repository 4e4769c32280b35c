"""REST API for organizations: platform operators list and create; members read their own."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.models import Organization, OrganizationType
from phb.organizations import selectors, services


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
