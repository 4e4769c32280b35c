"""Patient-reported symptoms: a patient reports to a hospital where they are registered and its care
team sees it; validation (every bad field at once, nothing written); the photo re-encoded and kept
encrypted; a patient never reaches another's reports; trends per symptom; the chart's summary."""

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from phb.clinical import symptoms
from phb.clinical.models import SymptomReport
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from tests.clinical.care_factories import png, portal_patient, report
from tests.clinical.factories import clinician, walk_in
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture
def world(org_a, org_b):
    patient, me = portal_patient(org_a)
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    walk_in(doctor, patient, department)
    return {"patient": patient, "me": me, "doctor": doctor, "department": department}


def _rows():
    return SymptomReport.objects.for_system(SYSTEM)


def test_a_patient_reports_a_symptom_and_the_care_team_sees_it(org_a, world):
    created = report(
        world["me"],
        org_a,
        symptom_code="r51.9",
        symptom_text="  throbbing   behind the eyes ",
        severity="7",
        body_location="head",
        body_location_detail="left temple",
        triggers=["bright light", "Bright light", " "],
        relief_factors=["dark room"],
        associated_symptoms=["r11.0", "tired"],
    )
    assert created.organization_id == org_a.id
    assert created.patient_id == world["patient"].id
    assert created.symptom_code == "R51.9"
    assert created.symptom_text == "throbbing behind the eyes"
    assert created.severity == 7
    assert created.onset_days_ago == 2
    assert created.triggers == ["bright light"]
    assert created.associated_symptoms == ["R11.0", "tired"]
    assert timezone.now() - created.onset_at - dt.timedelta(days=2) < dt.timedelta(minutes=1)
    seen = symptoms.symptom_report_list(ctx=world["doctor"], patient_id=world["patient"].id)
    assert [r.id for r in seen] == [created.id]
    assert seen[0].has_photo is False
    assert symptoms.symptom_report_get(ctx=world["doctor"], report_id=created.id).body_location_detail == "left temple"
    audited = AuditEvent.objects.for_system(SYSTEM).get(action="clinical.symptom_report.create")
    assert audited.organization_id == org_a.id  # the patient's own access log shows the hospital
    assert audited.patient_id == world["patient"].id
    assert audited.purpose_of_use == "PATRQT"


def test_the_free_text_is_encrypted_at_rest(org_a, world):
    created = report(world["me"], org_a, symptom_text="a very private pain", triggers=["walking uphill"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT symptom_text, triggers, body_location_detail FROM clinical_symptomreport WHERE id = %s",
            [created.id.hex if connection.vendor == "sqlite" else created.id],
        )
        row = cursor.fetchone()
    assert all(value.startswith("phb1:") for value in row)
    assert "private" not in "".join(row)


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"severity": -1}, "severity", "out_of_range"),
        ({"severity": 11}, "severity", "out_of_range"),
        ({"severity": "x"}, "severity", "not_a_whole_number"),
        ({"severity": True}, "severity", "required"),
        ({"severity": 4.5}, "severity", "not_a_whole_number"),
        ({"severity": None}, "severity", "required"),
        ({"symptom_code": "", "symptom_text": ""}, "symptom", "required"),
        ({"symptom_code": "Z99"}, "symptom_code", "unknown_code"),
        ({"symptom_text": "x" * 501}, "symptom_text", "too_long"),
        ({"onset_days_ago": None}, "onset", "required"),
        ({"onset_at": timezone.now()}, "onset", "onset_ambiguous"),
        ({"onset_days_ago": 3651}, "onset_days_ago", "out_of_range"),
        ({"onset_days_ago": -1}, "onset_days_ago", "out_of_range"),
        ({"onset_days_ago": 365 * 60}, "onset_days_ago", "out_of_range"),
        ({"onset_days_ago": None, "onset_at": timezone.now() + dt.timedelta(hours=1)}, "onset_at", "in_the_future"),
        ({"onset_days_ago": None, "onset_at": "yesterday"}, "onset_at", "invalid"),
        ({"body_location": "elbow"}, "body_location", "unknown_body_location"),
        ({"body_location_detail": "x" * 301}, "body_location_detail", "too_long"),
        ({"triggers": "stairs"}, "triggers", "not_a_list"),
        ({"triggers": [1]}, "triggers", "not_a_list"),
        ({"relief_factors": ["x" * 121]}, "relief_factors", "too_long"),
        ({"associated_symptoms": [f"s{i}" for i in range(11)]}, "associated_symptoms", "too_many"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(org_a, world, fields, field, code):
    with pytest.raises(ValidationFailed) as refused:
        report(world["me"], org_a, **fields)
    assert (field, code) in [(e["field"], e["code"]) for e in refused.value.extra["errors"]]
    assert not _rows().exists()


def test_a_symptom_cannot_start_before_the_patient_was_born(org_a):
    _, child = portal_patient(org_a, years=8)
    with pytest.raises(ValidationFailed) as refused:
        report(child, org_a, onset_days_ago=365 * 9)
    assert refused.value.extra["errors"][0]["code"] == "before_birth"


def test_every_bad_field_is_named_at_once(org_a, world):
    with pytest.raises(ValidationFailed) as refused:
        report(world["me"], org_a, severity=12, symptom_code="nope", body_location="elbow", triggers="x")
    fields = {e["field"] for e in refused.value.extra["errors"]}
    assert fields == {"severity", "symptom_code", "body_location", "triggers"}


def test_a_patient_reports_only_to_a_hospital_where_they_are_registered(org_a, org_b, world):
    with pytest.raises(ValidationFailed) as refused:
        report(world["me"], org_b)
    assert refused.value.extra["errors"][0]["code"] == "not_registered"
    with pytest.raises(ValidationFailed):
        report(world["me"], SimpleNamespace(id=uuid.uuid4()))
    assert not _rows().exists()


def test_an_account_without_a_patient_record_reports_nothing(org_a):
    with pytest.raises(NotFound):
        report(Ctx(actor_id=uuid.uuid4()), org_a)


def test_the_photo_is_re_encoded_as_a_jpeg_and_kept_encrypted(org_a, world):
    created = report(world["me"], org_a, photo=png())
    jpeg = symptoms.my_symptom_photo(ctx=world["me"], report_id=created.id)
    assert jpeg.startswith(b"\xff\xd8")
    assert symptoms.symptom_report_photo(ctx=world["doctor"], report_id=created.id) == jpeg
    assert symptoms.my_symptom_reports(ctx=world["me"])[0].has_photo is True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT photo FROM clinical_symptomreport WHERE id = %s",
            [created.id.hex if connection.vendor == "sqlite" else created.id],
        )
        assert cursor.fetchone()[0].startswith("phb1:")


