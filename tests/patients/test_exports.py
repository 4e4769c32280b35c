"""Exports of a patient's data (right of access): request, background build, download, expiry, failure."""

import base64
import dataclasses
import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Gone, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.patients import consents, exports, services, tasks
from phb.patients.models import EmergencyContact, ExportStatus, InsurancePolicy, PatientExport
from tests.accounts.factories import UserFactory, staff_member

pytestmark = pytest.mark.django_db

NIN = "12345678901"
PASSPORT = "A07654321"
MEMBER_ID = "NHIS-99-4412"


@pytest.fixture
def person(org_a, org_b):
    """A patient with a little of everything: identifiers, a contact, insurance, two registrations,
    consents (one withdrawn) and a doctor's access to their record."""
    user = UserFactory()
    patient = services.patient_create(
        ctx=Ctx.system(reason="t"),
        given_name="Olumide",
        family_name="Bakare",
        birth_date=dt.date(1970, 1, 1),
        nin=NIN,
        passport=PASSPORT,
        user=user,
    )
    EmergencyContact.objects.create(patient=patient, name="Ada Bakare", relationship="sister", phone="+2348012345678")
    InsurancePolicy.objects.create(patient=patient, insurer="NHIA", scheme="formal sector", member_id=MEMBER_ID)
    services.registration_create(
        ctx=Ctx.system(reason="t", organization_id=org_a.id), patient_id=patient.id, at_desk=True, new_patient=True
    )
    services.registration_create(
        ctx=Ctx(actor_id=user.id, organization_id=org_b.id), patient_id=patient.id, at_desk=False
    )
    me = Ctx(actor_id=user.id)
    sharing = consents.consent_grant(
        ctx=me, patient_id=patient.id, kind="sharing", version="2026-01", to_organization_id=org_b.id
    )
    consents.consent_withdraw(ctx=me, consent_id=sharing.id)
    consents.consent_grant(ctx=me, patient_id=patient.id, kind="research", version="2026-01")
    audit.record(
        Ctx(actor_id=uuid.uuid4(), organization_id=org_a.id, roles=frozenset({"doctor"}), purpose_of_use="ETREAT"),
        "clinical.chart.read",
        patient_id=patient.id,
    )
    return patient, me


def events(patient, action):
    return AuditEvent.objects.for_patient(Ctx.system(reason="t"), patient_id=patient.id).filter(action=action)


def build(export):
    assert exports.export_build(export_id=export.id) in (ExportStatus.READY, ExportStatus.FAILED)
    export.refresh_from_db()
    return export


def test_the_full_flow_request_build_download(person, django_capture_on_commit_callbacks, monkeypatch):
    patient, me = person
    queued = []
    monkeypatch.setattr(tasks.export_build, "delay", lambda export_id: queued.append(export_id))
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.export_request(ctx=me, patient_id=patient.id)
    assert export.status == ExportStatus.QUEUED
    assert export.progress == 0
    assert queued == [str(export.id)]  # enqueued once the request committed
    assert events(patient, "patients.export.request").count() == 1

    assert tasks.export_build(str(export.id)) == ExportStatus.READY
    export.refresh_from_db()
    assert (export.status, export.progress, export.error_code) == (ExportStatus.READY, 100, "")
    assert export.started_at <= export.finished_at
    assert export.expires_at == export.finished_at + dt.timedelta(hours=24)
    assert export.schema_version == exports.SCHEMA_VERSION
    assert tasks.export_build(str(export.id)) == "skipped"  # a second delivery of the task does nothing

    pdf = exports.export_download(ctx=me, export_id=export.id, fmt="pdf")
    assert pdf.content.startswith(b"%PDF")
    assert pdf.content_type == "application/pdf"
    assert pdf.filename.endswith(".pdf")
    assert len(pdf.content) == export.pdf_bytes
    document = json.loads(exports.export_download(ctx=me, export_id=export.id, fmt="json").content)
    assert document["format"] == "phb.patient-export"
    assert events(patient, "patients.export.download").count() == 2
    assert sorted(events(patient, "patients.export.download").values_list("detail__format", flat=True)) == [
        "json",
        "pdf",
    ]


