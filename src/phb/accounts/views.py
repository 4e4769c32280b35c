"""Accounts pages: sign-in with a second factor, enrolment, registration, verification, invitations,
passwords, sessions, step-up access, staff and emergency-access reviews. Views parse, call one
service, and render; the rules live in services, mfa and policies."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from phb.accounts import forms, mfa, policies, roles, security, selectors, services, step_up
from phb.accounts.models import BreakGlassAccess, Membership, ReviewStatus, User, UserSession
from phb.kernel.errors import ProblemError

PENDING = "phb.pending_sign_in"
PENDING_SECONDS = 300


def safe_next(request: HttpRequest, default: str = "/") -> str:
    """The `next` target when it stays on this site; anything else (an open redirect) is refused."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _finish_sign_in(
    request: HttpRequest, user: User, *, device: Any = None, organization_id: str | None = None
) -> None:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
        security.record(selectors.anonymous_ctx(request), "sign_in.second_factor", user_id=user.id)
    if organization_id:
        request.session[selectors.ACTIVE_ORGANIZATION_SESSION_KEY] = organization_id


def _password_step(request: HttpRequest, user: User, *, organization_id: str | None = None) -> HttpResponse:
    """After a correct password: ask for the second factor, force enrolment, or sign straight in."""
    nxt = safe_next(request)
    if mfa.has_confirmed_device(user):
        request.session[PENDING] = {"user": str(user.id), "at": time.time(), "org": organization_id, "next": nxt}
        return redirect("accounts:mfa")
    _finish_sign_in(request, user, organization_id=organization_id)
    if policies.requires_second_factor(user):
        return redirect(f"{reverse('accounts:mfa-enrol')}?next={nxt}")
    return redirect(nxt)


def sign_in(request: HttpRequest) -> HttpResponse:
    form = forms.SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["email"].lower(), password=form.cleaned_data["password"]
        )
        if user is None:
            # SECURITY: one answer for an unknown email and a wrong password (no account enumeration).
            form.add_error(None, "The email or password is not correct.")
        elif not user.email_verified_at and not policies.is_staff_user(user):
            form.add_error(None, "Confirm your email address first: open the link we emailed you.")
        else:
            return _password_step(request, user)
    return render(
        request,
        "accounts/sign_in.html",
        {"form": form, "next": safe_next(request, "")},
        status=400 if form.errors else 200,
    )


def sign_in_organization(request: HttpRequest) -> HttpResponse:
    """Hospital administrators: email, password and hospital code; the second factor is mandatory."""
    form = forms.OrganizationSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["email"].lower(), password=form.cleaned_data["password"]
        )
        membership = None
        organization_id = selectors.organization_id_for_code(form.cleaned_data["hospital_code"])
        if user is not None and organization_id is not None:
            ctx = selectors.anonymous_ctx(request)
            memberships = selectors.membership_list_for_user(ctx=ctx, user_id=user.id)
            membership = next(
                (m for m in memberships if "hospital_admin" in m.roles and m.organization_id == organization_id), None
            )
        if membership is None:
            form.add_error(None, "The email, password or hospital code is not correct.")
        else:
            return _password_step(request, user, organization_id=str(membership.organization_id))
    return render(request, "accounts/sign_in_organization.html", {"form": form}, status=400 if form.errors else 200)


def _pending_user(request: HttpRequest) -> tuple[User | None, dict[str, Any]]:
    pending = request.session.get(PENDING) or {}
    if not pending or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None, {}
    return User.objects.filter(id=pending["user"], is_active=True).first(), pending


