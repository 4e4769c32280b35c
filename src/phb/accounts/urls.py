from django.contrib.auth import views as auth_views
from django.urls import path

from phb.accounts import views

app_name = "accounts"
urlpatterns = [
    path("sign-in/", views.sign_in, name="sign-in"),
    path("sign-in/organization/", views.sign_in_organization, name="sign-in-organization"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("mfa/", views.mfa_verify, name="mfa"),
    path("mfa/enrol/", views.mfa_enrol, name="mfa-enrol"),
    path("mfa/backup-codes/", views.backup_codes_regenerate, name="backup-codes"),
    path("register/", views.register, name="register"),
    path("verify-email/", views.verify_email, name="verify-email"),
    path("verify-email/resend/", views.resend_verification, name="resend-verification"),
    path("invitation/", views.invitation, name="invitation"),
    path("security/", views.security_settings, name="security"),
    path("sessions/<uuid:session_id>/revoke/", views.session_revoke, name="session-revoke"),
    path("password/", views.password_change, name="password-change"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            success_url="/accounts/password-reset/sent/",
        ),
        name="password-reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirm.as_view(), name="password-reset-confirm"),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path("step-up/", views.step_up_view, name="step-up"),
    path("staff/", views.staff, name="staff"),
    path("staff/<uuid:user_id>/mfa-reset/", views.staff_mfa_reset, name="staff-mfa-reset"),
    path("break-glass/reviews/", views.break_glass_reviews, name="break-glass-reviews"),
    path("organization/", views.organization_switch, name="organization-switch"),
]

from phb.accounts import client_views  # noqa: E402

urlpatterns += [
    path("api-clients/", client_views.api_clients_page, name="api-clients"),
    path("api-clients/<uuid:api_client_id>/revoke/", client_views.api_client_revoke, name="api-client-revoke"),
]
