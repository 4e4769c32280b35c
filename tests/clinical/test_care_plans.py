"""Care plans: templates as data with a department head's approval; plans from an approved template or
from scratch with goals (progress appended), activities and a care team; the status machine and the
read-only completed plan; the care team as a care relationship; access, bad input, the patient's
view and the chart's summary."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from phb.clinical import care_plans, policies
from phb.clinical.models import CarePlan, CarePlanTemplate, GoalProgress, TemplateStatus
from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent, OutboxEvent
from phb.organizations import services as organization_services
from tests.clinical.care_factories import ACTIVITIES, GOALS, active_plan, approved_template, head, portal_patient
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture
def ward(org_a):
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    walk_in(doctor, patient, department)
    return {
        "department": department,
        "doctor": doctor,
        "nurse": clinician(org_a, "nurse", department=department),
        "head": head(org_a, department=department),
        "patient": patient,
    }


def _plan(plan_id):
    return CarePlan.objects.for_system(SYSTEM).get(id=plan_id)


# --- templates ----------------------------------------------------------------------------------------


def test_a_new_organization_gets_the_defaults_pending_approval():
    organization = organization_services.organization_create(
        ctx=SYSTEM, name="Plans Hospital", kind="hospital", code="plans-hospital"
    )
    events.dispatch_due()
    ctx = Ctx.system(reason="test", organization_id=organization.id)
    seeded = CarePlanTemplate.objects.for_tenant(ctx)
    assert set(seeded.values_list("code", flat=True)) == {
        "hypertension",
        "type-2-diabetes",
        "antenatal-care",
        "post-operative-recovery",
    }
    assert set(seeded.values_list("status", flat=True)) == {TemplateStatus.PENDING_APPROVAL}
    assert all(t.goals and t.activities and "lead" in t.team_roles for t in seeded)
    assert care_plans.care_plan_templates_seed(ctx=ctx) == 0  # idempotent


def test_the_shipped_defaults_are_valid_templates():
    for template in care_plans.default_care_plan_templates():
        errors = care_plans._Errors()
        care_plans._template_goals(errors, template["goals"])
        care_plans._activities(errors, template["activities"])
        care_plans._team_roles(errors, template["team_roles"])
        assert errors.items == [], template["code"]


def test_a_template_goes_from_draft_to_approval_by_the_department_head(org_a, ward):
    doctor, chief = ward["doctor"], ward["head"]
    template = care_plans.care_plan_template_create(ctx=doctor, name="Asthma", department_id=ward["department"].id)
    assert template.status == TemplateStatus.DRAFT
    with pytest.raises(ValidationFailed) as empty:
        care_plans.care_plan_template_submit(ctx=doctor, template_id=template.id)
    assert empty.value.extra["errors"][0]["code"] == "no_goals"
    care_plans.care_plan_template_update(ctx=doctor, template_id=template.id, goals=GOALS, activities=ACTIVITIES)
    care_plans.care_plan_template_submit(ctx=doctor, template_id=template.id)
    with pytest.raises(Forbidden) as not_a_head:
        care_plans.care_plan_template_approve(ctx=doctor, template_id=template.id)
    assert not_a_head.value.code == "DEPARTMENT_HEAD_REQUIRED"
    other_head = head(org_a, department=DepartmentFactory(organization=org_a))
    with pytest.raises(Forbidden):
        care_plans.care_plan_template_approve(ctx=other_head, template_id=template.id)
    with pytest.raises(Conflict) as pending:
        care_plans.care_plan_template_update(ctx=doctor, template_id=template.id, name="Asthma 2")
    assert pending.value.code == "TEMPLATE_NOT_DRAFT"
    approved = care_plans.care_plan_template_approve(ctx=chief, template_id=template.id)
    assert approved.status == TemplateStatus.APPROVED
    assert approved.approved_by_id == chief.actor_id
    assert approved.submitted_by_id == doctor.actor_id
    with pytest.raises(Conflict) as again:
        care_plans.care_plan_template_approve(ctx=chief, template_id=template.id)
    assert again.value.code == "ILLEGAL_TRANSITION"
    retired = care_plans.care_plan_template_retire(ctx=chief, template_id=template.id)
    assert retired.status == TemplateStatus.RETIRED
    assert retired.retired_at is not None
    refused = AuditEvent.objects.for_system(SYSTEM).filter(
        action="clinical.care_plan_template.approve", outcome="denied"
    )
    assert refused.count() == 2


def test_a_head_with_no_department_approves_any_template_and_returns_one_with_a_reason(org_a, ward):
    chief = head(org_a)
    template = care_plans.care_plan_template_create(
        ctx=ward["doctor"], name="Asthma", department_id=ward["department"].id, goals=GOALS
    )
    care_plans.care_plan_template_submit(ctx=ward["doctor"], template_id=template.id)
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_template_return(ctx=chief, template_id=template.id, reason=" ")
    returned = care_plans.care_plan_template_return(ctx=chief, template_id=template.id, reason="add a peak flow goal")
    assert (returned.status, returned.review_note) == (TemplateStatus.DRAFT, "add a peak flow goal")
    care_plans.care_plan_template_submit(ctx=ward["doctor"], template_id=template.id)
    assert care_plans.care_plan_template_approve(ctx=chief, template_id=template.id).status == "approved"


def test_a_seeded_default_is_approved_by_any_department_head(org_a, ward):
    care_plans.care_plan_templates_seed(ctx=Ctx.system(reason="test", organization_id=org_a.id))
    default = CarePlanTemplate.objects.for_tenant(ward["doctor"]).get(code="hypertension")
    assert care_plans.care_plan_template_approve(ctx=ward["head"], template_id=default.id).status == "approved"


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 121}, "name", "too_long"),
        ({"goals": "be well"}, "goals", "not_a_list"),
        ({"goals": [{"description": ""}]}, "goals[0].description", "required"),
        ({"goals": [{"description": "x", "due_in_days": -1}]}, "goals[0].due_in_days", "out_of_range"),
        ({"goals": [{"description": "x", "colour": "red"}]}, "goals[0].colour", "unknown_field"),
        ({"activities": [{"kind": "prayer", "description": "x"}]}, "activities[0].kind", "unknown_kind"),
        ({"team_roles": ["chief"]}, "team_roles[0]", "unknown_role"),
        ({"department_id": uuid.uuid4()}, "department_id", "unknown_department"),
    ],
)
def test_bad_template_input_is_refused(ward, fields, field, code):
    values = {"name": "Asthma", **fields}
    with pytest.raises(ValidationFailed) as refused:
        care_plans.care_plan_template_create(ctx=ward["doctor"], **values)
    assert (field, code) in [(e["field"], e["code"]) for e in refused.value.extra["errors"]]
    assert not CarePlanTemplate.objects.for_tenant(ward["doctor"]).exists()


def test_templates_are_written_by_clinicians_and_another_organizations_are_not_found(org_a, org_b, ward):
    desk = clinician(org_a, "receptionist")
    with pytest.raises(Forbidden):
        care_plans.care_plan_template_create(ctx=desk, name="x")
    with pytest.raises(Forbidden):
        care_plans.care_plan_template_list(ctx=desk)
    template = approved_template(ward["doctor"], ward["head"])
    foreign_head = head(org_b)
    with pytest.raises(NotFound):
        care_plans.care_plan_template_retire(ctx=foreign_head, template_id=template.id)
    with pytest.raises(NotFound):
        care_plans.care_plan_template_get(ctx=foreign_head, template_id=template.id)
    assert care_plans.care_plan_template_list(ctx=foreign_head) == []
    assert [t.id for t in care_plans.care_plan_template_list(ctx=ward["nurse"], status="approved")] == [template.id]
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_template_list(ctx=ward["nurse"], status="lost")


# --- plans ------------------------------------------------------------------------------------------


def test_only_an_approved_template_makes_plans(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    draft = care_plans.care_plan_template_create(ctx=doctor, name="Asthma", goals=GOALS)
    with pytest.raises(Conflict) as refused:
        care_plans.care_plan_create(ctx=doctor, patient_id=patient.id, template_id=draft.id)
    assert refused.value.code == "TEMPLATE_NOT_APPROVED"
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_create(ctx=doctor, patient_id=patient.id, template_id=uuid.uuid4())
    assert not CarePlan.objects.for_tenant(doctor).exists()


def test_a_plan_from_a_template_gets_its_goals_due_from_the_start_its_activities_and_a_lead(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    template = approved_template(doctor, ward["head"])
    start = dt.date(2026, 3, 1)
    plan = care_plans.care_plan_create(
        ctx=doctor,
        patient_id=patient.id,
        template_id=template.id,
        period_start=start,
        goals=[{"description": "Stop smoking", "due_on": dt.date(2026, 6, 1)}],
        team=[{"user_id": str(ward["nurse"].actor_id), "role": "nurse"}],
    )
    read = care_plans.care_plan_get(ctx=doctor, plan_id=plan.id)
    assert read.title == "Blood pressure"
    assert read.status == "draft"
    assert [(g.description, g.due_on) for g in read.goal_list] == [
        ("Blood pressure at target", dt.date(2026, 5, 30)),
        ("Less salt", None),
        ("Stop smoking", dt.date(2026, 6, 1)),
    ]
    assert [a.description for a in read.activity_list] == ["Home blood pressure"]
    assert {(m.user_id, m.role) for m in read.team_list} == {
        (ward["nurse"].actor_id, "nurse"),
        (doctor.actor_id, "lead"),
    }


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"title": ""}, "title", "required"),
        ({"title": "x" * 201}, "title", "too_long"),
        ({"period_start": dt.date(2026, 5, 1), "period_end": dt.date(2026, 4, 1)}, "period_end", "end_before_start"),
        ({"goals": [{"description": "x", "due_on": dt.date(2000, 1, 1)}]}, "goals[0].due_on", "due_before_start"),
        ({"goals": [{"description": ""}]}, "goals[0].description", "required"),
        ({"activities": [{"kind": "monitoring", "description": ""}]}, "activities[0].description", "required"),
        ({"team": [{"user_id": "nobody", "role": "nurse"}]}, "team[0].user_id", "invalid"),
        ({"team": [{"user_id": str(uuid.uuid4()), "role": "nurse"}]}, "team[0].user_id", "not_a_clinician"),
        ({"team": [{"user_id": str(uuid.uuid4()), "role": "boss"}]}, "team[0].role", "unknown_role"),
        ({"goals": [], "activate": True}, "goals", "no_goals"),
        ({"period_start": dt.date(9999, 12, 31)}, "period_start", "out_of_range"),
        ({"period_start": dt.date(1800, 1, 1)}, "period_start", "out_of_range"),
    ],
)
def test_bad_plan_input_is_refused_and_nothing_is_written(ward, fields, field, code):
    values = {"title": "Recovery", **fields}
    with pytest.raises(ValidationFailed) as refused:
        care_plans.care_plan_create(ctx=ward["doctor"], patient_id=ward["patient"].id, **values)
    assert (field, code) in [(e["field"], e["code"]) for e in refused.value.extra["errors"]]
    assert not CarePlan.objects.for_tenant(ward["doctor"]).exists()


def test_a_clinician_of_another_organization_is_not_a_team_member(org_b, ward):
    outsider = clinician(org_b, "nurse")
    with pytest.raises(ValidationFailed) as refused:
        care_plans.care_plan_create(
            ctx=ward["doctor"],
            patient_id=ward["patient"].id,
            title="Recovery",
            team=[{"user_id": outsider.actor_id, "role": "nurse"}],
        )
    assert refused.value.extra["errors"][0]["code"] == "not_a_clinician"


def test_the_status_machine_and_the_reasons_it_needs(ward):
    doctor = ward["doctor"]
    plan = care_plans.care_plan_create(ctx=doctor, patient_id=ward["patient"].id, title="Recovery")
    with pytest.raises(ValidationFailed) as no_goal:
        care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="active")
    assert no_goal.value.extra["errors"][0]["code"] == "no_goals"
    care_plans.care_plan_goal_add(ctx=doctor, plan_id=plan.id, description="Walk unaided", target="100 m")
    with pytest.raises(Conflict):
        care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="completed")
    active = care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="active")
    assert active.activated_at is not None
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="on_hold")
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="paused", reason="x")
    care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="on_hold", reason="in hospital")
    care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="active")
    completed = care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="completed")
    assert completed.ended_at is not None
    assert completed.period_end == timezone.localdate()
    moves = OutboxEvent.objects.filter(name="clinical.care_plan_status_changed").order_by("created_at")
    assert [m.payload["to_status"] for m in moves] == ["active", "on_hold", "active", "completed"]
    assert set(moves[0].payload) == {"plan_id", "organization_id", "patient_id", "from_status", "to_status"}


def test_a_completed_plan_is_read_only(ward):
    doctor = ward["doctor"]
    plan = active_plan(doctor, ward["patient"])
    goal = care_plans.care_plan_get(ctx=doctor, plan_id=plan.id).goal_list[0]
    activity = care_plans.care_plan_get(ctx=doctor, plan_id=plan.id).activity_list[0]
    care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="completed")
    attempts = [
        lambda: care_plans.care_plan_update(ctx=doctor, plan_id=plan.id, title="Changed"),
        lambda: care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="active"),
        lambda: care_plans.care_plan_goal_add(ctx=doctor, plan_id=plan.id, description="More"),
        lambda: care_plans.care_plan_goal_progress_add(ctx=doctor, goal_id=goal.id, achievement_status="achieved"),
        lambda: care_plans.care_plan_activity_add(ctx=doctor, plan_id=plan.id, kind="other", description="x"),
        lambda: care_plans.care_plan_activity_status_set(ctx=doctor, activity_id=activity.id, status="completed"),
        lambda: care_plans.care_plan_member_add(
            ctx=doctor, plan_id=plan.id, user_id=ward["nurse"].actor_id, role="nurse"
        ),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.code == "CARE_PLAN_CLOSED"
    assert _plan(plan.id).title == "Recovery"


def test_goal_progress_is_appended_never_overwritten(ward):
    doctor, nurse = ward["doctor"], ward["nurse"]
    draft = care_plans.care_plan_create(
        ctx=doctor, patient_id=ward["patient"].id, title="Draft", goals=[{"description": "x"}]
    )
    draft_goal = care_plans.care_plan_get(ctx=doctor, plan_id=draft.id).goal_list[0]
    with pytest.raises(Conflict) as not_active:
        care_plans.care_plan_goal_progress_add(ctx=doctor, goal_id=draft_goal.id, achievement_status="improving")
    assert not_active.value.code == "CARE_PLAN_NOT_ACTIVE"
    plan = active_plan(doctor, ward["patient"])
    goal = care_plans.care_plan_get(ctx=doctor, plan_id=plan.id).goal_list[0]
    care_plans.care_plan_goal_progress_add(ctx=nurse, goal_id=goal.id, achievement_status="improving", value="40 m")
    care_plans.care_plan_goal_progress_add(ctx=doctor, goal_id=goal.id, achievement_status="achieved", value="120 m")
    read = care_plans.care_plan_get(ctx=doctor, plan_id=plan.id).goal_list[0]
    assert read.achievement_status == "achieved"
    assert [(p.achievement_status, p.value) for p in read.progress_list] == [
        ("improving", "40 m"),
        ("achieved", "120 m"),
    ]
    assert GoalProgress.objects.for_tenant(doctor).count() == 2
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_goal_progress_add(ctx=doctor, goal_id=goal.id, achievement_status="done")
    with pytest.raises(NotFound):
        care_plans.care_plan_goal_progress_add(ctx=doctor, goal_id=uuid.uuid4(), achievement_status="achieved")


def test_activities_move_on_and_stay_done(ward):
    doctor = ward["doctor"]
    plan = active_plan(doctor, ward["patient"])
    added = care_plans.care_plan_activity_add(
        ctx=doctor, plan_id=plan.id, kind="appointment", description="Review", schedule="at 6 weeks"
    )
    assert care_plans.care_plan_activity_status_set(ctx=doctor, activity_id=added.id, status="scheduled").status == (
        "scheduled"
    )
    care_plans.care_plan_activity_status_set(ctx=doctor, activity_id=added.id, status="completed")
    with pytest.raises(Conflict) as done:
        care_plans.care_plan_activity_status_set(ctx=doctor, activity_id=added.id, status="in_progress")
    assert done.value.code == "ILLEGAL_TRANSITION"
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_activity_add(ctx=doctor, plan_id=plan.id, kind="magic", description="x")


def test_the_care_team_is_a_care_relationship_while_the_plan_is_open(org_a, ward):
    doctor, patient = ward["doctor"], ward["patient"]
    dietitian = clinician(org_a, "dietitian", department=DepartmentFactory(organization=org_a))
    assert policies.care_relationship(dietitian, patient.id) is None
    plan = active_plan(doctor, patient)
    member = care_plans.care_plan_member_add(ctx=doctor, plan_id=plan.id, user_id=dietitian.actor_id, role="dietitian")
    assert policies.care_relationship(dietitian, patient.id) == policies.Access("care")
    assert care_plans.care_plan_list(ctx=dietitian, patient_id=patient.id)[0].id == plan.id
    with pytest.raises(Conflict) as twice:
        care_plans.care_plan_member_add(ctx=doctor, plan_id=plan.id, user_id=dietitian.actor_id, role="dietitian")
    assert twice.value.code == "MEMBER_PRESENT"
    care_plans.care_plan_member_remove(ctx=doctor, plan_id=plan.id, member_id=member.id)
    assert policies.care_relationship(dietitian, patient.id) is None
    care_plans.care_plan_member_add(ctx=doctor, plan_id=plan.id, user_id=dietitian.actor_id, role="dietitian")
    care_plans.care_plan_status_set(ctx=doctor, plan_id=plan.id, status="completed")
    assert policies.care_relationship(dietitian, patient.id) is None


def test_the_team_keeps_a_lead(ward):
    doctor = ward["doctor"]
    plan = active_plan(doctor, ward["patient"])
    lead = care_plans.care_plan_get(ctx=doctor, plan_id=plan.id).team_list[0]
    with pytest.raises(Conflict) as refused:
        care_plans.care_plan_member_remove(ctx=doctor, plan_id=plan.id, member_id=lead.id)
    assert refused.value.code == "LEAD_REQUIRED"
    with pytest.raises(NotFound):
        care_plans.care_plan_member_remove(ctx=doctor, plan_id=plan.id, member_id=uuid.uuid4())
    with pytest.raises(ValidationFailed):
        care_plans.care_plan_member_add(ctx=doctor, plan_id=plan.id, user_id=uuid.uuid4(), role="nurse")


def test_plans_need_a_clinical_role_and_a_care_relationship(org_a, org_b, ward):
    plan = active_plan(ward["doctor"], ward["patient"])
    desk = clinician(org_a, "receptionist")
    stranger = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    foreign = clinician(org_b, "doctor")
    with pytest.raises(Forbidden):
        care_plans.care_plan_create(ctx=desk, patient_id=ward["patient"].id, title="x")
    with pytest.raises(Forbidden):
        care_plans.care_plan_get(ctx=desk, plan_id=plan.id)
    for ctx in (stranger, foreign):
        with pytest.raises(NotFound):
            care_plans.care_plan_create(ctx=ctx, patient_id=ward["patient"].id, title="x")
        with pytest.raises(NotFound):
            care_plans.care_plan_get(ctx=ctx, plan_id=plan.id)
        with pytest.raises(NotFound):
            care_plans.care_plan_list(ctx=ctx, patient_id=ward["patient"].id)
        with pytest.raises(NotFound):
            care_plans.care_plan_status_set(ctx=ctx, plan_id=plan.id, status="completed")
        with pytest.raises(NotFound):
            care_plans.care_plan_summary(ctx=ctx, patient_id=ward["patient"].id)
    pharmacist = clinician(org_a, "pharmacist", department=ward["department"])  # reads, does not write
    assert care_plans.care_plan_get(ctx=pharmacist, plan_id=plan.id).id == plan.id
    with pytest.raises(Forbidden):
        care_plans.care_plan_goal_add(ctx=pharmacist, plan_id=plan.id, description="x")
    assert _plan(plan.id).status == "active"


def test_free_text_is_encrypted_at_rest(ward):
    plan = active_plan(ward["doctor"], ward["patient"], title="Knee replacement recovery")
    with connection.cursor() as cursor:
        cursor.execute("SELECT title FROM clinical_careplan")
        (title,) = cursor.fetchone()
        cursor.execute("SELECT description FROM clinical_careplangoal")
        (goal,) = cursor.fetchone()
    assert title.startswith("phb1:")
    assert "Knee" not in title
    assert goal.startswith("phb1:")
    assert _plan(plan.id).title == "Knee replacement recovery"


def test_a_patient_reads_their_own_active_plans_at_every_hospital(org_a, org_b, ward):
    patient, me = portal_patient(org_a, org_b)
    department = ward["department"]
    walk_in(ward["doctor"], patient, department)
    active = active_plan(ward["doctor"], patient, title="Walking again")
    care_plans.care_plan_create(ctx=ward["doctor"], patient_id=patient.id, title="Only a draft")
    doctor_b = clinician(org_b, "doctor", department=DepartmentFactory(organization=org_b))
    walk_in(doctor_b, patient, DepartmentFactory(organization=org_b))
    elsewhere = active_plan(doctor_b, patient, title="Diet")
    mine = care_plans.my_care_plans(ctx=me)
    assert {p.id for p in mine} == {active.id, elsewhere.id}
    assert all(p.goal_list and p.team_list for p in mine)
    _, stranger = portal_patient(org_a)
    assert care_plans.my_care_plans(ctx=stranger) == []
    with pytest.raises(NotFound):
        care_plans.my_care_plans(ctx=Ctx(actor_id=uuid.uuid4()))


def test_the_summary_reads_in_a_fixed_number_of_queries(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    active_plan(doctor, patient)
    with CaptureQueriesContext(connection) as few:
        care_plans.care_plan_summary(ctx=doctor, patient_id=patient.id)
    overdue = active_plan(
        doctor,
        patient,
        title="Blood pressure",
        period_start=dt.date.today() - dt.timedelta(days=30),
        goals=[
            {"description": "BP at target", "due_on": dt.date.today() - dt.timedelta(days=1)},
            {"description": "Salt", "due_on": dt.date.today() + dt.timedelta(days=30)},
        ],
    )
    closed = active_plan(doctor, patient, title="Old")
    care_plans.care_plan_status_set(ctx=doctor, plan_id=closed.id, status="revoked", reason="entered in error")
    with CaptureQueriesContext(connection) as many:
        summary = care_plans.care_plan_summary(ctx=doctor, patient_id=patient.id)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert summary.closed == 1
    by_title = {p.title: p for p in summary.open_plans}
    assert set(by_title) == {"Recovery", "Blood pressure"}
    assert (by_title["Blood pressure"].goals, by_title["Blood pressure"].overdue) == (2, 1)
    assert by_title["Blood pressure"].next_due.description == "BP at target"
    assert overdue.id in {p.id for p in summary.open_plans}


def test_an_open_plan_changes_its_title_description_and_period_within_the_rules(ward):
    doctor = ward["doctor"]
    plan = active_plan(doctor, ward["patient"], period_start=dt.date.today() - dt.timedelta(days=10))
    changed = care_plans.care_plan_update(
        ctx=doctor, plan_id=plan.id, description="after a hip replacement", period_end=dt.date.today()
    )
    assert (changed.description, changed.period_end) == ("after a hip replacement", dt.date.today())
    for fields, field in (
        ({"title": ""}, "title"),
        ({"period_end": dt.date.today() - dt.timedelta(days=20)}, "period_end"),
        ({"period_start": dt.date(9999, 1, 1)}, "period_start"),
        ({"period_start": "soon"}, "period_start"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            care_plans.care_plan_update(ctx=doctor, plan_id=plan.id, **fields)
        assert field in {e["field"] for e in refused.value.extra["errors"]}
    assert _plan(plan.id).description == "after a hip replacement"