def mfa_verify(request: HttpRequest) -> HttpResponse:
    """The second step of sign-in (or, for a signed-in staff member, the check the middleware asks for)."""
    user, pending = _pending_user(request)
    if user is None:
        if not request.user.is_authenticated:
            return redirect("accounts:sign-in")
        if request.user.is_verified():
            return redirect(safe_next(request))
        user = request.user
        if not mfa.has_confirmed_device(user):
            return redirect(f"{reverse('accounts:mfa-enrol')}?next={safe_next(request)}")
    allow_email = policies.may_use_email_codes(user)
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and request.POST.get("send_email") and allow_email:
        mfa.email_code_send(user)
        messages.info(request, "We emailed you a code. It is valid for 10 minutes.")
        return redirect(request.get_full_path())
    if request.method == "POST" and form.is_valid():
        device = mfa.verify(user, form.cleaned_data["code"], allow_email=allow_email)
        if device is None:
            security.record(
                selectors.anonymous_ctx(request), "sign_in.second_factor", user_id=user.id, outcome="failure"
            )
            form.add_error("code", "This code is not correct, or was already used.")
        else:
            request.session.pop(PENDING, None)
            if request.user.is_authenticated:
                otp_login(request, device)
            else:
                _finish_sign_in(request, user, device=device, organization_id=pending.get("org"))
            return redirect(pending.get("next") or safe_next(request))
    return render(
        request,
        "accounts/mfa_verify.html",
        {"form": form, "allow_email": allow_email},
        status=400 if form.errors else 200,
    )


