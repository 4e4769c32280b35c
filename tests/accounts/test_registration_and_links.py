"""Patient self-registration with consents, single-use expiring links, invitations, passwords, break-the-glass."""

import re
import uuid

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from phb.accounts import services
from phb.accounts.models import BreakGlassAccess, User, UserConsent, UserSession
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.accounts.factories import UserFactory, security_events, staff_member, verified_client

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password-42"
CONSENTS = {"consent_terms": "on", "consent_data_processing": "on", "consent_privacy": "on"}


def register(client, email="amaka@example.org", **overrides):
    data = {
        "full_name": "Amaka Obi",
        "email": email,
        "password": "Lagoon-sunrise-2026",
        "phone": "+234 803 123 4567",
        **CONSENTS,
        **overrides,
    }
    with_callbacks = client.post("/accounts/register/", data)
    return with_callbacks


def link_in_last_mail(path):
    match = re.search(rf"https?://[^\s]+{re.escape(path)}\?token=([^\s]+)", mail.outbox[-1].body)
    return match.group(1)


def test_registration_stores_each_consent_with_version_and_time(client, django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(client)
    assert response.status_code == 200
    user = User.objects.get(email="amaka@example.org")
    consents = {c.kind: c for c in UserConsent.objects.filter(user=user)}
    assert set(consents) == {"terms", "data_processing", "privacy"}
    assert all(c.version == settings.CONSENT_VERSIONS[k] and c.given_at for k, c in consents.items())
    assert user.email_verified_at is None
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("missing", ["consent_terms", "consent_data_processing", "consent_privacy"])
def test_registration_without_a_consent_is_refused(client, missing):
    response = register(client, **{missing: ""})
    assert response.status_code == 400
    assert not User.objects.filter(email="amaka@example.org").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "short"),
        ("password", "123456789012345"),
        ("password", "password12345"),
        ("phone", "12345"),
        ("email", "not-an-email"),
    ],
)
def test_registration_refuses_bad_input(client, field, value):
    response = register(client, **{field: value})
    assert response.status_code == 400
    assert not User.objects.filter(full_name="Amaka Obi").exists()


def test_registering_a_taken_address_reveals_nothing(client):
    UserFactory(email="amaka@example.org")
    response = register(client)
    assert response.status_code == 200
    assert b"Check your email" in response.content


