"""Writes of accounts: users, memberships, sign-up, verification, invitations, passwords, sessions,
break-the-glass. Each is one transaction; security events are recorded in it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.accounts import mfa, security, tokens
from phb.accounts.models import (
    BreakGlassAccess,
    ConsentKind,
    Membership,
    ReviewStatus,
    User,
    UserConsent,
    UserSession,
    validate_roles,
)
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed


def user_create(*, ctx: Ctx, email: str, password: str, full_name: str, **fields: Any) -> User:
    """Create a user with a validated password. Raises ValidationFailed, Conflict (email taken)."""
    email = User.objects.normalize_email(email).strip().lower()
    candidate = User(email=email, full_name=full_name, **fields)
    try:
        candidate.full_clean(exclude=["password"], validate_unique=False)
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationFailed("; ".join(exc.messages)) from exc
    try:
        with transaction.atomic():
            if User.objects.filter(email=email).exists():
                raise Conflict("a user with this email already exists")
            return User.objects.create_user(email, password, full_name=full_name, **fields)
    except IntegrityError as exc:  # the same address registered at the same moment
        raise Conflict("a user with this email already exists") from exc


def membership_create(*, ctx: Ctx, user: User, roles: Sequence[str], department_id: Any = None) -> Membership:
    """Make `user` a member of `ctx`'s organization with `roles`."""
    if not ctx.has_perm("accounts.membership.manage"):
        raise Forbidden("managing staff needs the hospital administrator role")
    try:
        validate_roles(list(roles))
    except ValidationError as exc:
        raise ValidationFailed("; ".join(exc.messages)) from exc
    with transaction.atomic():
        if Membership.objects.for_tenant(ctx).filter(user=user).exists():
            raise Conflict("this user is already a member of the organization")
        membership = Membership.objects.create(
            organization_id=ctx.organization_id, user=user, roles=list(roles), department_id=department_id
        )
        security.record(ctx, "role.grant", user_id=user.id, roles=sorted(roles))
    return membership


def _send(to: str, subject: str, body: str) -> None:
    transaction.on_commit(lambda: send_mail(subject, body, None, [to]))


def _link(path: str, token: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}{path}?token={token}"


# --- patient self-registration and email verification ----------------------------------------------


def patient_register(
    *, ctx: Ctx, email: str, password: str, full_name: str, consents: dict[str, bool], base_url: str, **fields: Any
) -> User:
    """A patient signs up: all required consents (terms, data processing, privacy) must be given; each
    is stored with the version of its text and the time. A verification link is emailed."""
    missing = [k for k in ConsentKind.values if not consents.get(k)]
    if missing:
        raise ValidationFailed(
            "Every consent is required to use PHB.",
            errors=[
                {"field": f"consents.{k}", "message": "this consent is required", "code": "required"} for k in missing
            ],
        )
    if fields.get("phone"):
        from phb.kernel.validators import validate_phone

        try:
            validate_phone(fields["phone"])
        except ValidationError as exc:
            raise ValidationFailed(
                exc.messages[0], errors=[{"field": "phone", "message": exc.messages[0], "code": "invalid"}]
            ) from exc
    with transaction.atomic():
        user = user_create(ctx=ctx, email=email, password=password, full_name=full_name, **fields)
        now = timezone.now()
        UserConsent.objects.bulk_create(
            UserConsent(user=user, kind=k, version=settings.CONSENT_VERSIONS[k], given_at=now, ip=ctx.ip)
            for k in ConsentKind.values
        )
        security.record(ctx, "account.register", user_id=user.id)
        email_verification_send(ctx=ctx, user=user, base_url=base_url)
    return user


def email_verification_send(*, ctx: Ctx, user: User, base_url: str) -> None:
    """(Re)send the verification link; does nothing for an already verified address."""
    if user.email_verified_at is not None:
        return
    link = _link("/accounts/verify-email/", tokens.make("verify-email", user), base_url)
    hours = settings.EMAIL_VERIFICATION_MAX_AGE // 3600
    _send(
        user.email,
        "Confirm your email address for PHB",
        f"Welcome to PHB.\n\nConfirm your email address by opening this link within {hours} hours:\n{link}\n\n"
        "If you did not create an account, ignore this email.",
    )


