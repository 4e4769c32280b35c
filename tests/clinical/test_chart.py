"""The clinician's chart and the encounter workspace: the summary's sections (and their registry), the
trend chart, timelines a page at a time, a bounded number of queries whatever the history's size, 404
without a care relationship and break-the-glass (audited), the step-up window; the workspace records
vital signs (a critical one shows the alert), a diagnosis, the note, and finishes."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from phb.accounts.step_up import SESSION_KEY
from phb.clinical import chart, diagnoses, history_services, services
from phb.clinical.models import (
    ClinicalNote,
    CriticalAlert,
    Diagnosis,
    Encounter,
    EncounterClass,
    EncounterSource,
    EncounterStatus,
    NoteStatus,
    Observation,
    VitalSignsSet,
)
from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound
from phb.kernel.models import AuditEvent
from tests.accounts.factories import UserFactory, verified_client
from tests.clinical.factories import clinician, patient_at, record, walk_in
from tests.clinical.history_factories import allergy
from tests.organizations.factories import DepartmentFactory
from tests.round_trips import round_trips
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db


def staff(organization, *roles, department=None, med_access=True):
    """(ctx, client) of one new member of staff."""
    user = UserFactory()
    ctx = clinician(organization, *roles, department=department, user=user)
    client = verified_client(user)
    if med_access:
        session = client.session
        session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
        session.save()
    return ctx, client


@pytest.fixture
def ward(org_a):
    ensure_code_systems()
    services.note_templates_seed(ctx=Ctx.system(reason="test", organization_id=org_a.id))
    department = DepartmentFactory(organization=org_a)
    doctor, client = staff(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    encounter = walk_in(doctor, patient, department)
    return {"department": department, "doctor": doctor, "client": client, "patient": patient, "encounter": encounter}


def _events(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


def history(ctx, patient, department, *, encounters: int, sets: int, diagnoses_n: int, notes: int) -> None:
    """A patient's history written in bulk (the chart only reads it)."""
    now = timezone.now()
    org = ctx.organization_id
    rows = [
        Encounter(
            organization_id=org,
            patient=patient,
            encounter_class=EncounterClass.AMBULATORY,
            source=EncounterSource.WALK_IN,
            status=EncounterStatus.FINISHED,
            attending_id=ctx.actor_id,
            department=department,
            started_at=now - dt.timedelta(days=i + 1),
            ended_at=now - dt.timedelta(days=i + 1) + dt.timedelta(minutes=20),
        )
        for i in range(encounters)
    ]
    Encounter.objects.for_tenant(ctx).bulk_create(rows)
    vital_sets = [
        VitalSignsSet(
            organization_id=org,
            patient=patient,
            effective_at=now - dt.timedelta(hours=6 * i + 1),
            recorded_by_id=ctx.actor_id,
            age_band="adult",
        )
        for i in range(sets)
    ]
    VitalSignsSet.objects.for_tenant(ctx).bulk_create(vital_sets)
    Observation.objects.for_tenant(ctx).bulk_create(
        Observation(
            organization_id=org,
            patient=patient,
            vital_set=s,
            code=code,
            value_numeric=Decimal(value + i % 7),
            unit="/min",
            effective_at=s.effective_at,
            recorded_by_id=ctx.actor_id,
            interpretation="N",
        )
        for i, s in enumerate(vital_sets)
        for code, value in (("8867-4", 70), ("9279-1", 14), ("8480-6", 120), ("8462-4", 75))
    )
    Diagnosis.objects.for_tenant(ctx).bulk_create(
        Diagnosis(
            organization_id=org,
            patient=patient,
            system="http://snomed.info/sct",
            code=str(10000 + i),
            display=f"Condition {i}",
            clinical_status="active" if i % 2 else "resolved",
            category="encounter_diagnosis",
            diagnosed_by_id=ctx.actor_id,
            recorded_at=now - dt.timedelta(days=i),
        )
        for i in range(diagnoses_n)
    )
    ClinicalNote.objects.for_tenant(ctx).bulk_create(
        ClinicalNote(
            organization_id=org,
            patient=patient,
            author_id=ctx.actor_id,
            kind="free",
            text=f"note {i}",
            status=NoteStatus.SIGNED,
            signed_at=now - dt.timedelta(days=i),
        )
        for i in range(notes)
    )


# --- the page ------------------------------------------------------------------------------------------