@pytest.mark.parametrize(("data", "code"), [(b"not an image", "not_an_image"), (b"", "photo_size")])
def test_a_bad_photo_refuses_the_report(org_a, world, data, code):
    with pytest.raises(ValidationFailed) as refused:
        report(world["me"], org_a, photo=data)
    assert refused.value.extra["errors"][0]["code"] == code
    assert not _rows().exists()


def test_a_photo_too_large_is_refused(org_a, world):
    with pytest.raises(ValidationFailed):
        report(world["me"], org_a, photo=b"\x89PNG" + b"0" * symptoms.PHOTO_MAX_BYTES)


def test_a_photo_is_added_once_on_the_day_of_the_report(org_a, world):
    created = report(world["me"], org_a)
    assert symptoms.my_symptom_photo(ctx=world["me"], report_id=created.id) is None
    symptoms.symptom_report_photo_attach(ctx=world["me"], report_id=created.id, data=png())
    with pytest.raises(Conflict) as twice:
        symptoms.symptom_report_photo_attach(ctx=world["me"], report_id=created.id, data=png())
    assert twice.value.code == "PHOTO_PRESENT"
    old = report(world["me"], org_a)
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    _rows().filter(id=old.id).update(reported_at=two_days_ago, onset_at=two_days_ago - dt.timedelta(days=2))
    with pytest.raises(Conflict) as late:
        symptoms.symptom_report_photo_attach(ctx=world["me"], report_id=old.id, data=png())
    assert late.value.code == "REPORT_CLOSED"


def test_a_patient_never_reaches_anothers_reports(org_a, world):
    created = report(world["me"], org_a, photo=png())
    _, other = portal_patient(org_a)
    mine = report(other, org_a)
    assert [r.id for r in symptoms.my_symptom_reports(ctx=other)] == [mine.id]
    with pytest.raises(NotFound):
        symptoms.my_symptom_report_get(ctx=other, report_id=created.id)
    with pytest.raises(NotFound):
        symptoms.my_symptom_photo(ctx=other, report_id=created.id)
    with pytest.raises(NotFound):
        symptoms.symptom_report_photo_attach(ctx=other, report_id=created.id, data=png())
    assert [s.key for s in symptoms.my_symptom_trends(ctx=other)] == ["R51.9"]
    assert len(symptoms.my_symptom_trends(ctx=other)[0].points) == 1
    denied = AuditEvent.objects.for_system(SYSTEM).filter(action="clinical.symptom_report.read", outcome="denied")
    assert denied.filter(resource_id=str(created.id)).exists()


def test_a_patient_sees_their_reports_at_every_hospital(org_a, org_b):
    _, me = portal_patient(org_a, org_b)
    report(me, org_a)
    report(me, org_b, symptom_code="R05.9")
    assert {r.organization_id for r in symptoms.my_symptom_reports(ctx=me)} == {org_a.id, org_b.id}
    with pytest.raises(ValidationFailed):
        symptoms.my_symptom_reports(ctx=me, limit=0)


