"""Browser sign-ins start a tracked session; failures are security events."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from phb.accounts import security, selectors


@receiver(user_logged_in)
def _signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    from phb.accounts.services import session_start

    if not request.session.session_key:
        request.session.save()
    ctx = selectors.anonymous_ctx(request)
    session_start(ctx=ctx, user=user, session_key=request.session.session_key)
    security.record(ctx, "sign_in.password", user_id=user.id)


@receiver(user_logged_out)
def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or user is None:
        return
    from django.utils import timezone

    from phb.accounts.models import UserSession

    key = getattr(request.session, "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key, revoked_at__isnull=True).update(revoked_at=timezone.now())
    security.record(selectors.anonymous_ctx(request), "sign_out", user_id=user.id)


@receiver(user_login_failed)
def _failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # SECURITY: the attempted email is not stored (it may be someone's address typed by mistake).
    ctx = selectors.anonymous_ctx(request) if request is not None else None
    if ctx is not None:
        security.record(ctx, "sign_in.failure", outcome="failure")


def _locked_out(sender: Any, request: Any = None, **kwargs: Any) -> None:
    if request is not None:
        security.record(selectors.anonymous_ctx(request), "sign_in.lockout", outcome="denied")


def connect_axes() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="phb.accounts.locked_out")
