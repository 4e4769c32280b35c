"""The patient's medical record in the portal: behind the step-up window, their own encounters, vital
signs, diagnoses and signed notes only (never a draft, never another patient's), the read audited."""

import datetime as dt

import pytest
from django.utils import timezone

from phb.accounts.step_up import SESSION_KEY
from phb.clinical import diagnoses, services
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.accounts.factories import UserFactory, verified_client
from tests.clinical.factories import clinician, record, walk_in
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db


def patient_with_account(organization, **names):
    user = UserFactory(email_verified_at=timezone.now())
    patient = make_patient(user=user, **names)
    patient.onboarded_at = timezone.now()
    patient.save(update_fields=["onboarded_at"])
    register_at_desk(desk_ctx(organization), patient)
    return user, patient


def open_window(client):
    session = client.session
    session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
    session.save()
    return client


@pytest.fixture
def seen(org_a):
    ensure_code_systems()
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    user, patient = patient_with_account(org_a, given_name="Ngozi")
    other_user, other = patient_with_account(org_a, given_name="Tunde")
    for who in (patient, other):
        encounter = walk_in(doctor, who, department)
        record(doctor, who, encounter=encounter)
        diagnoses.diagnosis_add(
            ctx=doctor, patient_id=who.id, system="icd10-cm", code="J02.9", encounter_id=encounter.id
        )
        signed = services.note_create(
            ctx=doctor, patient_id=who.id, encounter_id=encounter.id, assessment=f"signed for {who.given_name}"
        )
        services.note_sign(ctx=doctor, note_id=signed.id)
        services.note_create(ctx=doctor, patient_id=who.id, encounter_id=encounter.id, assessment="DRAFT-TEXT")
    return {"user": user, "patient": patient, "other_user": other_user}


def test_the_record_needs_the_step_up_window(seen):
    client = verified_client(seen["user"])
    response = client.get("/patient/record/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/step-up/")


def test_the_patient_sees_their_own_record_signed_notes_only(seen):
    client = open_window(verified_client(seen["user"]))
    response = client.get("/patient/record/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "signed for Ngozi" in html
    assert "signed for Tunde" not in html
    assert "DRAFT-TEXT" not in html
    assert "J02.9" in html
    assert html.count('data-testid="my-note"') == 1
    event = AuditEvent.objects.for_system(Ctx.system(reason="test")).get(action="clinical.record.read_own")
    assert event.patient_id == seen["patient"].id


def test_an_account_without_a_patient_record_is_not_found(db):
    client = open_window(verified_client(UserFactory()))
    assert client.get("/patient/record/").status_code == 404


def test_sign_in_is_needed(client):
    assert client.get("/patient/record/").status_code == 302
