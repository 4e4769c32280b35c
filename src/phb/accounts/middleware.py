"""Builds the request context `request.ctx` from the signed-in user and their active membership."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from phb.accounts import selectors


class ContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.ctx = selectors.context_for_request(request)  # type: ignore[attr-defined]
        return self.get_response(request)
