"""Vital signs: impossible values refuse the whole set with a stable code per field; values outside
the reference range of the patient's age band are flagged; BMI is derived; NEWS2 is kept for a
complete adult set only; critical values raise an alert to the responsible clinician, who is
notified and acknowledges it; unacknowledged, it escalates once to the department head after the
configured time (the clock is passed in: the project's services take `now=`), and never after an
acknowledgement."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from phb.clinical import alerts, selectors, services, vitals
from phb.clinical.models import AlertStatus, CriticalAlert, Observation, VitalSignsSet
from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.notifications.models import Notification
from tests.clinical.factories import NORMAL_ADULT, clinician, patient_at, record, walk_in
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(org_a):
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    nurse = clinician(org_a, "nurse", department=department)
    patient = patient_at(org_a, years=40)
    encounter = walk_in(doctor, patient, department)
    return {"department": department, "doctor": doctor, "nurse": nurse, "patient": patient, "encounter": encounter}


def flags(vital_set):
    rows = Observation.objects.for_system(Ctx.system(reason="test")).filter(vital_set=vital_set)
    return {o.code: o.interpretation for o in rows}


def system_rows(model, **filters):
    return model.objects.for_system(Ctx.system(reason="test")).filter(**filters)


# --- bounds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("systolic_bp", 400, "out_of_physiological_range"),
        ("systolic_bp", 19, "out_of_physiological_range"),
        ("diastolic_bp", 5, "out_of_physiological_range"),
        ("heart_rate", 0, "out_of_physiological_range"),
        ("heart_rate", 301, "out_of_physiological_range"),
        ("heart_rate", "72.5", "not_a_whole_number"),
        ("respiratory_rate", 1, "out_of_physiological_range"),
        ("respiratory_rate", 81, "out_of_physiological_range"),
        ("temperature", "24.9", "out_of_physiological_range"),
        ("temperature", "45.1", "out_of_physiological_range"),
        ("temperature", "warm", "not_a_number"),
        ("temperature", "NaN", "not_a_number"),
        ("temperature", True, "not_a_number"),
        ("spo2", 101, "out_of_physiological_range"),
        ("spo2", 39, "out_of_physiological_range"),
        ("consciousness", "X", "unknown_code"),
        ("consciousness", 1, "unknown_code"),
        ("weight", 0, "out_of_physiological_range"),
        ("weight", 501, "out_of_physiological_range"),
        ("height", 300, "out_of_physiological_range"),
        ("blood_glucose", 5, "out_of_physiological_range"),
        ("pain_score", 11, "out_of_physiological_range"),
        ("pain_score", -1, "out_of_physiological_range"),
        ("bmi", 22, "unknown_vital_sign"),
        ("shoe_size", 42, "unknown_vital_sign"),
    ],
)
def test_an_impossible_value_refuses_the_whole_set(ward, field, value, code):
    with pytest.raises(ValidationFailed) as caught:
        record(ward["nurse"], ward["patient"], encounter=ward["encounter"], **{field: value})
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in caught.value.extra["errors"]
    ]
    assert not system_rows(VitalSignsSet).exists()
    assert not system_rows(Observation).exists()


def test_every_bad_field_is_named_at_once_and_diastolic_must_be_below_systolic(ward):
    with pytest.raises(ValidationFailed) as caught:
        record(ward["nurse"], ward["patient"], systolic_bp=80, diastolic_bp=90, spo2=120)
    assert {(e["field"], e["code"]) for e in caught.value.extra["errors"]} == {
        ("diastolic_bp", "diastolic_not_below_systolic"),
        ("spo2", "out_of_physiological_range"),
    }


def test_nothing_to_record_and_a_future_time_are_refused(ward):
    with pytest.raises(ValidationFailed):
        services.vital_signs_record(ctx=ward["nurse"], patient_id=ward["patient"].id, values={})
    with pytest.raises(ValidationFailed) as caught:
        services.vital_signs_record(
            ctx=ward["nurse"],
            patient_id=ward["patient"].id,
            values={"heart_rate": 70},
            effective_at=timezone.now() + dt.timedelta(hours=1),
        )
    assert caught.value.extra["errors"][0]["code"] == "in_the_future"


# --- flags, BMI, NEWS2 ----------------------------------------------------------------------------------


def test_a_normal_adult_set_is_flagged_normal_and_scored(ward):
    vital_set = record(ward["nurse"], ward["patient"], encounter=ward["encounter"], weight="70", height="175")
    assert vital_set.age_band == "adult"
    assert vital_set.news2_score == 0
    assert vital_set.news2_response == "low"
    assert vital_set.news2_single_parameter_3 is False
    assert set(vital_set.news2_subscores) == {
        "respiration_rate",
        "spo2",
        "air_or_oxygen",
        "systolic_bp",
        "pulse",
        "consciousness",
        "temperature",
    }
    found = flags(vital_set)
    assert found[vitals.HEART_RATE] == "N"
    assert found[vitals.CONSCIOUSNESS] == "N"
    bmi = system_rows(Observation, vital_set=vital_set, code=vitals.BMI).get()
    assert bmi.value_numeric == Decimal("22.9")
    assert bmi.derived
    assert bmi.unit == "kg/m2"
    assert not system_rows(CriticalAlert).exists()


def test_values_outside_the_reference_range_are_flagged_by_age_band(org_a, ward):
    adult = record(ward["nurse"], ward["patient"], heart_rate=110, respiratory_rate=22, temperature="35.8")
    assert flags(adult)[vitals.HEART_RATE] == "H"
    assert flags(adult)[vitals.RESPIRATORY_RATE] == "H"
    assert flags(adult)[vitals.TEMPERATURE] == "L"
    child = patient_at(org_a, years=4)
    walk_in(ward["doctor"], child, ward["department"])
    toddler_set = record(ward["nurse"], child, heart_rate=110, respiratory_rate=22, systolic_bp=95, diastolic_bp=60)
    assert toddler_set.age_band == "preschool"
    assert flags(toddler_set)[vitals.HEART_RATE] == "N"  # normal at 4 years
    assert flags(toddler_set)[vitals.RESPIRATORY_RATE] == "N"
    assert toddler_set.news2_score is None  # NEWS2 is for adults


def test_an_incomplete_set_has_no_news2(ward):
    assert record(ward["nurse"], ward["patient"], on_oxygen=None).news2_score is None
    partial = services.vital_signs_record(ctx=ward["nurse"], patient_id=ward["patient"].id, values={"heart_rate": 80})
    assert partial.news2_score is None


def test_scale_2_scores_spo2_for_hypercapnic_respiratory_failure(ward):
    scale_1 = record(ward["nurse"], ward["patient"], spo2=89)
    assert scale_1.news2_subscores["spo2"] == 3
    scale_2 = services.vital_signs_record(
        ctx=ward["nurse"],
        patient_id=ward["patient"].id,
        values={**NORMAL_ADULT, "spo2": 89},
        on_supplemental_oxygen=False,
        hypercapnic_respiratory_failure=True,
    )
    assert scale_2.spo2_scale == 2
    assert scale_2.news2_subscores["spo2"] == 0
    assert flags(scale_2)[vitals.SPO2] == "N"


# --- critical alerts -----------------------------------------------------------------------------------


def test_a_critical_value_raises_an_alert_to_the_attending_who_is_notified(ward):
    vital_set = record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=140, systolic_bp=85)
    alert = system_rows(CriticalAlert).get()
    assert alert.vital_set_id == vital_set.id
    assert alert.recipient_id == ward["doctor"].actor_id  # the attending, not the nurse who recorded
    assert alert.department_id == ward["department"].id
    assert {(f["code"], f["flag"]) for f in alert.findings} == {(vitals.HEART_RATE, "HH"), (vitals.SYSTOLIC_BP, "LL")}
    assert alert.status == AlertStatus.OPEN
    events.dispatch_due()
    notes = Notification.objects.filter(user_id=ward["doctor"].actor_id, template_code="clinical.critical_alert")
    assert notes.count() == 1
    assert alerts.reference(alert) in notes.get().title
    assert "140" not in notes.get().body  # a reference, never the value
    assert alerts.critical_alert_notify(alert_id=alert.id, organization_id=alert.organization_id) is False  # once
    assert notes.count() == 1


def test_a_high_news2_alone_raises_an_alert(ward):
    # 2 (RR 22) + 2 (SpO2 92) + 2 (oxygen) + 1 (pulse 95) = 7, no single critical value
    vital_set = record(
        ward["nurse"],
        ward["patient"],
        encounter=ward["encounter"],
        respiratory_rate=22,
        spo2=93,
        heart_rate=95,
        on_oxygen=True,
    )
    assert vital_set.news2_score == 7
    assert vital_set.news2_response == "high"
    alert = system_rows(CriticalAlert).get()
    assert {"code": "news2", "flag": "high"} in alert.findings


def test_without_an_encounter_the_alert_goes_to_whoever_recorded_the_set(ward):
    record(ward["nurse"], ward["patient"], consciousness="V")
    alert = system_rows(CriticalAlert).get()
    assert alert.recipient_id == ward["nurse"].actor_id
    assert alert.department_id == ward["department"].id
    assert {"code": vitals.CONSCIOUSNESS, "flag": "AA"} in alert.findings


def test_only_the_recipient_a_head_or_whoever_it_escalated_to_acknowledges(org_a, ward):
    record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=35)
    alert = system_rows(CriticalAlert).get()
    with pytest.raises(NotFound):
        alerts.critical_alert_acknowledge(ctx=ward["nurse"], alert_id=alert.id)
    elsewhere = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    with pytest.raises(NotFound):
        alerts.critical_alert_acknowledge(ctx=elsewhere, alert_id=alert.id)
    done = alerts.critical_alert_acknowledge(ctx=ward["doctor"], alert_id=alert.id)
    assert done.status == AlertStatus.ACKNOWLEDGED
    assert done.acknowledged_by_id == ward["doctor"].actor_id
    with pytest.raises(Conflict):
        alerts.critical_alert_acknowledge(ctx=ward["doctor"], alert_id=alert.id)


def test_another_organization_cannot_see_or_acknowledge_the_alert(org_b, ward):
    record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=35)
    alert = system_rows(CriticalAlert).get()
    other_head = clinician(org_b, "department_head")
    with pytest.raises(NotFound):
        alerts.critical_alert_acknowledge(ctx=other_head, alert_id=alert.id)
    assert list(selectors.critical_alert_list(ctx=other_head)) == []


@pytest.fixture
def head(org_a, ward):
    return clinician(org_a, "department_head", department=ward["department"])


def test_an_unacknowledged_alert_escalates_once_to_the_department_head(settings, ward, head):
    settings.CRITICAL_ALERT_ESCALATE_MINUTES = 15
    record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=35)
    alert = system_rows(CriticalAlert).get()
    raised = alert.raised_at
    assert alerts.critical_alerts_escalate_due(now=raised + dt.timedelta(minutes=14, seconds=59)) == 0
    assert alerts.critical_alerts_escalate_due(now=raised + dt.timedelta(minutes=15)) == 1
    alert.refresh_from_db()
    assert alert.escalated_at == raised + dt.timedelta(minutes=15)
    assert alert.escalated_to == [str(head.actor_id)]
    escalated = Notification.objects.filter(user_id=head.actor_id, template_code="clinical.critical_alert_escalated")
    assert escalated.count() == 1
    # Exactly once, however often the schedule runs.
    assert alerts.critical_alerts_escalate_due(now=raised + dt.timedelta(minutes=16)) == 0
    assert alerts.critical_alerts_escalate_due(now=raised + dt.timedelta(hours=5)) == 0
    assert escalated.count() == 1
    recorded = system_rows(AuditEvent, action="clinical.critical_alert.escalate", resource_id=str(alert.id))
    assert recorded.count() == 1
    # The head sees it among their alerts, and may acknowledge it.
    assert [a.id for a in selectors.critical_alert_list(ctx=head)] == [alert.id]
    assert alerts.critical_alert_acknowledge(ctx=head, alert_id=alert.id).status == AlertStatus.ACKNOWLEDGED


def test_an_acknowledged_alert_never_escalates(settings, ward, head):
    settings.CRITICAL_ALERT_ESCALATE_MINUTES = 15
    record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=35)
    alert = system_rows(CriticalAlert).get()
    alerts.critical_alert_acknowledge(ctx=ward["doctor"], alert_id=alert.id)
    assert alerts.critical_alerts_escalate_due(now=alert.raised_at + dt.timedelta(hours=1)) == 0
    alert.refresh_from_db()
    assert alert.escalated_at is None
    assert not Notification.objects.filter(user_id=head.actor_id).exists()


def test_the_escalation_delay_comes_from_the_settings(settings, ward, head):
    settings.CRITICAL_ALERT_ESCALATE_MINUTES = 5
    record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=35)
    alert = system_rows(CriticalAlert).get()
    assert alerts.critical_alerts_escalate_due(now=alert.raised_at + dt.timedelta(minutes=5)) == 1


def test_without_a_head_in_the_department_the_organizations_heads_are_told(org_a, settings, ward):
    org_head = clinician(org_a, "department_head")  # no department: heads clinical work across the organization
    other_department_head = clinician(org_a, "department_head", department=DepartmentFactory(organization=org_a))
    record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=35)
    alert = system_rows(CriticalAlert).get()
    alerts.critical_alerts_escalate_due(
        now=alert.raised_at + dt.timedelta(minutes=settings.CRITICAL_ALERT_ESCALATE_MINUTES)
    )
    alert.refresh_from_db()
    assert alert.escalated_to == [str(org_head.actor_id)]
    assert str(other_department_head.actor_id) not in alert.escalated_to


def test_recording_needs_a_clinical_role_and_a_care_relationship(org_a, ward):
    from tests.scheduling.factories import desk_ctx

    with pytest.raises(Forbidden):
        record(desk_ctx(org_a), ward["patient"])
    with pytest.raises(NotFound):
        record(clinician(org_a, "nurse", department=DepartmentFactory(organization=org_a)), ward["patient"])
    assert not system_rows(VitalSignsSet).exists()


def test_a_closed_encounter_takes_no_more_vital_signs(ward):
    services.encounter_finish(ctx=ward["doctor"], encounter_id=ward["encounter"].id)
    with pytest.raises(Conflict) as caught:
        record(ward["nurse"], ward["patient"], encounter=ward["encounter"])
    assert caught.value.code == "ENCOUNTER_CLOSED"


def test_the_list_reads_in_a_fixed_number_of_queries(ward, django_assert_num_queries):
    def read():
        sets = selectors.vital_signs_list(ctx=ward["doctor"], patient_id=ward["patient"].id)
        return [len(s.observations.all()) for s in sets]

    record(ward["nurse"], ward["patient"], encounter=ward["encounter"])
    # The care relationship (membership, encounter), the audit row, the sets, their observations; on
    # PostgreSQL each also binds the session to the tenant.
    with CaptureQueriesContext(connection) as few:
        assert read() == [7]
    assert len(few.captured_queries) <= 10
    for _ in range(4):
        record(ward["nurse"], ward["patient"], encounter=ward["encounter"])
    with django_assert_num_queries(len(few.captured_queries)):
        assert read() == [7] * 5
    with pytest.raises(ValidationFailed):
        selectors.vital_signs_list(ctx=ward["doctor"], patient_id=ward["patient"].id, limit=0)