@login_required
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the secret), confirm with a code."""
    user: User = request.user  # type: ignore[assignment]
    if mfa.has_authenticator(user) and not request.user.is_verified():
        return redirect("accounts:mfa")  # SECURITY: replacing a factor needs the current one first
    device = mfa.pending_totp(user) or mfa.totp_begin(user)
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa.totp_confirm(user, device, form.cleaned_data["code"])
        if codes is None:
            security.record(request.ctx, "mfa.enrol", user_id=user.id, outcome="failure")  # type: ignore[attr-defined]
            form.add_error("code", "This code does not match. Check the time on your phone and try again.")
        else:
            device.refresh_from_db()
            otp_login(request, device)
            security.record(request.ctx, "mfa.enrol", user_id=user.id)  # type: ignore[attr-defined]
            return render(request, "accounts/backup_codes.html", {"codes": codes, "next": safe_next(request)})
    return render(
        request,
        "accounts/mfa_enrol.html",
        {
            "form": form,
            "qr": mfa.qr_svg(device),
            "secret": mfa.secret_base32(device),
            "required": policies.requires_second_factor(user),
            "next": safe_next(request, ""),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    if not request.user.is_verified():
        return redirect("accounts:mfa")
    codes = mfa.backup_codes_regenerate(request.user)  # type: ignore[arg-type]
    security.record(request.ctx, "mfa.backup_codes", user_id=request.user.pk)  # type: ignore[attr-defined]
    return render(request, "accounts/backup_codes.html", {"codes": codes, "next": reverse("accounts:security")})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("web:home")


def register(request: HttpRequest) -> HttpResponse:
    """Patient self-registration with the consents a health service needs."""
    form = forms.RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.patient_register(
                ctx=request.ctx,
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],  # type: ignore[attr-defined]
                phone=data["phone"],
                base_url=request.build_absolute_uri("/"),
                consents={
                    "terms": data["consent_terms"],
                    "data_processing": data["consent_data_processing"],
                    "privacy": data["consent_privacy"],
                },
            )
        except ProblemError as exc:
            if exc.code == "CONFLICT":
                # SECURITY: do not reveal that the address has an account; tell its owner instead.
                return render(request, "accounts/check_email.html", {"email": data["email"]})
            form.add_error(None, exc.detail)
        else:
            return render(request, "accounts/check_email.html", {"email": data["email"]})
    return render(request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200)


def verify_email(request: HttpRequest) -> HttpResponse:
    """GET shows a button (mail scanners open links; only a person's click uses the token)."""
    token = request.POST.get("token") or request.GET.get("token") or ""
    if request.method == "POST":
        try:
            services.email_verify(ctx=request.ctx, token=token)  # type: ignore[attr-defined]
        except ProblemError as exc:
            return render(request, "accounts/link_problem.html", {"code": exc.code}, status=400)
        messages.success(request, "Your email address is confirmed. You can sign in now.")
        return redirect("accounts:sign-in")
    return render(request, "accounts/verify_email.html", {"token": token})


def resend_verification(request: HttpRequest) -> HttpResponse:
    form = forms.EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = User.objects.filter(email=form.cleaned_data["email"].lower()).first()
        if user is not None:
            services.email_verification_send(ctx=request.ctx, user=user, base_url=request.build_absolute_uri("/"))  # type: ignore[attr-defined]
        # The same answer whether or not the address has an account.
        return render(request, "accounts/check_email.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/resend.html", {"form": form})


def invitation(request: HttpRequest) -> HttpResponse:
    token = request.POST.get("token") or request.GET.get("token") or ""
    form = forms.SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(ctx=request.ctx, token=token, password=form.cleaned_data["password"])  # type: ignore[attr-defined]
        except ProblemError as exc:
            if exc.code.startswith("LINK_"):
                return render(request, "accounts/link_problem.html", {"code": exc.code}, status=400)
            form.add_error("password", exc.detail)
        else:
            messages.success(request, "Your password is set. Sign in to set up your second factor.")
            return redirect("accounts:sign-in")
    return render(
        request, "accounts/invitation.html", {"form": form, "token": token}, status=400 if form.errors else 200
    )


@login_required
def security_settings(request: HttpRequest) -> HttpResponse:
    """Second factor status, backup codes, active sessions with revoke."""
    sessions = UserSession.objects.filter(user=request.user, revoked_at__isnull=True).order_by("-last_seen_at")
    return render(
        request,
        "accounts/security.html",
        {
            "sessions": sessions,
            "current_key": request.session.session_key,
            "has_authenticator": mfa.has_authenticator(request.user),  # type: ignore[arg-type]
        },
    )


@login_required
@require_POST
def session_revoke(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    try:
        services.session_revoke(ctx=request.ctx, user=request.user, session_id=session_id)  # type: ignore[attr-defined, arg-type]
    except ProblemError as exc:
        raise Http404 from exc
    messages.success(request, "The session was ended.")
    return redirect("accounts:security")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = forms.ChangePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not request.user.check_password(form.cleaned_data["current_password"]):
            form.add_error("current_password", "This is not your current password.")
        else:
            try:
                services.password_change(
                    ctx=request.ctx,
                    user=request.user,
                    new_password=form.cleaned_data["new_password"],  # type: ignore[attr-defined, arg-type]
                    keep_session_key=request.session.session_key,
                )
            except ProblemError as exc:
                form.add_error("new_password", exc.detail)
            else:
                from django.contrib.auth import update_session_auth_hash

                update_session_auth_hash(request, request.user)
                messages.success(request, "Your password was changed; your other sessions were ended.")
                return redirect("accounts:security")
    return render(request, "accounts/password_change.html", {"form": form}, status=400 if form.errors else 200)


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = "/accounts/password-reset/done/"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.sessions_revoke_all(ctx=self.request.ctx, user=form.user)  # type: ignore[attr-defined]
        security.record(self.request.ctx, "password.reset", user_id=form.user.id)  # type: ignore[attr-defined]
        return response


@login_required
def step_up_view(request: HttpRequest) -> HttpResponse:
    """Ask for a fresh code before a medical record opens; come back to the page afterwards."""
    user: User = request.user  # type: ignore[assignment]
    allow_email = policies.may_use_email_codes(user)
    if not mfa.has_confirmed_device(user) and not allow_email:
        return redirect(f"{reverse('accounts:mfa-enrol')}?next={safe_next(request)}")
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and request.POST.get("send_email") and allow_email:
        mfa.email_code_send(user)
        return redirect(request.get_full_path())
    if request.method == "POST" and form.is_valid():
        if mfa.verify(user, form.cleaned_data["code"], allow_email=allow_email) is None:
            security.record(request.ctx, "step_up", user_id=user.id, outcome="failure")  # type: ignore[attr-defined]
            form.add_error("code", "This code is not correct, or was already used.")
        else:
            step_up.grant_session(request)
            security.record(request.ctx, "step_up", user_id=user.id)  # type: ignore[attr-defined]
            return redirect(safe_next(request))
    return render(
        request,
        "accounts/step_up.html",
        {
            "form": form,
            "allow_email": allow_email,
            "expired": request.GET.get("reason") == "MED_ACCESS_EXPIRED",
            "minutes": settings.STEP_UP_MINUTES,
        },
        status=400 if form.errors else 200,
    )


@login_required
def staff(request: HttpRequest) -> HttpResponse:
    """A hospital administrator's staff list: invite, and reset a second factor."""
    ctx = request.ctx  # type: ignore[attr-defined]
    if not ctx.has_perm("accounts.membership.manage"):
        return render(request, "403.html", status=403)
    choices = [(code, role.name) for code, role in roles.catalogue().items() if role.kind == "staff"]
    form = forms.InviteForm(request.POST or None, roles=choices)
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_invite(
                ctx=ctx,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=[form.cleaned_data["role"]],
                base_url=request.build_absolute_uri("/"),
            )
        except ProblemError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "The invitation was sent.")
            return redirect("accounts:staff")
    members = Membership.objects.for_tenant(ctx).select_related("user").order_by("user__full_name")
    return render(request, "accounts/staff.html", {"members": members, "form": form})


@login_required
@require_POST
def staff_mfa_reset(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    try:
        services.mfa_reset(ctx=request.ctx, user_id=user_id)  # type: ignore[attr-defined]
    except ProblemError as exc:
        if exc.status == 404:
            raise Http404 from exc
        return render(request, "403.html", status=403)
    messages.success(request, "The second factor was reset; they will set up a new one at next sign-in.")
    return redirect("accounts:staff")


@login_required
def break_glass_reviews(request: HttpRequest) -> HttpResponse:
    """The privacy officer's queue of emergency accesses to mark justified or not."""
    ctx = request.ctx  # type: ignore[attr-defined]
    if not ctx.has_perm("accounts.break_glass.review"):
        return render(request, "403.html", status=403)
    if request.method == "POST":
        form = forms.ReviewForm(request.POST)
        access_id = request.POST.get("access_id", "")
        try:
            if not form.is_valid():
                raise ProblemError("invalid review")
            services.break_glass_review(
                ctx=ctx,
                access_id=uuid.UUID(access_id),
                justified=form.cleaned_data["verdict"] == "justified",
                note=form.cleaned_data["note"],
            )
        except (ProblemError, ValueError):
            messages.error(request, "That review could not be saved.")
        else:
            messages.success(request, "Review saved.")
        return redirect("accounts:break-glass-reviews")
    pending = (
        BreakGlassAccess.objects.for_tenant(ctx)
        .filter(review_status=ReviewStatus.PENDING)
        .select_related("user")
        .order_by("created_at")
    )
    return render(request, "accounts/break_glass_reviews.html", {"pending": pending, "form": forms.ReviewForm()})


@login_required
def organization_switch(request: HttpRequest) -> HttpResponse:
    """Pick which of one's organizations to act for."""
    memberships = selectors.membership_list_for_user(ctx=request.ctx, user_id=request.user.pk)  # type: ignore[attr-defined]
    if request.method == "POST":
        chosen = request.POST.get("organization", "")
        if chosen not in {str(m.organization_id) for m in memberships}:
            raise Http404  # SECURITY: an organization one does not belong to is simply not there
        request.session[selectors.ACTIVE_ORGANIZATION_SESSION_KEY] = chosen
        security.record(request.ctx, "organization.switch", user_id=request.user.pk, organization_id=uuid.UUID(chosen))  # type: ignore[attr-defined]
        return redirect(safe_next(request))
    names = dict(selectors.organization_names([m.organization_id for m in memberships]))
    return render(
        request,
        "accounts/organization_switch.html",
        {
            "choices": [(m.organization_id, names.get(m.organization_id, ""), m.roles) for m in memberships],
            "active": request.ctx.organization_id,  # type: ignore[attr-defined]
        },
    )
