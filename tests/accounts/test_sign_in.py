"""Web sign-in: password, second factor, forced enrolment, lockout, redirects, CSRF, idle timeout."""

import time

import pytest
from django.test import Client
from django.utils import timezone

from phb.accounts.models import UserSession
from tests.accounts.factories import UserFactory, security_events, staff_member, totp_code

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password-42"
SIGN_IN = "/accounts/sign-in/"


def post_password(client, email, password=PASSWORD, **extra):
    return client.post(SIGN_IN, {"email": email, "password": password, **extra})


@pytest.fixture
def patient():
    return UserFactory(email="patient@example.org", email_verified_at=timezone.now())


def test_wrong_password_and_unknown_email_get_the_same_answer(client, patient):
    wrong = post_password(client, patient.email, "not-the-password-1")
    unknown = post_password(client, "nobody@example.org")
    assert wrong.status_code == unknown.status_code == 400
    errors = [r.context["form"].non_field_errors() for r in (wrong, unknown)]
    assert errors[0] == errors[1] == ["The email or password is not correct."]
    assert security_events("sign_in.failure", outcome="failure").count() == 2


def test_a_patient_without_a_second_factor_signs_straight_in(client, patient):
    response = post_password(client, patient.email)
    assert response.status_code == 302
    assert client.get("/accounts/security/").status_code == 200
    assert UserSession.objects.filter(user=patient, revoked_at__isnull=True).count() == 1


def test_an_unverified_patient_is_asked_to_confirm_their_email(client):
    user = UserFactory(email_verified_at=None)
    response = post_password(client, user.email)
    assert response.status_code == 400
    assert b"Confirm your email address first" in response.content


def test_staff_without_a_second_factor_are_forced_to_enrol(client, org_a):
    user, _ = staff_member(org_a, "doctor", with_device=False)
    response = post_password(client, user.email)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/enrol/")
    # every other page sends them back to the second factor
    blocked = client.get("/accounts/security/")
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/accounts/mfa/")
    assert client.get("/api/v1/organizations/").json()["code"] == "MFA_REQUIRED"


def test_enrolment_confirms_an_authenticator_and_gives_ten_backup_codes(client, org_a, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp delays retries after a failure; not what this tests
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user, _ = staff_member(org_a, "nurse", with_device=False)
    post_password(client, user.email)
    page = client.get("/accounts/mfa/enrol/")
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post("/accounts/mfa/enrol/", {"code": "000000"})
    assert wrong.status_code == 400
    done = client.post("/accounts/mfa/enrol/", {"code": totp_code(device)})
    assert done.status_code == 200
    assert len(done.context["codes"]) == 10
    assert TOTPDevice.objects.get(user=user).confirmed
    assert client.get("/accounts/security/").status_code == 200
    assert security_events("mfa.enrol", user=user, outcome="success").exists()


def test_staff_with_a_device_pass_the_second_step(client, org_a, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user, device = staff_member(org_a, "doctor")
    first = post_password(client, user.email, next="/accounts/security/")
    assert first["Location"] == "/accounts/mfa/"
    assert client.get("/accounts/security/").status_code == 302  # not signed in yet
    assert client.post("/accounts/mfa/", {"code": "123456"}).status_code == 400
    second = client.post("/accounts/mfa/", {"code": totp_code(device)})
    assert second.status_code == 302
    assert second["Location"] == "/accounts/security/"
    assert client.get("/accounts/security/").status_code == 200


def test_a_totp_code_cannot_be_replayed(org_a):
    user, device = staff_member(org_a, "doctor")
    code = totp_code(device)
    first, second = Client(), Client()
    post_password(first, user.email)
    assert first.post("/accounts/mfa/", {"code": code}).status_code == 302
    post_password(second, user.email)
    replay = second.post("/accounts/mfa/", {"code": code})
    assert replay.status_code == 400
    assert b"already used" in replay.content


def test_a_backup_code_works_once(org_a):
    from phb.accounts import mfa

    user, _ = staff_member(org_a, "doctor")
    code = mfa.backup_codes_regenerate(user)[0]
    first, second = Client(), Client()
    post_password(first, user.email)
    assert first.post("/accounts/mfa/", {"code": code}).status_code == 302
    post_password(second, user.email)
    assert second.post("/accounts/mfa/", {"code": code}).status_code == 400


def test_brute_force_locks_the_account_for_that_address(client, patient, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_password(client, patient.email, "wrong-password-000")
    locked = post_password(client, patient.email)  # even the right password
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 30 * 60
    assert b"Too many attempts" in locked.content


@pytest.mark.parametrize("target", ["https://evil.example.com/", "//evil.example.com/x", "javascript:alert(1)"])
def test_an_open_redirect_after_sign_in_is_refused(client, patient, target):
    response = post_password(client, patient.email, next=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_same_site_next_is_followed(client, patient):
    assert post_password(client, patient.email, next="/accounts/security/")["Location"] == "/accounts/security/"


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/sign-in/",
        "/accounts/register/",
        "/accounts/mfa/",
        "/accounts/verify-email/",
        "/accounts/password-reset/",
        "/accounts/invitation/",
        "/accounts/sign-out/",
    ],
)
def test_every_form_requires_a_csrf_token(url):
    client = Client(enforce_csrf_checks=True)
    assert client.post(url, {"email": "a@example.org", "password": PASSWORD}).status_code == 403


def test_an_idle_staff_session_ends(client, org_a, settings):
    from tests.accounts.factories import verified_client

    user, _ = staff_member(org_a, "doctor")
    verified_client(user, client)
    assert client.get("/accounts/security/").status_code == 200
    session = client.session
    session["phb.last_activity"] = time.time() - settings.SESSION_IDLE_MINUTES_STAFF * 60 - 5
    session.save()
    response = client.get("/accounts/security/")
    assert response.status_code == 302
    assert "timeout=1" in response["Location"]
    assert security_events("session.idle_timeout", user=user).exists()


def test_a_patient_gets_longer_before_the_idle_timeout(client, patient, settings):
    post_password(client, patient.email)
    session = client.session
    session["phb.last_activity"] = (
        time.time() - settings.SESSION_IDLE_MINUTES_STAFF * 60 - 5
    )  # 15 min: fine for a patient
    session.save()
    assert client.get("/accounts/security/").status_code == 200


def test_an_organization_administrator_signs_in_with_the_hospital_code(client, org_a, org_b):
    user, device = staff_member(org_a, "hospital_admin")
    wrong_code = client.post(
        "/accounts/sign-in/organization/", {"email": user.email, "password": PASSWORD, "hospital_code": org_b.code}
    )
    assert wrong_code.status_code == 400
    ok = client.post(
        "/accounts/sign-in/organization/", {"email": user.email, "password": PASSWORD, "hospital_code": org_a.code}
    )
    assert ok["Location"] == "/accounts/mfa/"
    client.post("/accounts/mfa/", {"code": totp_code(device)})
    assert client.session["phb.active_organization_id"] == str(org_a.id)


def test_a_doctor_cannot_use_the_administrator_sign_in(client, org_a):
    user, _ = staff_member(org_a, "doctor")
    response = client.post(
        "/accounts/sign-in/organization/", {"email": user.email, "password": PASSWORD, "hospital_code": org_a.code}
    )
    assert response.status_code == 400
