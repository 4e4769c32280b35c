"""What a locked-out sign-in gets: 429 with Retry-After (problem details for the API, a page for the web)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from phb.kernel.errors import PROBLEM_CONTENT_TYPE, problem


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None, **kwargs: Any
) -> HttpResponse:
    retry_after = str(int(settings.AXES_COOLOFF_TIME * 3600))
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            problem(
                429, "RATE_LIMIT_EXCEEDED", detail="Too many failed sign-ins. Try again later.", instance=request.path
            ),
            status=429,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    else:
        response = render(
            request, "accounts/locked.html", {"minutes": int(settings.AXES_COOLOFF_TIME * 60)}, status=429
        )
    response["Retry-After"] = retry_after
    return response
