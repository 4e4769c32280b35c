"""API sign-in with JWT and the second factor, rotation and revocation, step-up codes, role and tenant walls."""

import pytest
from rest_framework.test import APIClient

from phb.accounts.models import UserSession
from tests.accounts.factories import (
    MembershipFactory,
    UserFactory,
    security_events,
    staff_member,
    totp_code,
    verified_client,
)

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password-42"
TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def obtain(email, password=PASSWORD, otp_code=None):
    data = {"email": email, "password": password}
    if otp_code is not None:
        data["otp_code"] = otp_code
    return APIClient().post(TOKEN, data, format="json")


def bearer(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_wrong_password_and_unknown_email_are_the_same_401(org_a):
    user, _ = staff_member(org_a, "doctor")
    wrong, unknown = obtain(user.email, "wrong-password-123"), obtain("nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == {**unknown.json(), "instance": wrong.json()["instance"]}
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"


def test_staff_need_a_code_and_a_wrong_or_replayed_code_is_refused(org_a):
    user, device = staff_member(org_a, "doctor")
    assert obtain(user.email).json()["code"] == "MFA_CODE_REQUIRED"
    assert obtain(user.email, otp_code="000000").json()["code"] == "INVALID_MFA_CODE"
    code = totp_code(device)
    assert obtain(user.email, otp_code=code).status_code == 200
    replay = obtain(user.email, otp_code=code)
    assert replay.status_code == 401
    assert replay.json()["code"] == "INVALID_MFA_CODE"


def test_staff_without_a_second_factor_get_no_token(org_a):
    user, _ = staff_member(org_a, "doctor", with_device=False)
    response = obtain(user.email)
    assert response.status_code == 403
    assert response.json()["code"] == "MFA_ENROLMENT_REQUIRED"


def test_a_token_works_and_names_the_organization_and_roles(org_a):
    user, device = staff_member(org_a, "nurse")
    tokens = obtain(user.email, otp_code=totp_code(device)).json()
    me = bearer(tokens["access"]).get("/api/v1/auth/me/").json()
    assert me["organization"] == str(org_a.id)
    assert me["roles"] == ["nurse"]
    assert bearer(tokens["access"]).get(f"/api/v1/organizations/{org_a.id}/").status_code == 200


def test_refresh_rotates_and_a_used_refresh_token_is_refused(org_a):
    user, device = staff_member(org_a, "doctor")
    tokens = obtain(user.email, otp_code=totp_code(device)).json()
    rotated = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != tokens["refresh"]
    reused = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401


def test_a_revoked_session_ends_its_access_and_refresh_tokens(org_a):
    user, device = staff_member(org_a, "doctor")
    tokens = obtain(user.email, otp_code=totp_code(device)).json()
    web = verified_client(user)
    session = UserSession.objects.get(user=user, kind="api")
    assert web.post(f"/api/v1/auth/sessions/{session.id}/revoke/").status_code == 204
    assert bearer(tokens["access"]).get("/api/v1/auth/me/").status_code == 401
    assert (
        APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code
        == 401
    )


def test_signing_out_ends_the_api_session(org_a):
    user, device = staff_member(org_a, "doctor")
    tokens = obtain(user.email, otp_code=totp_code(device)).json()
    assert (
        bearer(tokens["access"])
        .post("/api/v1/auth/sign-out/", {"refresh": tokens["refresh"]}, format="json")
        .status_code
        == 204
    )
    assert bearer(tokens["access"]).get("/api/v1/auth/me/").status_code == 401


def test_one_cannot_revoke_another_users_session(org_a):
    user, _ = staff_member(org_a, "doctor")
    other, _ = staff_member(org_a, "nurse")
    session = UserSession.objects.create(user=other, kind="api", last_seen_at="2026-01-01T00:00:00Z")
    assert verified_client(user).post(f"/api/v1/auth/sessions/{session.id}/revoke/").status_code == 404
    session.refresh_from_db()
    assert session.revoked_at is None


def test_a_patient_calling_a_staff_endpoint_is_forbidden():
    patient = UserFactory()
    client = APIClient()
    client.force_login(patient)
    response = client.post(
        "/api/v1/break-glass/",
        {"patient_id": "01a20e29-fa91-7052-b9ca-3949621b439a", "reason": "cardiac arrest in the ward"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_a_staff_member_of_one_organization_acting_in_another_gets_404(org_a, org_b):
    admin_a, _ = staff_member(org_a, "hospital_admin")
    staff_b, _ = staff_member(org_b, "doctor")
    response = verified_client(admin_a).post(f"/api/v1/staff/{staff_b.id}/mfa-reset/")
    assert response.status_code == 404
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert TOTPDevice.objects.filter(user=staff_b).exists()


def test_an_administrator_resets_a_staff_members_second_factor_and_it_is_recorded(org_a):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    admin, _ = staff_member(org_a, "hospital_admin")
    doctor, _ = staff_member(org_a, "doctor")
    assert verified_client(admin).post(f"/api/v1/staff/{doctor.id}/mfa-reset/").status_code == 204
    assert not TOTPDevice.objects.filter(user=doctor).exists()
    event = security_events("mfa.reset").get()
    assert event.resource_id == str(doctor.id)
    assert event.actor_id == admin.id
    assert event.organization_id == org_a.id


def test_a_doctor_cannot_reset_second_factors(org_a):
    doctor, _ = staff_member(org_a, "doctor")
    nurse, _ = staff_member(org_a, "nurse")
    assert verified_client(doctor).post(f"/api/v1/staff/{nurse.id}/mfa-reset/").status_code == 403


# --- step-up access --------------------------------------------------------------------------------

CHECK = "/api/v1/auth/med-access/check/"


@pytest.fixture
def doctor_api(org_a):
    user, device = staff_member(org_a, "doctor")
    tokens = obtain(user.email, otp_code=totp_code(device)).json()
    return bearer(tokens["access"]), device


def test_med_access_required_without_a_fresh_code(doctor_api):
    client, _ = doctor_api
    response = client.get(CHECK)
    assert response.status_code == 403
    assert response.json()["code"] == "MED_ACCESS_REQUIRED"


def test_a_wrong_code_or_a_forged_token_is_invalid_med_access(doctor_api):
    client, _ = doctor_api
    wrong = client.post("/api/v1/auth/med-access/", {"code": "000000"}, format="json")
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "INVALID_MED_ACCESS"
    forged = client.get(CHECK, HTTP_X_MED_ACCESS="eyJ1IjoiMSJ9:forged:signature")
    assert forged.json()["code"] == "INVALID_MED_ACCESS"


def test_a_fresh_code_opens_the_window(doctor_api):
    client, device = doctor_api
    granted = client.post("/api/v1/auth/med-access/", {"code": totp_code(device, steps_ahead=1)}, format="json")
    assert granted.status_code == 200
    assert client.get(CHECK, HTTP_X_MED_ACCESS=granted.json()["med_access_token"]).status_code == 204


def test_a_token_of_another_session_is_invalid(doctor_api, org_a):
    client, device = doctor_api
    token = client.post("/api/v1/auth/med-access/", {"code": totp_code(device, steps_ahead=1)}, format="json").json()[
        "med_access_token"
    ]
    other, other_device = staff_member(org_a, "doctor")
    other_client = bearer(obtain(other.email, otp_code=totp_code(other_device)).json()["access"])
    assert other_client.get(CHECK, HTTP_X_MED_ACCESS=token).json()["code"] == "INVALID_MED_ACCESS"


def test_an_expired_window_is_med_access_expired(doctor_api, settings):
    client, device = doctor_api
    settings.STEP_UP_MINUTES = 0
    token = client.post("/api/v1/auth/med-access/", {"code": totp_code(device, steps_ahead=1)}, format="json").json()[
        "med_access_token"
    ]
    response = client.get(CHECK, HTTP_X_MED_ACCESS=token)
    assert response.status_code == 403
    assert response.json()["code"] == "MED_ACCESS_EXPIRED"


def test_the_browser_window_uses_the_session(org_a, settings):
    user, device = staff_member(org_a, "doctor")
    client = verified_client(user)
    client.device = device
    assert client.get(CHECK).json()["code"] == "MED_ACCESS_REQUIRED"
    page = client.post(
        "/accounts/step-up/?next=/accounts/security/",
        {"code": totp_code(device, steps_ahead=1), "next": "/accounts/security/"},
    )
    assert page.status_code == 302
    assert page["Location"] == "/accounts/security/"
    assert client.get(CHECK).status_code == 204


def test_sign_in_is_throttled_with_retry_after(monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "sign_in": "2/min"})
    responses = [obtain(f"nobody{i}@example.org") for i in range(3)]
    assert [r.status_code for r in responses] == [401, 401, 429]
    assert responses[-1].json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(responses[-1]["Retry-After"]) > 0
    cache.clear()


def test_memberships_are_only_of_ones_own_organization(org_a, org_b):
    user, device = staff_member(org_a, "doctor")
    MembershipFactory(user=UserFactory(), organization=org_b, roles=["doctor"])
    tokens = obtain(user.email, otp_code=totp_code(device)).json()
    assert bearer(tokens["access"]).get(f"/api/v1/organizations/{org_b.id}/").status_code == 404


def test_password_reset_requests_are_throttled_and_do_not_reveal_accounts(monkeypatch):
    from django.core import mail
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    UserFactory(email="known@example.org")
    cache.clear()
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "password_reset": "2/hour"}
    )
    url = "/api/v1/auth/password-reset/"
    known = APIClient().post(url, {"email": "known@example.org"}, format="json")
    unknown = APIClient().post(url, {"email": "ghost@example.org"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [["known@example.org"]]
    third = APIClient().post(url, {"email": "known@example.org"}, format="json")
    assert third.status_code == 429
    assert third.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert "Retry-After" in third
    cache.clear()


def test_a_bad_email_is_a_validation_error():
    response = APIClient().post("/api/v1/auth/password-reset/", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"
