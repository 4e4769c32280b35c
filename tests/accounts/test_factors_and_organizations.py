"""Email codes for patients only, the step-up decorator, choosing one's organization, API lockout, Argon2."""

import os
import re
import subprocess
import sys

import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from rest_framework.test import APIClient

from phb.accounts.step_up import med_access_required
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


@med_access_required
def chart(request):
    return HttpResponse("the chart")


urlpatterns = [path("chart/", chart), path("", include("phb.config.urls"))]


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def test_a_patient_may_use_an_emailed_code(client, django_capture_on_commit_callbacks):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    patient = UserFactory(email_verified_at=timezone.now())
    TOTPDevice.objects.create(user=patient, name="phone", confirmed=True)
    client.post("/accounts/sign-in/", {"email": patient.email, "password": PASSWORD})
    client.post("/accounts/mfa/", {"send_email": "1"})
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert client.post("/accounts/mfa/", {"code": code}).status_code == 302
    assert client.get("/accounts/security/").status_code == 200


def test_staff_cannot_fall_back_to_emailed_codes(client, org_a):
    from django_otp.plugins.otp_email.models import EmailDevice

    user, _ = staff_member(org_a, "doctor")
    client.post("/accounts/sign-in/", {"email": user.email, "password": PASSWORD})
    client.post("/accounts/mfa/", {"send_email": "1"})
    assert mail.outbox == []
    device = EmailDevice.objects.create(user=user, email=user.email, confirmed=True)
    device.generate_challenge()
    assert client.post("/accounts/mfa/", {"code": device.token}).status_code == 400


@pytest.mark.urls(__name__)
def test_a_record_page_asks_for_a_fresh_code_and_returns(org_a, settings):
    user, device = staff_member(org_a, "doctor")
    client = verified_client(user, Client())
    first = client.get("/chart/")
    assert first.status_code == 302
    assert first["Location"].startswith("/accounts/step-up/?next=%2Fchart%2F&reason=MED_ACCESS_REQUIRED")
    back = client.post("/accounts/step-up/?next=/chart/", {"code": totp_code(device, steps_ahead=1), "next": "/chart/"})
    assert back["Location"] == "/chart/"
    assert client.get("/chart/").content == b"the chart"
    session = client.session
    session["phb.med_access_until"] = (timezone.now() - timezone.timedelta(seconds=1)).isoformat()
    session.save()
    expired = client.get("/chart/")
    assert "reason=MED_ACCESS_EXPIRED" in expired["Location"]


def test_a_user_of_two_organizations_picks_the_active_one(org_a, org_b):
    user, _ = staff_member(org_a, "doctor")
    MembershipFactory(user=user, organization=org_b, roles=["nurse"])
    client = verified_client(user, Client())
    assert client.get("/api/v1/auth/me/").json()["organization"] is None  # two memberships: none chosen yet
    page = client.get("/accounts/organization/")
    assert b"Hospital A" in page.content
    assert b"Hospital B" in page.content
    assert client.post("/accounts/organization/", {"organization": str(org_b.id)}).status_code == 302
    me = client.get("/api/v1/auth/me/").json()
    assert (me["organization"], me["roles"]) == (str(org_b.id), ["nurse"])
    stranger = UserFactory()
    assert client.post("/accounts/organization/", {"organization": str(stranger.id)}).status_code == 404


def test_an_api_token_acts_for_the_organization_asked_for(org_a, org_b):
    user, device = staff_member(org_a, "doctor")
    MembershipFactory(user=user, organization=org_b, roles=["nurse"])
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD, "otp_code": totp_code(device), "organization": str(org_b.id)},
        format="json",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert client.get("/api/v1/auth/me/").json()["roles"] == ["nurse"]


def test_an_api_token_for_a_foreign_organization_is_refused(org_a, org_b):
    user, device = staff_member(org_a, "doctor")
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"email": user.email, "password": PASSWORD, "otp_code": totp_code(device), "organization": str(org_b.id)},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "NOT_A_MEMBER"


def test_api_brute_force_is_locked_out_with_retry_after(settings):
    user = UserFactory(email_verified_at=timezone.now())
    for _ in range(settings.AXES_FAILURE_LIMIT):
        APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": "wrong-password-0"}, format="json")
    locked = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert locked.status_code == 429
    assert locked.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(locked["Retry-After"]) > 0
    assert security_events("sign_in.lockout").exists()


def test_passwords_are_hashed_with_argon2_outside_the_test_suite(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'phb.config.settings'; django.setup();"
        "from django.contrib.auth.hashers import make_password; print(make_password('x' * 20))"
    )
    env = {**os.environ, "PHB_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("argon2$argon2id$"), result.stderr


@pytest.mark.urls(__name__)
def test_a_patient_without_an_authenticator_steps_up_with_an_emailed_code(client):
    patient = UserFactory(email_verified_at=timezone.now())
    client.post("/accounts/sign-in/", {"email": patient.email, "password": PASSWORD})
    first = client.get("/chart/")
    assert first["Location"].startswith("/accounts/step-up/")
    assert client.get(first["Location"]).status_code == 200
    client.post(first["Location"], {"send_email": "1"})
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert client.post("/accounts/step-up/?next=/chart/", {"code": code, "next": "/chart/"})["Location"] == "/chart/"
    assert client.get("/chart/").content == b"the chart"
