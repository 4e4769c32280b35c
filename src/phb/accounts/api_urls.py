from django.urls import path

from phb.accounts import api

urlpatterns = [
    path("auth/token/", api.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", api.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/sign-out/", api.SignOutApi.as_view(), name="auth-sign-out"),
    path("auth/med-access/", api.MedAccessApi.as_view(), name="auth-med-access"),
    path("auth/med-access/check/", api.MedAccessCheckApi.as_view(), name="auth-med-access-check"),
    path("auth/sessions/", api.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<str:session_id>/revoke/", api.SessionRevokeApi.as_view(), name="auth-session-revoke"),
    path("auth/register/", api.RegisterApi.as_view(), name="auth-register"),
    path("auth/verify-email/", api.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("auth/me/", api.MeApi.as_view(), name="auth-me"),
    path("privacy/anomalies/", api.AnomalyFlagListApi.as_view(), name="privacy-anomalies"),
    path("auth/password-reset/", api.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("break-glass/", api.BreakGlassApi.as_view(), name="break-glass"),
    path("break-glass/<str:access_id>/review/", api.BreakGlassReviewApi.as_view(), name="break-glass-review"),
    path("staff/<str:user_id>/mfa-reset/", api.StaffMfaResetApi.as_view(), name="staff-mfa-reset"),
]
