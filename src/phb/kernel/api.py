"""Base of every app's API view: declared permission, the request context, malformed ids as 404.

An API view subclasses `PhbApiView`, declares `required_permission` (one string, or one per HTTP
method; None means any signed-in user) and reads `self.ctx`, the request context.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import views
from rest_framework.request import Request

from phb.kernel.context import Ctx
from phb.kernel.ids import parse_uuid
from phb.kernel.rest import HasRequiredPermission, PagePagination, request_ctx

__all__ = ["PagePagination", "PhbApiMixin", "PhbApiView"]


class PhbApiMixin:
    permission_classes = [HasRequiredPermission]
    required_permission: str | dict[str, str] | None = None

    @property
    def ctx(self) -> Ctx:
        return request_ctx(self.request)  # type: ignore[attr-defined]

    def parse_id(self, value: Any) -> uuid.UUID:
        """A path id as a UUID; a malformed one is simply not found."""
        parsed = parse_uuid(value)
        if parsed is None:
            raise Http404
        return parsed

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if not request_ctx(request).is_authenticated:
            raise drf_exceptions.NotAuthenticated()
        raise drf_exceptions.PermissionDenied(detail=message)


class PhbApiView(PhbApiMixin, views.APIView):
    pass
