"""Accounts API: JWT sign-in with the second factor, refresh with rotation, sign-out, step-up tokens,
sessions, patient registration and verification, break-the-glass, staff second-factor reset."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenRefreshView

from phb.accounts import mfa, policies, security, selectors, services, step_up
from phb.accounts.models import UserSession
from phb.kernel.api import PhbApiView
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, ProblemError, Unauthorized


class TokenInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)
    otp_code = serializers.CharField(required=False, allow_blank=True, max_length=16)
    organization = serializers.UUIDField(required=False, help_text="Which of your organizations to act for")


class TokenOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenObtainApi(PhbApiView):
    """Email + password (+ second-factor code) → an access and a refresh token bound to a new API session."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_scope = "sign_in"

    @extend_schema(request=TokenInput, responses={200: TokenOutput}, summary="Sign in (API)")
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request, username=data.validated_data["email"].lower(), password=data.validated_data["password"]
        )
        if user is None:
            raise Unauthorized("The email or password is not correct.", code="INVALID_CREDENTIALS")
        staff = policies.requires_second_factor(user)
        if staff and not mfa.has_confirmed_device(user):
            raise Forbidden("Set up a second factor in the web application first.", code="MFA_ENROLMENT_REQUIRED")
        verified = False
        if mfa.has_confirmed_device(user):
            code = data.validated_data.get("otp_code") or ""
            if not code:
                raise Unauthorized("A second-factor code is required.", code="MFA_CODE_REQUIRED")
            if mfa.verify(user, code, allow_email=policies.may_use_email_codes(user)) is None:
                security.record(self.ctx, "sign_in.second_factor", user_id=user.id, outcome="failure")
                raise Unauthorized(
                    "The second-factor code is not correct, or was already used.", code="INVALID_MFA_CODE"
                )
            verified = True
        organization = data.validated_data.get("organization")
        if organization is not None and organization not in selectors.member_organization_ids(
            ctx=Ctx.system(reason="check the organization a token is asked for"), user_id=user.id
        ):
            raise Forbidden("You are not a member of that organization.", code="NOT_A_MEMBER")
        session = services.session_start(ctx=self.ctx, user=user)
        refresh = RefreshToken.for_user(user)
        refresh["sid"] = str(session.id)
        refresh["otp"] = verified
        refresh["org"] = str(organization) if organization else None
        security.record(self.ctx, "sign_in.api", user_id=user.id, session_id=str(session.id))
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class SessionBoundRefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            sid = RefreshToken(attrs["refresh"]).get("sid")
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        # SECURITY: a refresh token of an ended session is refused even if it was never rotated.
        if not sid or not UserSession.objects.filter(id=sid, revoked_at__isnull=True).exists():
            raise InvalidToken("This session has ended.")
        return super().validate(attrs)


class TokenRefreshApi(TokenRefreshView):
    """Rotate: the old refresh token is blacklisted, a new pair is returned."""

    serializer_class = SessionBoundRefreshSerializer
    throttle_scope = "sign_in"


class SignOutApi(PhbApiView):
    required_permission = None

    @extend_schema(
        request=inline_serializer("SignOutInput", {"refresh": serializers.CharField(required=False)}),
        responses={204: None},
        summary="End this API session",
    )
    def post(self, request: Request) -> Response:
        sid = request.auth.get("sid") if request.auth is not None and hasattr(request.auth, "get") else None
        if sid:
            services.session_revoke(ctx=self.ctx, user=request.user, session_id=uuid.UUID(sid))
        refresh = request.data.get("refresh") if isinstance(request.data, dict) else None
        if refresh:
            with contextlib.suppress(TokenError):
                RefreshToken(refresh).blacklist()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MedAccessApi(PhbApiView):
    """A fresh second-factor code → a med-access token (send it as X-Med-Access) valid for 30 minutes."""

    required_permission = None
    throttle_scope = "otp"

    @extend_schema(
        request=inline_serializer("MedAccessInput", {"code": serializers.CharField()}),
        responses={
            200: inline_serializer(
                "MedAccessOutput",
                {"med_access_token": serializers.CharField(), "expires_at": serializers.DateTimeField()},
            )
        },
        summary="Open the step-up window for medical records",
    )
    def post(self, request: Request) -> Response:
        code = str(request.data.get("code", "")) if isinstance(request.data, dict) else ""
        user = request.user
        if mfa.verify(user, code, allow_email=policies.may_use_email_codes(user)) is None:
            security.record(self.ctx, "step_up", user_id=user.id, outcome="failure")
            raise step_up.InvalidMedAccess("The code is not correct, or was already used.")
        session_id = (
            request.auth.get("sid")
            if request.auth is not None and hasattr(request.auth, "get")
            else request._request.session.session_key
        )
        token, until = step_up.grant_token(user_id=user.pk, session_id=session_id)
        if request.auth is None:
            step_up.grant_session(request._request)
        security.record(self.ctx, "step_up", user_id=user.id)
        return Response({"med_access_token": token, "expires_at": until})


class MedAccessCheckApi(PhbApiView):
    """Answers 204 while the step-up window is open; otherwise the step-up problem that applies."""

    required_permission = None
    permission_classes = [*PhbApiView.permission_classes, step_up.RequiresMedAccess]

    @extend_schema(responses={204: None}, summary="Is the step-up window open?")
    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionOutput(serializers.ModelSerializer):
    class Meta:
        model = UserSession
        fields = ["id", "kind", "ip", "user_agent", "created_at", "last_seen_at"]


class SessionListApi(PhbApiView):
    required_permission = None

    @extend_schema(responses=SessionOutput(many=True), summary="My active sessions")
    def get(self, request: Request) -> Response:
        sessions = UserSession.objects.filter(user=request.user, revoked_at__isnull=True).order_by("-last_seen_at")
        return Response(SessionOutput(sessions, many=True).data)


