"""Step-up access: opening a medical record (or the women's-health module) needs a fresh second factor.

A fresh code opens a window (30 minutes by default) for that user and that session: on the web it is
kept in the session; an API client gets a signed med-access token, bound to its API session, and
sends it as `X-Med-Access`. Views use `@med_access_required`; API views add `RequiresMedAccess`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import urlencode
from rest_framework import permissions

from phb.kernel.errors import ProblemError

SESSION_KEY = "phb.med_access_until"
HEADER = "HTTP_X_MED_ACCESS"
_SALT = "phb.med-access"


class MedAccessRequired(ProblemError):
    status, code, title = 403, "MED_ACCESS_REQUIRED", "A fresh second factor is needed to open medical records"


class InvalidMedAccess(ProblemError):
    status, code, title = 403, "INVALID_MED_ACCESS", "The medical-record access code or token is not valid"


class MedAccessExpired(ProblemError):
    status, code, title = 403, "MED_ACCESS_EXPIRED", "The medical-record access window has ended"


def window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.STEP_UP_MINUTES)


def grant_session(request: HttpRequest) -> dt.datetime:
    until = timezone.now() + window()
    request.session[SESSION_KEY] = until.isoformat()
    return until


def grant_token(*, user_id: Any, session_id: Any) -> tuple[str, dt.datetime]:
    until = timezone.now() + window()
    token = signing.dumps({"u": str(user_id), "s": str(session_id), "x": until.timestamp()}, salt=_SALT)
    return token, until


def check_session(request: HttpRequest) -> None:
    raw = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not raw:
        raise MedAccessRequired()
    if dt.datetime.fromisoformat(raw) <= timezone.now():
        raise MedAccessExpired()


def check_token(token: str, *, user_id: Any, session_id: Any) -> None:
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature as exc:
        raise InvalidMedAccess() from exc
    if data.get("u") != str(user_id) or data.get("s") != str(session_id):
        raise InvalidMedAccess()
    if float(data.get("x", 0)) <= timezone.now().timestamp():
        raise MedAccessExpired()


def check_request(request: Any) -> None:
    """Raise the step-up problem that applies, or return when the window is open."""
    raw = getattr(request, "_request", request)
    token = raw.META.get(HEADER)
    auth = getattr(request, "auth", None)
    if token:
        session_id = auth.get("sid") if auth is not None and hasattr(auth, "get") else raw.session.session_key
        check_token(token, user_id=request.user.pk, session_id=session_id)
        return
    if auth is not None and hasattr(auth, "get"):  # a JWT client that sent no token
        raise MedAccessRequired()
    check_session(raw)


class RequiresMedAccess(permissions.BasePermission):
    """API permission: the caller has an open step-up window. Errors carry the step-up problem codes."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        check_request(request)
        return True


def med_access_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Web decorator: without an open window, ask for a code and come back to this page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            check_session(request)
        except ProblemError as exc:
            query = urlencode({"next": request.get_full_path(), "reason": exc.code})
            return redirect(f"/accounts/step-up/?{query}")
        return view(request, *args, **kwargs)

    return wrapped