def test_a_verification_link_works_once(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        register(client)
    token = link_in_last_mail("/accounts/verify-email/")
    assert client.get(f"/accounts/verify-email/?token={token}").status_code == 200  # shows a button only
    assert User.objects.get(email="amaka@example.org").email_verified_at is None
    assert client.post("/accounts/verify-email/", {"token": token}).status_code == 302
    assert User.objects.get(email="amaka@example.org").email_verified_at is not None
    reused = client.post("/accounts/verify-email/", {"token": token})
    assert reused.status_code == 400
    assert reused.context["code"] == "LINK_INVALID"


def test_an_expired_verification_link_is_refused(client, django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        register(client)
    token = link_in_last_mail("/accounts/verify-email/")
    settings.EMAIL_VERIFICATION_MAX_AGE = -1
    response = client.post("/accounts/verify-email/", {"token": token})
    assert response.status_code == 400
    assert response.context["code"] == "LINK_EXPIRED"


def test_a_tampered_link_is_refused(client):
    assert client.post("/accounts/verify-email/", {"token": "abc:def:ghi"}).status_code == 400


def test_resend_answers_the_same_for_unknown_addresses(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        register(client)
        known = client.post("/accounts/verify-email/resend/", {"email": "amaka@example.org"})
        unknown = client.post("/accounts/verify-email/resend/", {"email": "ghost@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert len(mail.outbox) == 2  # registration + the resend; nothing for the unknown address


def test_a_staff_invitation_sets_a_password_once(org_a, django_capture_on_commit_callbacks):
    admin, _ = staff_member(org_a, "hospital_admin")
    client = verified_client(admin, Client())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/staff/", {"full_name": "Bisi Ade", "email": "bisi@example.org", "role": "pharmacist"}
        )
    assert response.status_code == 302
    invited = User.objects.get(email="bisi@example.org")
    assert not invited.has_usable_password()
    token = link_in_last_mail("/accounts/invitation/")
    anonymous = Client()
    assert anonymous.post("/accounts/invitation/", {"token": token, "password": "short"}).status_code == 400
    assert (
        anonymous.post("/accounts/invitation/", {"token": token, "password": "Pharmacy-shelf-2026"}).status_code == 302
    )
    invited.refresh_from_db()
    assert invited.check_password("Pharmacy-shelf-2026")
    assert anonymous.post("/accounts/invitation/", {"token": token, "password": "Another-one-2026x"}).status_code == 400


def test_changing_the_password_ends_the_other_sessions(org_a):
    user, _ = staff_member(org_a, "doctor")
    here, elsewhere = verified_client(user, Client()), verified_client(user, Client())
    for c in (here, elsewhere):
        assert c.get("/accounts/security/").status_code == 200
    response = here.post("/accounts/password/", {"current_password": PASSWORD, "new_password": "Brand-new-secret-2026"})
    assert response.status_code == 302
    assert here.get("/accounts/security/").status_code == 200
    assert elsewhere.get("/accounts/security/").status_code == 302  # signed out
    assert security_events("password.change", user=user).exists()


def test_a_password_reset_link_is_single_use_and_ends_all_sessions(org_a):
    user = UserFactory(email="reset@example.org", email_verified_at=timezone.now())
    other = Client()
    other.force_login(user)
    client = Client()
    assert client.post("/accounts/password-reset/", {"email": "reset@example.org"}).status_code == 302
    link = re.search(r"https?://[^/]+(/accounts/password-reset/[^\s]+)", mail.outbox[-1].body).group(1)
    form_url = client.get(link)["Location"]
    done = client.post(form_url, {"new_password1": "Reset-password-2026", "new_password2": "Reset-password-2026"})
    assert done.status_code == 302
    assert other.get("/accounts/security/").status_code == 302
    again = Client().get(link)
    assert again.status_code == 200
    assert not again.context["validlink"]


def test_password_reset_for_an_unknown_address_looks_the_same(client):
    assert client.post("/accounts/password-reset/", {"email": "ghost@example.org"}).status_code == 302
    assert mail.outbox == []


def test_the_sessions_page_lists_and_revokes_another_device(org_a):
    user, _ = staff_member(org_a, "doctor")
    here, elsewhere = verified_client(user, Client()), verified_client(user, Client())
    page = here.get("/accounts/security/")
    assert page.status_code == 200
    other = UserSession.objects.get(session_key=elsewhere.session.session_key)
    assert here.post(f"/accounts/sessions/{other.id}/revoke/").status_code == 302
    assert elsewhere.get("/accounts/security/").status_code == 302


# --- break-the-glass --------------------------------------------------------------------------------


@pytest.fixture
def clinician_ctx(org_a):
    doctor, _ = staff_member(org_a, "doctor")
    officer, _ = staff_member(org_a, "privacy_officer", email="privacy@example.org")
    return Ctx(actor_id=doctor.id, organization_id=org_a.id, permissions=frozenset({"clinical.record.view"})), officer


def test_break_glass_is_time_limited_notifies_privacy_and_waits_for_review(
    clinician_ctx, django_capture_on_commit_callbacks, settings
):
    ctx, _officer = clinician_ctx
    patient_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        access = services.break_glass_start(
            ctx=ctx, patient_id=patient_id, reason="Unconscious patient in A&E, no relatives"
        )
    hours = (access.expires_at - timezone.now()).total_seconds() / 3600
    assert settings.BREAK_GLASS_HOURS - 0.01 < hours <= settings.BREAK_GLASS_HOURS
    assert access.review_status == "pending"
    assert [m.to for m in mail.outbox] == [["privacy@example.org"]]
    assert "Unconscious" not in mail.outbox[0].body  # the reason stays in PHB
    assert services.break_glass_active(ctx=ctx, patient_id=patient_id) == access
    assert security_events("break_glass.start", user_id=ctx.actor_id).exists()


def test_break_glass_needs_a_reason(clinician_ctx):
    ctx, _ = clinician_ctx
    with pytest.raises(ValidationFailed):
        services.break_glass_start(ctx=ctx, patient_id=uuid.uuid4(), reason="  ")
    assert not BreakGlassAccess.objects.for_tenant(ctx).exists()


def test_the_privacy_officer_reviews_once_and_not_their_own(clinician_ctx, org_a, org_b):
    ctx, officer = clinician_ctx
    access = services.break_glass_start(ctx=ctx, patient_id=uuid.uuid4(), reason="Unconscious patient in A&E")
    officer_ctx = Ctx(
        actor_id=officer.id, organization_id=org_a.id, permissions=frozenset({"accounts.break_glass.review"})
    )
    with pytest.raises(Forbidden):
        services.break_glass_review(ctx=ctx, access_id=access.id, justified=True)
    with pytest.raises(NotFound):
        services.break_glass_review(ctx=officer_ctx.for_organization(org_b.id), access_id=access.id, justified=True)
    reviewed = services.break_glass_review(
        ctx=officer_ctx, access_id=access.id, justified=False, note="No emergency recorded"
    )
    assert reviewed.review_status == "not_justified"
    assert reviewed.reviewed_by_id == officer.id
    with pytest.raises(Conflict):
        services.break_glass_review(ctx=officer_ctx, access_id=access.id, justified=True)


def test_the_review_page_is_for_privacy_officers(org_a, clinician_ctx):
    ctx, officer = clinician_ctx
    services.break_glass_start(ctx=ctx, patient_id=uuid.uuid4(), reason="Unconscious patient in A&E")
    assert b"Unconscious patient" in verified_client(officer, Client()).get("/accounts/break-glass/reviews/").content
    doctor = User.objects.get(id=ctx.actor_id)
    assert verified_client(doctor, Client()).get("/accounts/break-glass/reviews/").status_code == 403
