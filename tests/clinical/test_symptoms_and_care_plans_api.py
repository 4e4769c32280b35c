"""The API of symptom reports and care plans: happy paths, the step-up window on both sides, the
missing role (403), a department head's approval (403 DEPARTMENT_HEAD_REQUIRED otherwise), another
organization's or an unrelated patient's record (404), another patient's report (404), bad input (400
problem details), a read-only plan (409), and the schema documenting every route."""

import datetime as dt
import io
import uuid

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from phb.accounts.step_up import SESSION_KEY
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.clinical.care_factories import GOALS, png, portal_patient, report
from tests.clinical.factories import walk_in
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


def _window(client):
    session = client.session
    session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
    session.save()
    return client


def staff_client(organization, *roles, department=None, med_access=True):
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, roles=list(roles), department=department)
    client = verified_client(user)
    return _window(client) if med_access else client


def patient_client(patient, med_access=True):
    from phb.accounts.models import User

    client = verified_client(User.objects.get(id=patient.user_id))
    return _window(client) if med_access else client


@pytest.fixture
def clinic(org_a):
    from phb.accounts.roles import permissions_for
    from phb.kernel.context import Ctx

    department = DepartmentFactory(organization=org_a)
    patient, me = portal_patient(org_a)
    doctor = staff_client(org_a, "doctor", department=department)
    doctor_ctx = Ctx(
        actor_id=doctor.user.id,
        organization_id=org_a.id,
        roles=frozenset({"doctor"}),
        permissions=permissions_for(["doctor"]),
    )
    walk_in(doctor_ctx, patient, department)
    return {
        "department": department,
        "patient": patient,
        "me": me,
        "portal": patient_client(patient),
        "doctor": doctor,
        "head": staff_client(org_a, "department_head", department=department),
    }


REPORT = {"symptom_code": "R05.9", "severity": 6, "onset_days_ago": 3, "triggers": ["cold air"]}


# --- symptoms -------------------------------------------------------------------------------------------