class SessionRevokeApi(PhbApiView):
    required_permission = None

    @extend_schema(request=None, responses={204: None}, summary="End one of my sessions")
    def post(self, request: Request, session_id: str) -> Response:
        services.session_revoke(ctx=self.ctx, user=request.user, session_id=self.parse_id(session_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)
    full_name = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    consents = serializers.DictField(child=serializers.BooleanField())


class RegisterApi(PhbApiView):
    """Patient self-registration. The answer is the same whether or not the address already has an account."""

    permission_classes = [AllowAny]
    throttle_scope = "sign_in"

    @extend_schema(request=RegisterInput, responses={202: None}, summary="Register as a patient")
    def post(self, request: Request) -> Response:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        try:
            services.patient_register(ctx=self.ctx, base_url=request.build_absolute_uri("/"), **fields)
        except ProblemError as exc:
            if exc.code != "CONFLICT":
                raise
        return Response({"detail": "Check your email to confirm your address."}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailApi(PhbApiView):
    permission_classes = [AllowAny]
    throttle_scope = "otp"

    @extend_schema(
        request=inline_serializer("VerifyEmailInput", {"token": serializers.CharField()}),
        responses={204: None},
        summary="Confirm an email address",
    )
    def post(self, request: Request) -> Response:
        token = str(request.data.get("token", "")) if isinstance(request.data, dict) else ""
        services.email_verify(ctx=self.ctx, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BreakGlassInput(serializers.Serializer):
    patient_id = serializers.UUIDField()
    reason = serializers.CharField(max_length=2000)


class BreakGlassApi(PhbApiView):
    required_permission = "clinical.record.view"

    @extend_schema(
        request=BreakGlassInput,
        responses={
            201: inline_serializer(
                "BreakGlassOutput", {"id": serializers.UUIDField(), "expires_at": serializers.DateTimeField()}
            )
        },
        summary="Declare an emergency to open a patient's record",
    )
    def post(self, request: Request) -> Response:
        data = BreakGlassInput(data=request.data)
        data.is_valid(raise_exception=True)
        access = services.break_glass_start(ctx=self.ctx, **data.validated_data)
        return Response({"id": access.id, "expires_at": access.expires_at}, status=status.HTTP_201_CREATED)


class BreakGlassReviewApi(PhbApiView):
    required_permission = "accounts.break_glass.review"

    @extend_schema(
        request=inline_serializer(
            "BreakGlassReviewInput",
            {"justified": serializers.BooleanField(), "note": serializers.CharField(required=False)},
        ),
        responses={204: None},
        summary="Mark an emergency access justified or not",
    )
    def post(self, request: Request, access_id: str) -> Response:
        justified = request.data.get("justified") if isinstance(request.data, dict) else None
        if not isinstance(justified, bool):
            raise serializers.ValidationError({"justified": ["true or false is required"]})
        services.break_glass_review(
            ctx=self.ctx,
            access_id=self.parse_id(access_id),
            justified=justified,
            note=str(request.data.get("note", "")),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffMfaResetApi(PhbApiView):
    required_permission = "accounts.mfa.reset"

    @extend_schema(request=None, responses={204: None}, summary="Reset a staff member's second factor")
    def post(self, request: Request, user_id: str) -> Response:
        services.mfa_reset(ctx=self.ctx, user_id=self.parse_id(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(PhbApiView):
    required_permission = None
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.UUIDField(),
                "email": serializers.EmailField(),
                "full_name": serializers.CharField(),
                "organization": serializers.UUIDField(allow_null=True),
                "roles": serializers.ListField(child=serializers.CharField()),
            },
        ),
        summary="Who am I",
    )
    def get(self, request: Request) -> Response:
        ctx = self.ctx
        return Response(
            {
                "id": request.user.pk,
                "email": request.user.email,
                "full_name": request.user.full_name,
                "organization": ctx.organization_id,
                "roles": sorted(ctx.roles),
            }
        )


class PasswordResetApi(PhbApiView):
    """Email a single-use, one-hour link to reset the password. The same answer for unknown addresses."""

    permission_classes = [AllowAny]
    throttle_scope = "password_reset"

    @extend_schema(
        request=inline_serializer("PasswordResetInput", {"email": serializers.EmailField()}),
        responses={202: None},
        summary="Ask for a password reset link",
    )
    def post(self, request: Request) -> Response:
        from django.contrib.auth.forms import PasswordResetForm

        form = PasswordResetForm(data=request.data if isinstance(request.data, dict) else {})
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        form.save(
            request=request._request,
            use_https=request.is_secure(),
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
        )
        return Response(
            {"detail": "If the address has an account, a link is on its way."}, status=status.HTTP_202_ACCEPTED
        )


class AnomalyFlagOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    day = serializers.DateField()
    user = serializers.UUIDField(source="user_id")
    detail = serializers.JSONField()


class AnomalyFlagListApi(PhbApiView):
    """The privacy officer's daily signals for their organization, newest first."""

    required_permission = "audit.event.view"

    @extend_schema(responses=AnomalyFlagOutput(many=True), summary="Privacy signals (unusual access)")
    def get(self, request: Request) -> Response:
        from phb.accounts.models import AnomalyFlag
        from phb.kernel.api import PagePagination

        flags = AnomalyFlag.objects.for_tenant(self.ctx).filter(dismissed_at__isnull=True).order_by("-day", "kind")
        paginator = PagePagination()
        page = paginator.paginate_queryset(flags, request, view=self)
        return paginator.get_paginated_response(AnomalyFlagOutput(page, many=True).data)