def test_the_chart_shows_the_summary_first_then_the_trend_and_timelines(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    record(doctor, patient, encounter=ward["encounter"], heart_rate=35)  # critical: an alert
    diagnoses.diagnosis_add(
        ctx=doctor, patient_id=patient.id, system="icd10-cm", code="I10", category="problem_list_item"
    )
    response = ward["client"].get(f"/staff/clinical/patients/{patient.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    order = [html.index(f'data-testid="section-{key}"') for key in ("alerts", "allergies", "problems")]
    order += [html.index(f'data-testid="section-{key}"') for key in ("medications", "vitals", "encounters")]
    assert order == sorted(order)
    assert order[-1] < html.index('data-testid="trend"') < html.index("Timelines")
    assert html.count("Not recorded yet.") == 0  # medications registers the real section
    assert "No current medication." in html
    assert "Not recorded yet: nobody has asked." in html  # allergies
    assert "CA-" in html
    assert "Heart rate LL" in html
    assert "I10" in html
    assert "NEWS2" in html
    assert "clinical response" in html
    assert "<svg" in html
    assert "<polyline" in html
    assert patient.given_name not in response.request["PATH_INFO"]
    event = _events(action="clinical.chart.read").get()
    assert event.patient_id == patient.id
    assert event.outcome == "success"


def test_the_allergies_section_shows_no_known_allergies_then_the_allergy(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    history_services.no_known_allergies_record(ctx=doctor, patient_id=patient.id)
    html = ward["client"].get(f"/staff/clinical/patients/{patient.id}/").content.decode()
    assert 'data-testid="nka"' in html
    allergy(doctor, patient, criticality="high")
    html = ward["client"].get(f"/staff/clinical/patients/{patient.id}/").content.decode()
    assert 'data-testid="nka"' not in html
    assert "high risk" in html
    assert html.count('data-testid="allergy"') == 1


def test_a_registered_section_appears_and_a_key_registered_again_replaces_it(ward):
    calls = []

    def allergies(*, ctx, patient_id):
        calls.append(patient_id)
        return ["peanuts"]

    before = dict(chart._sections)
    try:
        chart.register_chart_section(
            "allergies", allergies, title="Allergies", order=20, template="clinical/chart/_problems.html"
        )
        chart.register_chart_section(
            "extra",
            lambda *, ctx, patient_id: None,
            title="Extra",
            order=99,
            template="clinical/chart/_placeholder.html",
        )
        html = ward["client"].get(f"/staff/clinical/patients/{ward['patient'].id}/").content.decode()
        assert calls == [ward["patient"].id]
        assert html.count("Not recorded yet.") == 1  # the extra one
        assert 'data-testid="section-extra"' in html
        with pytest.raises(ValueError, match="lower-case"):
            chart.register_chart_section("Bad Key", allergies, title="x", order=1, template="x.html")
    finally:
        chart._sections.clear()
        chart._sections.update(before)


def test_no_care_relationship_is_404_and_audited_and_break_the_glass_opens_it(org_a, ward):
    stranger, client = staff(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    url = f"/staff/clinical/patients/{ward['patient'].id}/"
    response = client.get(url)
    assert response.status_code == 404
    assert ward["patient"].family_name not in response.content.decode()
    assert client.get(f"/staff/clinical/patients/{uuid.uuid4()}/").status_code == 404  # looks the same
    denied = _events(action="clinical.chart.read", outcome="denied", actor_id=stranger.actor_id)
    assert denied.count() == 2
    assert client.get(f"/staff/clinical/patients/{ward['patient'].id}/trend/?vital=heart_rate").status_code == 404

    short = client.post(f"{url}break-glass/", {"reason": "now"})
    assert short.status_code == 400
    opened = client.post(f"{url}break-glass/", {"reason": "unconscious in the emergency room"})
    assert opened.status_code == 302
    assert opened["Location"] == url
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="break-glass"' in page.content.decode()
    read = _events(action="clinical.chart.read", outcome="success", actor_id=stranger.actor_id).get()
    assert read.detail.get("break_glass") is True


def test_the_chart_needs_the_step_up_window_and_a_clinical_role(org_a, ward):
    _, fresh = staff(org_a, "doctor", department=ward["department"], med_access=False)
    response = fresh.get(f"/staff/clinical/patients/{ward['patient'].id}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/step-up/")
    _, desk = staff(org_a, "receptionist")
    assert desk.get(f"/staff/clinical/patients/{ward['patient'].id}/").status_code == 403


# The statements around each query (a transaction and, on PostgreSQL, the tenancy binding of row-level
# security) are not reads of the record: count the queries themselves.
FRAMING = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "SET LOCAL", "SELECT set_config(")


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return sum(1 for q in queries.captured_queries if not q["sql"].lstrip().startswith(FRAMING))


def test_the_chart_reads_a_bounded_number_of_queries_whatever_the_history(org_a, ward):
    doctor, department = ward["doctor"], ward["department"]
    small_patient, big_patient = patient_at(org_a), patient_at(org_a)
    walk_in(doctor, small_patient, department)
    walk_in(doctor, big_patient, department)
    history(doctor, small_patient, department, encounters=1, sets=1, diagnoses_n=1, notes=1)
    history(doctor, big_patient, department, encounters=60, sets=300, diagnoses_n=45, notes=45)
    client = ward["client"]
    client.get(f"/staff/clinical/patients/{small_patient.id}/")  # warm the session
    small = _count_queries(client, f"/staff/clinical/patients/{small_patient.id}/")
    big = _count_queries(client, f"/staff/clinical/patients/{big_patient.id}/")
    assert small == big
    assert big <= 20
    trend = _count_queries(client, f"/staff/clinical/patients/{big_patient.id}/trend/?vital=blood_pressure&period=365")
    assert trend <= 10


# The chart's statements as sent: one transaction (one BEGIN and COMMIT, one tenancy binding that also
# turns `synchronous_commit` off, as for every read's audit event) around the access check, the audit event, the header,
# the six sections, the trend and the three timelines (the recent encounters are the top of the
# encounters timeline: read once).
CHART_ROUND_TRIPS = 18


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_chart_is_read_in_one_transaction_and_a_refusal_is_still_audited(org_a, ward):
    doctor, patient = ward["doctor"], ward["patient"]
    record(doctor, patient, encounter=ward["encounter"])
    with round_trips() as trips:
        chart.chart_open(ctx=doctor, patient_id=patient.id)
    assert (trips.commits, trips.rollbacks, trips.outside) == (1, 0, [])
    assert trips.count("SELECT set_config(") == 1
    # the binding's statement also sets the commit mode
    assert [s.count("set_config(") for s in trips.statements if "set_config(" in s] == [3]
    assert trips.total == CHART_ROUND_TRIPS
    assert _events(action="clinical.chart.read", outcome="success", actor_id=doctor.actor_id).count() == 1
    # the refusal's event is rolled back with the transaction, and written again after it
    stranger = clinician(org_a, "doctor")
    with round_trips() as trips, pytest.raises(NotFound):
        chart.chart_open(ctx=stranger, patient_id=patient.id)
    assert (trips.commits, trips.rollbacks) == (1, 1)
    assert _events(action="clinical.chart.read", outcome="denied", actor_id=stranger.actor_id).count() == 1
    for path in ("trend/?vital=heart_rate", "timeline/notes/"):
        with round_trips() as trips:
            assert ward["client"].get(f"/staff/clinical/patients/{patient.id}/{path}").status_code == 200
        # the view's reads in one transaction: one binding, which also sets the commit mode
        assert sum("set_config(" in s and s.count("set_config(") == 3 for s in trips.statements) == 1


def test_the_trend_draws_a_year_of_one_vital(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    history(doctor, patient, ward["department"], encounters=0, sets=40, diagnoses_n=0, notes=0)
    trend = chart.vitals_trend(ctx=doctor, patient_id=patient.id, vital="heart_rate", days=365)
    assert trend.count == 40
    assert len(trend.series[0].svg_points.split()) == 40
    assert trend.reference is not None
    bp = chart.vitals_trend(ctx=doctor, patient_id=patient.id, vital="blood_pressure", days=30)
    assert [s.code for s in bp.series] == ["8480-6", "8462-4"]
    response = ward["client"].get(f"/staff/clinical/patients/{patient.id}/trend/?vital=blood_pressure&period=30")
    assert response.status_code == 200
    assert response.content.decode().count("<polyline") == 2
    assert ward["client"].get(f"/staff/clinical/patients/{patient.id}/trend/?vital=mood").status_code == 400
    assert ward["client"].get(f"/staff/clinical/patients/{patient.id}/trend/?period=7").status_code == 400
    assert ward["client"].get(f"/staff/clinical/patients/{patient.id}/trend/?period=x").status_code == 400


def test_many_points_are_averaged_by_period():
    start = timezone.now() - dt.timedelta(days=365)
    points = [(start + dt.timedelta(hours=i), 70.0 + i % 3, "HH" if i == 5 else "N") for i in range(3000)]
    bucketed = chart._bucketed(points, start, 365 * 86400)
    assert len(bucketed) <= chart.MAX_POINTS
    assert any(flag == "HH" for *_, flag in bucketed)


def test_timelines_are_read_a_page_at_a_time(ward):
    doctor, patient = ward["doctor"], ward["patient"]
    history(doctor, patient, ward["department"], encounters=0, sets=0, diagnoses_n=25, notes=0)
    rows, more = chart.chart_timeline(ctx=doctor, patient_id=patient.id, kind="diagnoses", page=1)
    assert (len(rows), more) == (20, True)
    rows, more = chart.chart_timeline(ctx=doctor, patient_id=patient.id, kind="diagnoses", page=2)
    assert (len(rows), more) == (5, False)
    client = ward["client"]
    page = client.get(f"/staff/clinical/patients/{patient.id}/timeline/diagnoses/?page=2")
    assert page.status_code == 200
    assert "Older" not in page.content.decode()
    assert client.get(f"/staff/clinical/patients/{patient.id}/timeline/diagnoses/?page=0").status_code == 400
    assert client.get(f"/staff/clinical/patients/{patient.id}/timeline/secrets/").status_code == 404


# --- the encounter workspace -------------------------------------------------------------------------


def test_the_workspace_records_vitals_a_diagnosis_and_the_signed_note(ward):
    client, encounter = ward["client"], ward["encounter"]
    url = f"/staff/clinical/encounters/{encounter.id}/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Template: " in page.content.decode()  # the department's template prompts the sections

    vitals = {
        "systolic_bp": "118",
        "diastolic_bp": "76",
        "heart_rate": "35",
        "respiratory_rate": "16",
        "temperature": "36.9",
        "spo2": "97",
        "consciousness": "A",
        "oxygen": "air",
    }
    recorded = client.post(f"{url}vitals/", vitals, follow=True)
    html = recorded.content.decode()
    assert "Critical values" in html
    assert 'data-testid="critical-alert"' in html
    assert CriticalAlert.objects.for_tenant(ward["doctor"]).count() == 1

    bad = client.post(f"{url}vitals/", {**vitals, "heart_rate": "400", "spo2": "abc"})
    assert bad.status_code == 400
    assert "Nothing was recorded" in bad.content.decode()
    assert VitalSignsSet.objects.for_tenant(ward["doctor"]).count() == 1

    assert client.post(f"{url}diagnoses/", {"diagnosis_code": ""}).status_code == 400
    assert client.post(f"{url}diagnoses/", {"diagnosis_code": "E11"}).status_code == 400  # not billable
    added = client.post(f"{url}diagnoses/", {"diagnosis_code": "J06.9", "severity": "mild"}, follow=True)
    assert 'data-testid="diagnosis"' in added.content.decode()

    assert client.post(f"{url}note/", {"action": "sign"}).status_code == 400  # empty
    client.post(f"{url}note/", {"subjective": "sore throat", "action": "save"})
    signed = client.post(
        f"{url}note/", {"subjective": "sore throat", "assessment": "viral URTI", "action": "sign"}, follow=True
    )
    assert 'data-testid="signed-note"' in signed.content.decode()
    note = ClinicalNote.objects.for_tenant(ward["doctor"]).get()
    assert note.status == NoteStatus.SIGNED
    assert note.template_id is not None

    finished = client.post(f"{url}finish/", follow=True)
    assert "The encounter is finished." in finished.content.decode()
    assert Encounter.objects.for_tenant(ward["doctor"]).get(id=encounter.id).status == EncounterStatus.FINISHED


def test_the_workspace_is_404_without_a_care_relationship(org_a, ward):
    _, client = staff(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    url = f"/staff/clinical/encounters/{ward['encounter'].id}/"
    assert client.get(url).status_code == 404
    assert client.post(f"{url}vitals/", {"heart_rate": "80"}).status_code == 404
    assert client.get(f"/staff/clinical/encounters/{uuid.uuid4()}/").status_code == 404


def test_an_in_progress_appointment_links_to_its_encounter(org_a):
    from phb.scheduling import services as scheduling_services
    from tests.scheduling.factories import desk_ctx, local, practitioner, tomorrow

    profile = practitioner(org_a)
    desk = desk_ctx(org_a)
    patient = patient_at(org_a)
    appointment = scheduling_services.appointment_book(
        ctx=desk, patient_id=patient.id, practitioner_id=profile.id, start_at=local(org_a, tomorrow(org_a), 9)
    )
    system = Ctx.system(reason="test", organization_id=org_a.id)
    encounter = services.encounter_from_appointment(ctx=system, appointment_id=appointment.id)
    client = verified_client(profile.user)  # the practitioner is a doctor of the organization
    response = client.get(f"/staff/clinical/appointments/{appointment.id}/encounter/")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/clinical/encounters/{encounter.id}/"
    assert client.get(f"/staff/clinical/appointments/{uuid.uuid4()}/encounter/").status_code == 404