def test_a_patient_reports_adds_a_photo_and_reads_back_and_the_care_team_sees_it(org_a, clinic):
    portal = clinic["portal"]
    created = portal.post("/api/v1/me/symptom-reports/", {**REPORT, "organization_id": str(org_a.id)}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["symptom_name"] == "Cough"
    assert body["triggers"] == ["cold air"]
    assert body["has_photo"] is False
    photo_url = f"/api/v1/me/symptom-reports/{body['id']}/photo/"
    assert portal.get(photo_url).status_code == 404
    upload = portal.put(
        photo_url, data=png(), content_type="image/png", HTTP_CONTENT_DISPOSITION="attachment; filename=rash.png"
    )
    assert upload.status_code == 204
    assert portal.get(photo_url)["Content-Type"] == "image/jpeg"
    assert portal.get(f"/api/v1/me/symptom-reports/{body['id']}/").json()["has_photo"] is True
    assert [r["id"] for r in portal.get("/api/v1/me/symptom-reports/").json()] == [body["id"]]
    trends = portal.get("/api/v1/me/symptom-trends/").json()
    assert trends[0]["label"] == "Cough"
    assert trends[0]["points"][0]["severity"] == 6
    doctor = clinic["doctor"]
    listed = doctor.get(f"/api/v1/patients/{clinic['patient'].id}/symptom-reports/").json()
    assert [r["id"] for r in listed] == [body["id"]]
    assert doctor.get(f"/api/v1/symptom-reports/{body['id']}/").json()["severity"] == 6
    assert doctor.get(f"/api/v1/symptom-reports/{body['id']}/photo/")["Cache-Control"] == "no-store"
    assert doctor.get(f"/api/v1/patients/{clinic['patient'].id}/symptom-trends/", {"days": 30}).status_code == 200
    assert len(portal.get("/api/v1/symptom-codes/").json()) >= 30


def test_bad_symptom_input_is_a_problem_never_a_500(org_a, clinic):
    portal = clinic["portal"]
    for payload, field in [
        ({**REPORT, "severity": 11}, "severity"),
        ({**REPORT, "severity": "bad"}, "severity"),
        (
            {**REPORT, "onset_days_ago": None, "onset_at": (timezone.now() + dt.timedelta(days=1)).isoformat()},
            "onset_at",
        ),
        ({**REPORT, "onset_days_ago": None}, "onset"),
        ({**REPORT, "symptom_code": "", "symptom_text": ""}, "symptom"),
        ({**REPORT, "symptom_text": "x" * 501}, "symptom_text"),
        ({**REPORT, "triggers": "cold"}, "triggers"),
        ({**REPORT, "body_location": "elbow"}, "body_location"),
        ({**REPORT, "organization_id": "not-a-uuid"}, "organization_id"),
        ({**REPORT, "organization_id": str(uuid.uuid4())}, "organization_id"),
    ]:
        payload.setdefault("organization_id", str(org_a.id))
        response = portal.post("/api/v1/me/symptom-reports/", payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}, (field, response.json())
    assert portal.get("/api/v1/me/symptom-reports/").json() == []
    assert portal.get("/api/v1/me/symptom-reports/", {"limit": "x"}).status_code == 400
    assert portal.get("/api/v1/me/symptom-reports/", {"limit": 0}).status_code == 400
    created = report(clinic["me"], org_a)
    bad_photo = portal.put(
        f"/api/v1/me/symptom-reports/{created.id}/photo/",
        data=b"not an image",
        content_type="image/png",
        HTTP_CONTENT_DISPOSITION="attachment; filename=x.png",
    )
    assert bad_photo.status_code == 400


def test_a_patient_cannot_see_or_write_anothers_reports(org_a, clinic):
    created = report(clinic["me"], org_a, photo=png())
    other, _ = portal_patient(org_a)
    stranger = patient_client(other)
    for path in (
        f"/api/v1/me/symptom-reports/{created.id}/",
        f"/api/v1/me/symptom-reports/{created.id}/photo/",
        "/api/v1/me/symptom-reports/not-an-id/",
    ):
        assert stranger.get(path).status_code == 404, path
    attach = stranger.put(
        f"/api/v1/me/symptom-reports/{created.id}/photo/",
        data=png(),
        content_type="image/png",
        HTTP_CONTENT_DISPOSITION="attachment; filename=x.png",
    )
    assert attach.status_code == 404
    assert stranger.get("/api/v1/me/symptom-reports/").json() == []
    # A staff endpoint is not a way around it.
    assert stranger.get(f"/api/v1/symptom-reports/{created.id}/").status_code == 403


def test_the_record_needs_the_step_up_window_on_both_sides(org_a, clinic):
    created = report(clinic["me"], org_a)
    portal = patient_client(clinic["patient"], med_access=False)
    for response in (
        portal.get("/api/v1/me/symptom-reports/"),
        portal.post("/api/v1/me/symptom-reports/", {**REPORT, "organization_id": str(org_a.id)}, format="json"),
        portal.get("/api/v1/me/care-plans/"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "MED_ACCESS_REQUIRED"
    doctor = staff_client(org_a, "doctor", department=clinic["department"], med_access=False)
    assert doctor.get(f"/api/v1/symptom-reports/{created.id}/").json()["code"] == "MED_ACCESS_REQUIRED"


def test_staff_without_a_relationship_or_of_another_organization_find_nothing(org_a, org_b, clinic):
    created = report(clinic["me"], org_a)
    stranger = staff_client(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    foreign = staff_client(org_b, "doctor")
    for client in (stranger, foreign):
        for path in (
            f"/api/v1/patients/{clinic['patient'].id}/symptom-reports/",
            f"/api/v1/patients/{clinic['patient'].id}/symptom-trends/",
            f"/api/v1/symptom-reports/{created.id}/",
            f"/api/v1/symptom-reports/{created.id}/photo/",
            f"/api/v1/patients/{clinic['patient'].id}/care-plans/",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["code"] == "NOT_FOUND"
    desk = staff_client(org_a, "receptionist")
    assert desk.get(f"/api/v1/patients/{clinic['patient'].id}/symptom-reports/").status_code == 403


# --- care plans -----------------------------------------------------------------------------------------


def _template(client, **fields):
    response = client.post(
        "/api/v1/care-plan-templates/",
        {"name": "Blood pressure", "goals": GOALS, "activities": [{"kind": "monitoring", "description": "Home BP"}]}
        | fields,
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_template_is_approved_by_the_department_head_then_makes_a_plan(org_a, clinic):
    doctor, chief = clinic["doctor"], clinic["head"]
    template = _template(doctor)
    url = f"/api/v1/care-plan-templates/{template['id']}/"
    assert doctor.patch(url, {"name": "Hypertension"}, format="json").json()["name"] == "Hypertension"
    patient_id = clinic["patient"].id
    early = doctor.post(f"/api/v1/patients/{patient_id}/care-plans/", {"template_id": template["id"]}, format="json")
    assert early.status_code == 409
    assert early.json()["code"] == "TEMPLATE_NOT_APPROVED"
    assert doctor.post(url + "submit/").json()["status"] == "pending_approval"
    refused = doctor.post(url + "approve/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "DEPARTMENT_HEAD_REQUIRED"
    assert chief.post(url + "return/", {}, format="json").status_code == 400
    assert chief.post(url + "approve/").json()["status"] == "approved"
    assert doctor.patch(url, {"name": "x"}, format="json").json()["code"] == "TEMPLATE_NOT_DRAFT"
    approved = doctor.get("/api/v1/care-plan-templates/", {"status": "approved"}).json()
    assert [t["id"] for t in approved] == [template["id"]]
    made = doctor.post(
        f"/api/v1/patients/{patient_id}/care-plans/",
        {"template_id": template["id"], "period_start": "2026-03-01", "activate": True},
        format="json",
    )
    assert made.status_code == 201, made.json()
    plan = made.json()
    assert plan["status"] == "active"
    assert plan["title"] == "Hypertension"
    assert plan["goals"][0]["due_on"] == "2026-05-30"
    assert plan["team"][0]["role"] == "lead"
    assert chief.post(url + "retire/").json()["status"] == "retired"
    assert doctor.post(url + "retire/").status_code == 403


def test_a_plan_through_its_life_with_progress_activities_and_team(org_a, clinic):
    doctor = clinic["doctor"]
    patient_id = clinic["patient"].id
    nurse_user = UserFactory()
    MembershipFactory(user=nurse_user, organization=org_a, roles=["nurse"], department=clinic["department"])
    plan = doctor.post(
        f"/api/v1/patients/{patient_id}/care-plans/",
        {"title": "Recovery", "goals": [{"description": "Walk unaided", "target": "100 m"}]},
        format="json",
    ).json()
    base = f"/api/v1/care-plans/{plan['id']}/"
    assert doctor.patch(base, {"description": "after knee surgery"}, format="json").status_code == 200
    assert doctor.post(base + "status/", {"status": "active"}, format="json").json()["status"] == "active"
    goal_id = plan["goals"][0]["id"]
    for status_ in ("improving", "achieved"):
        progress = doctor.post(
            f"/api/v1/care-plan-goals/{goal_id}/progress/", {"achievement_status": status_}, format="json"
        )
        assert progress.status_code == 201
    read = doctor.get(base).json()
    assert [p["achievement_status"] for p in read["goals"][0]["progress"]] == ["improving", "achieved"]
    assert read["goals"][0]["achievement_status"] == "achieved"
    activity = doctor.post(
        base + "activities/", {"kind": "education", "description": "Wound care"}, format="json"
    ).json()
    moved = doctor.post(
        f"/api/v1/care-plan-activities/{activity['id']}/status/", {"status": "completed"}, format="json"
    )
    assert moved.json()["status"] == "completed"
    team = doctor.post(base + "team/", {"user_id": str(nurse_user.id), "role": "nurse"}, format="json")
    assert team.status_code == 201
    member = next(m for m in team.json()["team"] if m["role"] == "nurse")
    assert doctor.delete(f"{base}team/{member['id']}/").status_code == 204
    lead = read["team"][0]
    assert doctor.delete(f"{base}team/{lead['id']}/").json()["code"] == "LEAD_REQUIRED"
    assert doctor.post(base + "goals/", {"description": "Climb stairs"}, format="json").status_code == 201
    assert doctor.post(base + "status/", {"status": "completed"}, format="json").json()["status"] == "completed"
    for response in (
        doctor.patch(base, {"title": "Changed"}, format="json"),
        doctor.post(base + "goals/", {"description": "More"}, format="json"),
        doctor.post(f"/api/v1/care-plan-goals/{goal_id}/progress/", {"achievement_status": "achieved"}, format="json"),
        doctor.post(base + "status/", {"status": "active"}, format="json"),
    ):
        assert response.status_code == 409
        assert response.json()["code"] == "CARE_PLAN_CLOSED"
    assert (
        doctor.get(f"/api/v1/patients/{patient_id}/care-plans/", {"status": "completed"}).json()[0]["id"] == plan["id"]
    )
    assert doctor.get(f"/api/v1/patients/{patient_id}/care-plans/", {"status": "lost"}).status_code == 400


def test_bad_care_plan_input_is_a_problem_never_a_500(org_a, clinic):
    doctor = clinic["doctor"]
    patient_id = clinic["patient"].id
    url = f"/api/v1/patients/{patient_id}/care-plans/"
    for payload in (
        {"title": ""},
        {"title": "x", "period_start": "2026-05-01", "period_end": "2026-04-01"},
        {"title": "x", "goals": [{"description": "x", "due_on": "not a date"}]},
        {"title": "x", "goals": "be well"},
        {"title": "x", "team": [{"user_id": str(uuid.uuid4()), "role": "nurse"}]},
        {"title": "x", "activities": [{"kind": "magic", "description": "x"}]},
        {"title": "x", "template_id": str(uuid.uuid4())},
        {"title": "x", "activate": True},
    ):
        response = doctor.post(url, payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert doctor.get(url).json() == []
    assert doctor.post("/api/v1/care-plan-templates/", {"name": ""}, format="json").status_code == 400
    assert doctor.post("/api/v1/care-plans/not-an-id/status/", {"status": "active"}, format="json").status_code == 404
    assert doctor.post(f"/api/v1/care-plans/{uuid.uuid4()}/status/", {"status": "x"}, format="json").status_code == 400


def test_a_patient_reads_their_active_plans_only(org_a, clinic):
    doctor = clinic["doctor"]
    patient_id = clinic["patient"].id
    for title, activate in (("Walking again", True), ("Draft", False)):
        doctor.post(
            f"/api/v1/patients/{patient_id}/care-plans/",
            {"title": title, "goals": [{"description": "x"}], "activate": activate},
            format="json",
        )
    mine = clinic["portal"].get("/api/v1/me/care-plans/").json()
    assert [p["title"] for p in mine] == ["Walking again"]
    other, _ = portal_patient(org_a)
    assert patient_client(other).get("/api/v1/me/care-plans/").json() == []


def test_the_schema_documents_the_new_routes():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]
    for path in (
        "/api/v1/me/symptom-reports/",
        "/api/v1/me/symptom-reports/{report_id}/photo/",
        "/api/v1/me/symptom-trends/",
        "/api/v1/patients/{patient_id}/symptom-reports/",
        "/api/v1/symptom-reports/{report_id}/photo/",
        "/api/v1/care-plan-templates/{template_id}/approve/",
        "/api/v1/patients/{patient_id}/care-plans/",
        "/api/v1/care-plan-goals/{goal_id}/progress/",
        "/api/v1/me/care-plans/",
    ):
        assert path in paths, path
