"""The OAuth2 token endpoint for API clients (client credentials), and the administrator's page to
register and revoke clients."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any
from urllib.parse import unquote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.throttling import SimpleRateThrottle

from phb.accounts import api_clients, forms
from phb.accounts.selectors import anonymous_ctx
from phb.kernel.errors import ProblemError


class _TokenThrottle(SimpleRateThrottle):
    """Token requests per client address (THROTTLE_OAUTH_TOKEN): a client needs one every few minutes;
    guessing secrets needs many."""

    scope = "oauth_token"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _oauth_error(error: str, description: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="phb"'
    return response


def _credentials(request: HttpRequest) -> tuple[str, str]:
    """client_secret_basic (RFC 6749 §2.3.1), else client_secret_post."""
    kind, _, value = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "basic" and value:
        try:
            client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return unquote(client_id), unquote(secret)
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


@csrf_exempt  # a machine endpoint authenticated by the client's secret, never by a cookie
@never_cache
@require_http_methods(["POST"])
def token(request: HttpRequest) -> HttpResponse:
    """`POST /oauth/token` with `grant_type=client_credentials` (form-encoded, RFC 6749 §4.4)."""
    throttle = _TokenThrottle()
    if not throttle.allow_request(request, None):  # SECURITY: no unlimited guessing of secrets
        response = _oauth_error("slow_down", "too many token requests from this address; try again later", 429)
        response["Retry-After"] = str(int(throttle.wait() or 1) + 1)
        return response
    if request.POST.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "only grant_type=client_credentials is supported", 400)
    client_id, secret = _credentials(request)
    try:
        access, _client, granted = api_clients.token_issue(
            ctx=anonymous_ctx(request), client_id=client_id, secret=secret, scope=request.POST.get("scope", "")
        )
    except api_clients.TokenRefused as exc:
        return _oauth_error(exc.error, exc.description, exc.status)
    body = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(api_clients.TOKEN_LIFETIME.total_seconds()),
        "scope": " ".join(granted),
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_clients_page(request: HttpRequest) -> HttpResponse:
    """An organization administrator's API clients: register one (its secret is shown once), revoke one."""
    ctx = request.ctx  # type: ignore[attr-defined]
    if not ctx.has_perm(api_clients.MANAGE):
        return render(request, "403.html", status=403)
    form = forms.ApiClientForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            client, secret = api_clients.api_client_create(
                ctx=ctx, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
            )
        except ProblemError as exc:
            form.add_error("scopes" if "scope" in exc.detail else None, exc.detail)
        else:
            created = {"client": client, "secret": secret}
            form = forms.ApiClientForm()
    clients = api_clients.api_client_list(ctx=ctx)
    response = render(
        request,
        "accounts/api_clients.html",
        {"clients": clients, "form": form, "created": created, "token_url": request.build_absolute_uri("/oauth/token")},
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may show a secret once
    return response


@login_required
@require_POST
def api_client_revoke(request: HttpRequest, api_client_id: uuid.UUID) -> HttpResponse:
    try:
        api_clients.api_client_revoke(ctx=request.ctx, api_client_id=api_client_id)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        return render(request, "403.html", status=403)
    messages.success(request, "The client was revoked; its tokens no longer work.")
    return redirect("accounts:api-clients")
