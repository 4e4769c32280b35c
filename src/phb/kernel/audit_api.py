"""The privacy officer's questions over the audit trail: who accessed patient X, what did user Y access.

Scoped to the officer's organization; the search itself is audited. JSON pages, or CSV with ?export=csv.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel import audit
from phb.kernel.api import PagePagination, PhbApiView
from phb.kernel.models import AuditEvent

CSV_FIELDS = [
    "occurred_at",
    "action",
    "outcome",
    "actor_id",
    "roles",
    "patient_id",
    "resource_type",
    "resource_id",
    "purpose_of_use",
    "reason",
    "ip",
    "user_agent",
    "request_id",
]
MAX_RANGE = dt.timedelta(days=366 * 7)


class AuditQuery(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    actor = serializers.UUIDField(required=False)
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    action = serializers.CharField(required=False, max_length=100)
    outcome = serializers.ChoiceField(choices=["success", "denied", "error", "failure"], required=False)
    break_glass = serializers.BooleanField(required=False, default=False)
    export = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("patient") and not attrs.get("actor"):
            raise serializers.ValidationError({"patient": ["name a patient or an actor (user)"]})
        if attrs["until"] <= attrs["since"] or attrs["until"] - attrs["since"] > MAX_RANGE:
            raise serializers.ValidationError({"until": ["must be after since, and at most seven years later"]})
        return attrs


def audit_search(ctx: Any, q: dict[str, Any]) -> Any:
    """The events a validated AuditQuery asks for (the record of the search itself comes after: it is
    never part of its own answer)."""
    return audit.search(
        ctx,
        since=q["since"],
        until=q["until"],
        patient_id=q.get("patient"),
        actor_id=q.get("actor"),
        action=q.get("action"),
        outcome=q.get("outcome"),
        break_glass=q["break_glass"],
    )


class AuditEventOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", *CSV_FIELDS, "organization_id"]


class AuditEventListApi(PhbApiView):
    required_permission = "audit.event.view"

    @extend_schema(
        parameters=[AuditQuery],
        responses=AuditEventOutput(many=True),
        summary="Who accessed a patient / what a user accessed (privacy officers)",
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = AuditQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        events = audit_search(self.ctx, q)
        audit.record(
            self.ctx,
            "audit.event.search",
            patient_id=q.get("patient"),
            resource_type="kernel.AuditEvent",
            actor=str(q.get("actor") or ""),
            export=q["export"],
        )
        if q["export"] == "csv":
            return _csv(events)
        paginator = PagePagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(AuditEventOutput(page, many=True).data)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(events: Any) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(CSV_FIELDS)
        for row in events.values_list(*CSV_FIELDS).iterator(chunk_size=2000):
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response