def test_the_json_document_holds_every_section_with_identifiers_decrypted(person, org_a, org_b):
    patient, me = person
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    doc = json.loads(exports.export_download(ctx=me, export_id=export.id, fmt="json").content)
    assert doc["schema_version"] == "1.0"
    assert doc["generated_at"].endswith("Z")
    assert doc["patient_id"] == str(patient.id)
    assert doc["export_id"] == str(export.id)
    s = doc["sections"]
    assert [x["name"] for x in doc["section_index"]] == list(s)
    assert set(s) >= {
        "demographics",
        "emergency_contacts",
        "insurance_policies",
        "registrations",
        "consents",
        "access_log",
    }

    demographics = s["demographics"]
    assert demographics["given_name"] == "Olumide"
    assert demographics["birth_date"] == "1970-01-01"
    assert demographics["hpn"] == patient.hpn
    assert demographics["identifiers"] == {"nin": NIN, "passport": PASSPORT, "ssn": None}
    assert not any(k.endswith("_index") for k in demographics)  # blind indexes are PHB's, not the patient's
    assert s["emergency_contacts"][0]["name"] == "Ada Bakare"
    assert s["insurance_policies"][0]["member_id"] == MEMBER_ID

    registrations = {r["organization_name"]: r for r in s["registrations"]}
    assert registrations["Hospital A"]["status"] == "approved"
    assert registrations["Hospital A"]["is_primary"]
    assert registrations["Hospital B"]["status"] == "pending"
    assert all(r["mrn"] for r in s["registrations"])

    by_kind = {c["kind"]: c for c in s["consents"]}
    assert by_kind["sharing"]["status"] == "withdrawn"
    assert by_kind["sharing"]["withdrawn_by"] == "patient"
    assert by_kind["sharing"]["to_organization"] == {"id": str(org_b.id), "name": "Hospital B"}
    assert by_kind["research"]["status"] == "in_force"

    reads = [e for e in s["access_log"] if e["action"] == "clinical.chart.read"]
    assert reads == [
        {
            "occurred_at": reads[0]["occurred_at"],
            "action": "clinical.chart.read",
            "organization_id": str(org_a.id),
            "organization_name": "Hospital A",
            "roles": "doctor",
            "emergency": True,
            "outcome": "success",
        }
    ]
    # As the access log shows it: the patient's own actions (giving consents, asking for the export) are not there.
    assert not {"patients.consent.grant", "patients.export.request"} & {e["action"] for e in s["access_log"]}


def test_the_stored_files_are_encrypted_in_the_database(person):
    patient, me = person
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT content_json, content_pdf FROM patients_patientexport WHERE id = %s",
            [PatientExport._meta.pk.get_db_prep_value(export.id, connection)],
        )
        raw_json, raw_pdf = cursor.fetchone()
    for raw in (raw_json, raw_pdf):
        assert raw.startswith("phb1:")
        assert NIN not in raw
        assert "Olumide" not in raw
        assert MEMBER_ID not in raw
    assert base64.b64encode(b"%PDF").decode() not in raw_pdf
    assert "schema_version" not in raw_json


def test_progress_moves_while_the_sections_are_built(person, monkeypatch):
    patient, me = person
    seen = []

    def watcher(*, ctx, patient_id):
        seen.append(PatientExport.objects.filter(patient_id=patient_id).values_list("status", "progress").get())
        return {"checked": True}

    monkeypatch.setattr(exports, "_sections", dict(exports._sections))
    exports.register_export_section("zz_watcher", watcher, title="Watcher", order=1000)
    export = exports.export_request(ctx=me, patient_id=patient.id)
    assert (export.status, export.progress) == (ExportStatus.QUEUED, 0)
    build(export)
    status, progress = seen[0]
    assert status == ExportStatus.RUNNING
    assert 5 <= progress < 100
    assert (export.status, export.progress) == (ExportStatus.READY, 100)


def test_a_section_of_another_app_appears_in_both_files(person, monkeypatch):
    patient, me = person
    monkeypatch.setattr(exports, "_sections", dict(exports._sections))
    exports.register_export_section(
        "medications",
        lambda *, ctx, patient_id: [{"name": "Amlodipine", "dose": "5 mg", "started_on": dt.date(2026, 1, 2)}],
        title="Medications",
        order=60,
    )
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    doc = json.loads(exports.export_download(ctx=me, export_id=export.id, fmt="json").content)
    assert doc["sections"]["medications"] == [{"name": "Amlodipine", "dose": "5 mg", "started_on": "2026-01-02"}]
    assert exports.export_download(ctx=me, export_id=export.id, fmt="pdf").content.startswith(b"%PDF")
    with pytest.raises(ValueError, match="section name"):
        exports.register_export_section("Bad Name", lambda **kw: None)


def test_a_failing_section_fails_the_export_with_a_stable_code_and_no_content(person, monkeypatch):
    patient, me = person

    def boom(*, ctx, patient_id):
        raise RuntimeError("a message quoting health data")

    monkeypatch.setitem(exports._sections, "consents", dataclasses.replace(exports._sections["consents"], fn=boom))
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    assert export.status == ExportStatus.FAILED
    assert export.error_code == "EXPORT_SECTION_FAILED"
    assert export.content_json is None
    assert export.content_pdf is None
    assert export.expires_at is None
    failure = events(patient, "patients.export.build").get()
    assert failure.outcome == "failure"
    assert failure.detail == {"code": "EXPORT_SECTION_FAILED", "section": "consents"}
    with pytest.raises(Conflict) as raised:
        exports.export_download(ctx=me, export_id=export.id, fmt="json")
    assert raised.value.code == "EXPORT_FAILED"
    # A failed export does not block a new one.
    assert exports.export_request(ctx=me, patient_id=patient.id).status == ExportStatus.QUEUED


