"""Kernel middleware: request ids and access lines; problem details for every API error."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse, JsonResponse

from phb.kernel.errors import PROBLEM_CONTENT_TYPE, problem
from phb.kernel.ids import uuid7

log = structlog.get_logger("phb.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Paths whose clients expect machine-readable errors, never an HTML page.
MACHINE_PREFIXES = ("/api/", "/health/")


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-ID when well-formed), binds it to every log
    line written while the request runs, returns it, and writes one access line without query or body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid7().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        # The id stays bound after this returns: Django logs error responses after the middleware chain.
        # It is cleared when the response is finished (kernel.apps) and at the start of the next request.
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        if not request.path.startswith("/static/"):
            log.info(
                "http.request",
                request_id=request_id,
                method=request.method,
                path=request.path,  # SECURITY: never the query string, which may carry names or ids
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
        return response


class ProblemDetailsMiddleware:
    """On API paths, an error Django answered with HTML (unknown URL, method, crash) becomes problem
    details; the stack trace never leaves the server, even in DEBUG."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(MACHINE_PREFIXES)
            and "json" not in response.get("Content-Type", "")
        ):
            replacement = JsonResponse(
                problem(response.status_code, instance=request.path),
                status=response.status_code,
                content_type=PROBLEM_CONTENT_TYPE,
            )
            for header in ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response
