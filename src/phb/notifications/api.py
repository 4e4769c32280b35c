"""The signed-in user's own notifications."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.api import PagePagination, PhbApiView
from phb.notifications import selectors
from phb.notifications.models import Notification


class NotificationOutput(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "organization_id", "template_code", "title", "body", "created_at", "read_at"]


class MyNotificationsApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=NotificationOutput(many=True), summary="My notifications, newest first (audited)")
    def get(self, request: Request) -> Response:
        notifications = selectors.notification_list(ctx=self.ctx)
        paginator = PagePagination()
        page = paginator.paginate_queryset(notifications, request, view=self)
        return paginator.get_paginated_response(NotificationOutput(page, many=True).data)
