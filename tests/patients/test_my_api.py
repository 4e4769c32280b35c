"""A patient's own consents and access log through the API."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.patients import services
from phb.patients.models import Patient
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def me():
    user = UserFactory()
    patient = services.patient_create(
        ctx=Ctx.system(reason="t"),
        given_name="Olumide",
        family_name="Bakare",
        birth_date=dt.date(1970, 1, 1),
        user=user,
    )
    client = APIClient()
    client.force_login(user)
    return client, patient


def test_a_patient_gives_lists_and_withdraws_consents(me, org_b):
    client, _ = me
    created = client.post(
        "/api/v1/me/consents/",
        {"kind": "sharing", "version": "2026-01", "to_organization_id": str(org_b.id), "categories": ["medications"]},
        format="json",
    )
    assert created.status_code == 201
    assert [c["kind"] for c in client.get("/api/v1/me/consents/").json()] == ["sharing"]
    withdrawn = client.post(f"/api/v1/me/consents/{created.json()['id']}/withdraw/")
    assert withdrawn.json()["withdrawn_at"] is not None
    assert client.post(f"/api/v1/me/consents/{created.json()['id']}/withdraw/").status_code == 409


def test_bad_consent_input(me):
    client, _ = me
    response = client.post(
        "/api/v1/me/consents/", {"kind": "sharing", "version": "1", "categories": ["dreams"]}, format="json"
    )
    assert response.status_code == 400
    assert client.post("/api/v1/me/consents/not-an-id/withdraw/").status_code == 404


def test_a_patient_sees_who_accessed_their_record(me, org_a):
    client, patient = me
    audit.record(
        Ctx(actor_id=uuid.uuid4(), organization_id=org_a.id, roles=frozenset({"doctor"})),
        "clinical.chart.read",
        patient_id=patient.id,
    )
    audit.record(
        Ctx(actor_id=uuid.uuid4(), organization_id=org_a.id, purpose_of_use="ETREAT"),
        "clinical.chart.read",
        patient_id=patient.id,
        reason="unconscious",
    )
    audit.record(Ctx(actor_id=uuid.uuid4(), organization_id=org_a.id), "clinical.chart.read", patient_id=uuid.uuid4())
    body = client.get("/api/v1/me/access-log/").json()
    assert body["count"] == 3  # the two readings, and the record's creation
    reads = [r for r in body["results"] if r["action"] == "clinical.chart.read"]
    assert sorted(r["emergency"] for r in reads) == [False, True]
    assert all(r["organization_id"] == str(org_a.id) for r in reads)


def test_an_account_without_a_patient_record_gets_404():
    client = APIClient()
    client.force_login(UserFactory())
    assert client.get("/api/v1/me/access-log/").status_code == 404
    assert APIClient().get("/api/v1/me/consents/").status_code == 401


def test_the_portal_pages_show_consents_and_the_access_log(me, org_a):
    _client, patient = me
    from django.test import Client

    web = Client()
    web.force_login(patient.user)
    assert web.get("/patient/")["Location"] == "/patient/onboarding/"  # the first visit asks a few questions
    Patient.objects.filter(id=patient.id).update(onboarded_at=timezone.now())
    home = web.get("/patient/")
    assert home.status_code == 200
    assert patient.hpn[:4].encode() in home.content
    assert web.post("/patient/consents/", {"kind": "research"}).status_code == 302
    page = web.get("/patient/consents/")
    assert b"Research use" in page.content
    consent_id = page.context["consents"][0].id
    assert web.post(f"/patient/consents/{consent_id}/withdraw/").status_code == 302
    assert b"Withdrawn" in web.get("/patient/consents/").content
    audit.record(
        Ctx(actor_id=uuid.uuid4(), organization_id=org_a.id, roles=frozenset({"nurse"})),
        "clinical.vitals.read",
        patient_id=patient.id,
    )
    log = web.get("/patient/access-log/")
    assert b"clinical.vitals.read" in log.content
    assert b"nurse" in log.content


def test_the_portal_pages_need_a_patient_record():
    from django.test import Client

    web = Client()
    assert web.get("/patient/").status_code == 200  # the public entry page
    assert web.get("/patient/consents/").status_code == 302  # sign in first
    web.force_login(UserFactory())
    assert web.get("/patient/consents/").status_code == 404
    assert web.get("/patient/access-log/").status_code == 404