def email_verify(*, ctx: Ctx, token: str) -> User:
    """Mark the address verified. Raises ValidationFailed(code LINK_EXPIRED | LINK_INVALID)."""
    try:
        user = tokens.read("verify-email", token, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
    except tokens.TokenError as exc:
        raise ValidationFailed("This link has expired or was already used.", code=f"LINK_{exc.reason.upper()}") from exc
    with transaction.atomic():
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at", "updated_at"])
        security.record(ctx, "account.email_verified", user_id=user.id)
    return user


# --- staff invitations ------------------------------------------------------------------------------


def staff_invite(*, ctx: Ctx, email: str, full_name: str, roles: Sequence[str], base_url: str) -> Membership:
    """An administrator adds a staff member: an account without a password and an emailed link to set it."""
    if not ctx.has_perm("accounts.membership.manage"):
        raise Forbidden("inviting staff needs the hospital administrator role")
    email = User.objects.normalize_email(email).strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User(email=email, full_name=full_name)
            try:
                user.full_clean(exclude=["password"])
            except ValidationError as exc:
                raise ValidationFailed("; ".join(exc.messages)) from exc
            user.set_unusable_password()
            user.save()
        membership = membership_create(ctx=ctx, user=user, roles=roles)
        if not user.has_usable_password():
            link = _link("/accounts/invitation/", tokens.make("invitation", user), base_url)
            days = settings.INVITATION_MAX_AGE // 86400
            _send(
                email,
                "You have been invited to PHB",
                f"You have been added to PHB. Set your password within {days} days:\n{link}\n\n"
                "You will then set up a second factor (an authenticator app).",
            )
        security.record(ctx, "account.invite", user_id=user.id)
    return membership


def invitation_accept(*, ctx: Ctx, token: str, password: str) -> User:
    try:
        user = tokens.read("invitation", token, max_age=settings.INVITATION_MAX_AGE)
    except tokens.TokenError as exc:
        raise ValidationFailed(
            "This invitation has expired or was already used.", code=f"LINK_{exc.reason.upper()}"
        ) from exc
    _check_password(password, user=user, field="password")
    with transaction.atomic():
        user.set_password(password)
        user.email_verified_at = user.email_verified_at or timezone.now()  # the link proved the address
        user.save(update_fields=["password", "email_verified_at", "updated_at"])
        security.record(ctx, "password.set", user_id=user.id)
    return user


def _check_password(password: str, *, user: User, field: str) -> None:
    """Length, common, numeric-only and too-similar-to-the-user passwords are refused."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(
            "; ".join(exc.messages),
            errors=[{"field": field, "message": m, "code": "invalid"} for m in exc.messages],
        ) from exc


# --- passwords and sessions -------------------------------------------------------------------------


def password_change(*, ctx: Ctx, user: User, new_password: str, keep_session_key: str | None = None) -> None:
    """Set a new password and end every other session and API token of the user."""
    _check_password(new_password, user=user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password", "updated_at"])
        ended = sessions_revoke_all(ctx=ctx, user=user, except_session_key=keep_session_key)
        security.record(ctx, "password.change", user_id=user.id, sessions_ended=ended)


def session_store(session_key: str) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key=session_key)


def session_start(*, ctx: Ctx, user: User, session_key: str | None = None) -> UserSession:
    """Track a new browser session (with its key) or API session (without: its id goes in the JWT)."""
    return UserSession.objects.create(
        user=user,
        session_key=session_key,
        kind="web" if session_key else "api",
        ip=ctx.ip,
        user_agent=ctx.user_agent[:300],
        last_seen_at=timezone.now(),
    )


def _end(session: UserSession) -> None:
    # A browser session's data is deleted; an API session's tokens name it and are refused from now on.
    session.revoked_at = timezone.now()
    session.save(update_fields=["revoked_at", "updated_at"])
    if session.session_key:
        session_store(session.session_key).delete()


def session_revoke(*, ctx: Ctx, user: User, session_id: uuid.UUID) -> None:
    """End one of the user's own sessions (another device, or an API client)."""
    with transaction.atomic():
        session = UserSession.objects.filter(id=session_id, user=user, revoked_at__isnull=True).first()
        if session is None:
            raise NotFound("no such session")
        _end(session)
        security.record(ctx, "session.revoke", user_id=user.id, session_id=str(session_id))


def sessions_revoke_all(*, ctx: Ctx, user: User, except_session_key: str | None = None) -> int:
    count = 0
    for session in UserSession.objects.filter(user=user, revoked_at__isnull=True):
        if except_session_key and session.session_key == except_session_key:
            continue
        _end(session)
        count += 1
    return count


# --- second factor ----------------------------------------------------------------------------------


def mfa_reset(*, ctx: Ctx, user_id: uuid.UUID) -> None:
    """An administrator removes a staff member's second factor; they must enrol again at next sign-in."""
    if not ctx.has_perm("accounts.mfa.reset"):
        raise Forbidden("resetting a second factor needs the hospital administrator role")
    membership = Membership.objects.for_tenant(ctx).filter(user_id=user_id).select_related("user").first()
    if membership is None:
        raise NotFound("no such staff member")  # SECURITY: another organization's staff are not found
    with transaction.atomic():
        removed = mfa.reset(membership.user)
        sessions_revoke_all(ctx=ctx, user=membership.user)
        security.record(ctx, "mfa.reset", user_id=user_id, devices_removed=removed)


# --- break-the-glass --------------------------------------------------------------------------------


def break_glass_start(*, ctx: Ctx, patient_id: uuid.UUID, reason: str) -> BreakGlassAccess:
    """Declare an emergency to open a patient's record outside one's care relationships. Time-limited,
    the privacy officers of the organization are told, and it waits for their review."""
    if not ctx.has_perm("clinical.record.view"):
        raise Forbidden("only clinicians who may view records can break the glass")
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationFailed(
            "Say why this emergency access is needed (at least 10 characters).",
            errors=[{"field": "reason", "message": "at least 10 characters", "code": "too_short"}],
        )
    with transaction.atomic():
        access = BreakGlassAccess.objects.create(
            organization_id=ctx.organization_id,
            user_id=ctx.actor_id,
            patient_id=patient_id,
            reason=reason,
            expires_at=timezone.now() + dt.timedelta(hours=settings.BREAK_GLASS_HOURS),
        )
        security.record(
            ctx, "break_glass.start", user_id=ctx.actor_id, access_id=str(access.id), patient_id=str(patient_id)
        )
        for officer in _privacy_officers(ctx):
            _send(
                officer.email,
                "PHB: emergency access to a patient record needs your review",
                "A clinician declared an emergency to open a patient's record. Review it in PHB under "
                "Privacy > Emergency access reviews.",
            )
    return access


def _privacy_officers(ctx: Ctx) -> list[User]:
    members = Membership.objects.for_tenant(ctx).filter(is_active=True).select_related("user")
    return [m.user for m in members if "privacy_officer" in m.roles]


def break_glass_active(*, ctx: Ctx, patient_id: uuid.UUID) -> BreakGlassAccess | None:
    return (
        BreakGlassAccess.objects.for_tenant(ctx)
        .filter(user_id=ctx.actor_id, patient_id=patient_id, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )


def break_glass_patient_ids(*, ctx: Ctx) -> set[uuid.UUID]:
    """The patients `ctx`'s user holds an unexpired break-the-glass access to, in this organization."""
    if ctx.actor_id is None or ctx.organization_id is None:
        return set()
    return set(
        BreakGlassAccess.objects.for_tenant(ctx)
        .filter(user_id=ctx.actor_id, expires_at__gt=timezone.now())
        .values_list("patient_id", flat=True)
    )


def break_glass_review(*, ctx: Ctx, access_id: uuid.UUID, justified: bool, note: str = "") -> BreakGlassAccess:
    if not ctx.has_perm("accounts.break_glass.review"):
        raise Forbidden("reviewing emergency access needs the privacy officer role")
    with transaction.atomic():
        access = BreakGlassAccess.objects.for_tenant(ctx).select_for_update().filter(id=access_id).first()
        if access is None:
            raise NotFound("no such emergency access")
        if access.review_status != ReviewStatus.PENDING:
            raise Conflict("this emergency access was already reviewed")
        if access.user_id == ctx.actor_id:
            raise Forbidden("nobody reviews their own emergency access")
        access.review_status = ReviewStatus.JUSTIFIED if justified else ReviewStatus.NOT_JUSTIFIED
        access.reviewed_by_id = ctx.actor_id
        access.reviewed_at = timezone.now()
        access.review_note = note.strip()
        access.save()
        security.record(
            ctx, "break_glass.review", user_id=access.user_id, access_id=str(access.id), verdict=access.review_status
        )
    return access