def test_a_failing_pdf_fails_the_export(person, monkeypatch):
    patient, me = person
    import weasyprint

    def broken(*args, **kwargs):
        raise OSError("no fonts")

    monkeypatch.setattr(weasyprint, "HTML", broken)
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    assert (export.status, export.error_code) == (ExportStatus.FAILED, "EXPORT_RENDER_FAILED")
    assert export.content_json is None


def test_one_export_at_a_time(person):
    patient, me = person
    exports.export_request(ctx=me, patient_id=patient.id)
    with pytest.raises(Conflict) as raised:
        exports.export_request(ctx=me, patient_id=patient.id)
    assert raised.value.code == "EXPORT_IN_PROGRESS"
    assert PatientExport.objects.filter(patient=patient).count() == 1


def test_only_the_patient_may_request_or_download(person, org_a):
    patient, me = person
    doctor, _ = staff_member(org_a, "doctor")
    other_user = UserFactory()
    services.patient_create(ctx=Ctx.system(reason="t"), given_name="Other", family_name="Person", user=other_user)
    strangers = [
        Ctx(actor_id=doctor.id, organization_id=org_a.id, roles=frozenset({"doctor"})),
        Ctx(actor_id=other_user.id),
        Ctx.anonymous(),
    ]
    for stranger in strangers:
        with pytest.raises(NotFound):
            exports.export_request(ctx=stranger, patient_id=patient.id)
        with pytest.raises(NotFound):
            exports.export_list(ctx=stranger, patient_id=patient.id)
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    for stranger in strangers:
        with pytest.raises(NotFound):
            exports.export_download(ctx=stranger, export_id=export.id, fmt="json")
        with pytest.raises(NotFound):
            exports.export_get(ctx=stranger, export_id=export.id)
    assert events(patient, "patients.export.download").count() == 0
    with pytest.raises(NotFound):
        exports.export_request(ctx=me, patient_id=uuid.uuid4())


def test_downloads_wait_until_ready_and_refuse_unknown_formats(person):
    patient, me = person
    export = exports.export_request(ctx=me, patient_id=patient.id)
    with pytest.raises(Conflict) as raised:
        exports.export_download(ctx=me, export_id=export.id, fmt="pdf")
    assert raised.value.code == "EXPORT_NOT_READY"
    build(export)
    with pytest.raises(ValidationFailed):
        exports.export_download(ctx=me, export_id=export.id, fmt="docx")


def test_exports_expire_after_24_hours_and_their_files_are_wiped(person, monkeypatch):
    patient, me = person
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    later = export.expires_at + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(Gone) as raised:  # past its time, even before the sweep has run
        exports.export_download(ctx=me, export_id=export.id, fmt="json")
    assert raised.value.code == "EXPORT_EXPIRED"
    assert raised.value.status == 410
    assert tasks.exports_maintain()["expired"] == 1
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert export.content_json is None
    assert export.content_pdf is None
    assert events(patient, "patients.export.expire").count() == 1
    with pytest.raises(Gone):
        exports.export_download(ctx=me, export_id=export.id, fmt="pdf")
    assert exports.exports_maintain()["expired"] == 0


def test_the_sweep_leaves_fresh_exports_alone_and_recovers_lost_or_stuck_builds(person, monkeypatch):
    patient, me = person
    export = build(exports.export_request(ctx=me, patient_id=patient.id))
    assert exports.exports_maintain() == {"expired": 0, "timed_out": 0, "requeued": 0}
    export.refresh_from_db()
    assert export.status == ExportStatus.READY

    queued = []
    monkeypatch.setattr(tasks.export_build, "delay", lambda export_id: queued.append(export_id))
    lost = exports.export_request(ctx=me, patient_id=patient.id)
    assert exports.exports_maintain(now=timezone.now() + dt.timedelta(minutes=11))["requeued"] == 1
    assert queued == [str(lost.id)]

    PatientExport.objects.filter(id=lost.id).update(status=ExportStatus.RUNNING, started_at=timezone.now())
    assert exports.exports_maintain(now=timezone.now() + dt.timedelta(hours=2))["timed_out"] == 1
    lost.refresh_from_db()
    assert (lost.status, lost.error_code) == (ExportStatus.FAILED, "EXPORT_TIMED_OUT")


def test_the_database_refuses_content_on_an_export_that_is_not_ready(person):
    from django.db import IntegrityError, transaction

    patient, me = person
    export = exports.export_request(ctx=me, patient_id=patient.id)
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientExport.objects.filter(id=export.id).update(content_json="{}")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientExport.objects.filter(id=export.id).update(progress=101)