def test_the_care_team_sees_only_its_own_organizations_reports_and_others_see_nothing(org_a, org_b, world):
    patient, me = world["patient"], world["me"]
    created = report(me, org_a)
    stranger = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    foreign = clinician(org_b, "doctor")
    desk = clinician(org_a, "receptionist")
    for ctx in (stranger, foreign):
        with pytest.raises(NotFound):
            symptoms.symptom_report_list(ctx=ctx, patient_id=patient.id)
        with pytest.raises(NotFound):
            symptoms.symptom_report_get(ctx=ctx, report_id=created.id)
        with pytest.raises(NotFound):
            symptoms.symptom_report_photo(ctx=ctx, report_id=created.id)
        with pytest.raises(NotFound):
            symptoms.symptom_trends(ctx=ctx, patient_id=patient.id)
    with pytest.raises(Forbidden):
        symptoms.symptom_report_list(ctx=desk, patient_id=patient.id)
    with pytest.raises(Forbidden):
        symptoms.symptom_report_get(ctx=desk, report_id=created.id)


def test_trends_group_reports_by_symptom_oldest_first(org_a, world):
    me = world["me"]
    first = report(me, org_a, severity=3)
    report(me, org_a, symptom_code="", symptom_text="Knee clicking", severity=2)
    report(me, org_a, severity=8)
    report(me, org_a, symptom_code="", symptom_text="knee  CLICKING", severity=2)
    stamps = timezone.now() - dt.timedelta(days=3)
    _rows().filter(id=first.id).update(reported_at=stamps, onset_at=stamps - dt.timedelta(days=2))
    series = symptoms.symptom_trends(ctx=world["doctor"], patient_id=world["patient"].id)
    by_key = {s.key: s for s in series}
    assert set(by_key) == {"R51.9", "text:knee clicking"}
    headache = by_key["R51.9"]
    assert headache.label == "Headache"
    assert [p.severity for p in headache.points] == [3, 8]
    assert (headache.change, headache.direction) == (5, "worse")
    assert by_key["text:knee clicking"].direction == "same"
    chart = headache.chart
    assert chart.gridlines == ((106.0, 0), (60.0, 5), (14.0, 10))  # 0 at the bottom, 10 at the top
    assert [d[1] for d in chart.dots] == [78.4, 32.4]
    assert chart.dots[0][0] == 14.0
    assert chart.dots[-1][0] == 306.0
    assert chart.polyline.count(",") == 2
    single = symptoms.chart_of(headache.points[:1])
    assert single.polyline == ""
    assert single.dots[0][0] == 160.0
    recent = {s.key: [p.severity for p in s.points] for s in symptoms.my_symptom_trends(ctx=me, days=1)}
    assert recent["R51.9"] == [8]
    with pytest.raises(ValidationFailed):
        symptoms.symptom_trends(ctx=world["doctor"], patient_id=world["patient"].id, days=0)


def test_the_summary_reads_in_a_fixed_number_of_queries(org_a, world, django_assert_num_queries):
    me, doctor, patient = world["me"], world["doctor"], world["patient"]
    report(me, org_a, severity=4)
    with CaptureQueriesContext(connection) as few:
        symptoms.symptom_summary(ctx=doctor, patient_id=patient.id)
    for code, severity in [("R05.9", 6), ("R50.9", 9), ("R51.9", 2), ("R42", 1)]:
        report(me, org_a, symptom_code=code, severity=severity)
    with django_assert_num_queries(len(few.captured_queries)):
        summary = symptoms.symptom_summary(ctx=doctor, patient_id=patient.id)
    assert summary.reports == 5
    assert summary.worst_last_week == 9
    assert summary.series[0].key == "R42"
    assert {s.key for s in summary.series} == {"R05.9", "R50.9", "R51.9", "R42"}
    assert summary.more == 0


def test_the_portal_list_of_symptoms_ships_with_its_sources():
    catalogue = symptoms.symptom_catalogue()
    assert len(catalogue) >= 30
    assert catalogue["R51.9"].icd10cm == "Headache, unspecified"
    assert all(s.name and s.icd10cm for s in catalogue.values())
    assert "symptom_codes.json" in (symptoms.SYMPTOMS_FILE.parent / "SOURCES.md").read_text()


def test_every_code_of_the_list_is_the_icd10cm_code_terminology_holds():
    from phb.terminology.public import ICD10_CM, lookup
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    for symptom in symptoms.symptom_catalogue().values():
        concept = lookup(ICD10_CM, symptom.code)
        assert concept is not None, symptom.code
        assert concept.code == symptom.code
        assert concept.display == symptom.icd10cm
