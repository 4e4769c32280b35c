"""REST defaults named in settings (deny-by-default permission, pagination, problem-details errors).

Kept apart from `kernel.api` because DRF imports these while its own `views` module is loading.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import pagination, permissions
from rest_framework.request import Request
from rest_framework.response import Response

from phb.kernel.context import Ctx
from phb.kernel.errors import PROBLEM_CONTENT_TYPE, ProblemError, problem


class DenyAll(permissions.BasePermission):
    """The default: a view that declares no permission serves nobody."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return False


class HasRequiredPermission(permissions.BasePermission):
    """Authenticated, and holding the view's `required_permission` (None: any signed-in user)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        ctx: Ctx = request_ctx(request)
        if not ctx.is_authenticated:
            return False
        required = getattr(view, "required_permission", None)
        if isinstance(required, dict):
            required = required.get(request.method or "GET")
        return required is None or ctx.has_perm(required)


def request_ctx(request: Any) -> Ctx:
    """The request context; DRF's request wraps Django's, which the middleware gave a `ctx`."""
    raw = getattr(request, "_request", request)
    ctx = getattr(raw, "ctx", None)
    if ctx is None:
        ctx = Ctx.anonymous()
    return ctx


class PagePagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return super().get_paginated_response_schema(schema)


def _flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of {field, message, code}."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out += _flatten_errors(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
    elif isinstance(detail, list):
        for i, item in enumerate(detail):
            out += _flatten_errors(item, f"{prefix}[{i}]" if isinstance(item, (dict, list)) else prefix)
    else:
        out.append({"field": prefix, "message": str(detail), "code": getattr(detail, "code", "invalid")})
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error as `application/problem+json` with a stable code; never a stack trace."""
    request = context.get("request")
    instance = request.path if request is not None else None
    headers: dict[str, str] = {}
    if isinstance(exc, ProblemError):
        body = exc.as_problem(instance=instance)
    elif isinstance(exc, Http404):
        body = problem(404, instance=instance)
    elif isinstance(exc, PermissionDenied):
        body = problem(403, instance=instance)
    elif isinstance(exc, DjangoValidationError):
        body = problem(
            400,
            detail="The request has invalid fields.",
            instance=instance,
            errors=[
                {"field": f, "message": str(m), "code": "invalid"} for f, msgs in exc.message_dict.items() for m in msgs
            ]
            if hasattr(exc, "error_dict")
            else [{"field": "", "message": str(m), "code": "invalid"} for m in exc.messages],
        )
    elif isinstance(exc, drf_exceptions.ValidationError):
        body = problem(
            400,
            detail="The request has invalid fields.",
            instance=instance,
            errors=_flatten_errors(exc.detail),
        )
    elif isinstance(exc, drf_exceptions.Throttled):
        body = problem(429, detail=str(exc.detail), instance=instance)
        if exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait)))  # DRF already rounds the wait up
    elif isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        body = problem(401, detail=str(exc.detail), instance=instance)
        headers["WWW-Authenticate"] = 'Bearer realm="phb"'
    elif isinstance(exc, drf_exceptions.APIException):
        body = problem(exc.status_code, detail=str(exc.detail), instance=instance)
    else:
        return None  # unexpected: Django's handler500 answers (problem details, logged without data)
    if isinstance(exc, ProblemError) and exc.status == 429 and "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
