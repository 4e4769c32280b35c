"""Request context, session idle timeouts and the mandatory second factor for staff."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import urlencode

from phb.accounts import policies, security, selectors
from phb.kernel.errors import PROBLEM_CONTENT_TYPE, problem

LAST_ACTIVITY = "phb.last_activity"
MFA_REQUIRED = "phb.mfa_required"
# Pages an unverified staff member may still reach: to verify, enrol, or leave.
MFA_EXEMPT_PREFIXES = ("/accounts/mfa/", "/accounts/sign-out/", "/static/", "/health/", "/api/v1/auth/")


class ContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.ctx = selectors.context_for_request(request)  # type: ignore[attr-defined]
        return self.get_response(request)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/fhir/")) or request.headers.get("Accept", "").startswith(
        "application/json"
    )


class SessionSecurityMiddleware:
    """For signed-in browser sessions: end idle sessions (staff sooner than patients) and keep staff
    who have not passed their second factor away from everything but enrolment and verification."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        session = request.session
        if MFA_REQUIRED not in session:
            session[MFA_REQUIRED] = policies.requires_second_factor(user)
        staff = bool(session[MFA_REQUIRED])
        idle_limit = 60 * (settings.SESSION_IDLE_MINUTES_STAFF if staff else settings.SESSION_IDLE_MINUTES_PATIENT)
        now = time.time()
        last = session.get(LAST_ACTIVITY)
        if last is not None and now - float(last) > idle_limit:
            security.record(request.ctx, "session.idle_timeout", user_id=user.id)  # type: ignore[attr-defined]
            logout(request)
            if _wants_json(request):
                return JsonResponse(
                    problem(401, detail="Your session ended after inactivity."),
                    status=401,
                    content_type=PROBLEM_CONTENT_TYPE,
                )
            return redirect(f"/accounts/sign-in/?{urlencode({'next': request.get_full_path(), 'timeout': 1})}")
        if last is None or now - float(last) > 30:  # write the session at most every 30 seconds
            session[LAST_ACTIVITY] = now
            from phb.accounts.models import UserSession

            if session.session_key:
                UserSession.objects.filter(session_key=session.session_key).update(last_seen_at=timezone.now())
        if staff and not user.is_verified() and not request.path.startswith(MFA_EXEMPT_PREFIXES):
            if _wants_json(request):
                return JsonResponse(
                    problem(
                        403,
                        "MFA_REQUIRED",
                        "Second factor required",
                        "Staff must verify a second factor before using PHB.",
                        instance=request.path,
                    ),
                    status=403,
                    content_type=PROBLEM_CONTENT_TYPE,
                )
            return redirect(f"/accounts/mfa/?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
