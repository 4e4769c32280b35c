"""Medical, surgical and family history, social history (versioned by date) and immunizations:
the rules of each kind, bad input, entered in error, and the chart summaries' queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phb.clinical import history_selectors, history_services
from phb.clinical.history_services import CVX
from phb.clinical.models import HistoryEntry, Immunization, SocialHistory
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from tests.clinical.factories import clinician
from tests.clinical.history_factories import CVX_COVID, seeing

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()


def _codes(error: ValidationFailed) -> set[str]:
    return {e["code"] for e in error.extra["errors"]}


def history(ctx, patient, kind, **data):
    return history_services.history_entry_create(ctx=ctx, patient_id=patient.id, kind=kind, **data)


def test_medical_surgical_and_family_history(org_a):
    ctx, patient = seeing(org_a)
    medical = history(
        ctx,
        patient,
        "medical",
        concept={"system": "http://snomed.info/sct", "code": "195967001", "display": "Asthma"},
        onset_on="2001-04-01",
        note="childhood",
    )
    surgical = history(ctx, patient, "surgical", concept={"text": "Appendicectomy"}, performed_on="2010-06-15")
    family = history(ctx, patient, "family", concept={"text": "Sickle cell disease"}, relationship="MTH", onset_age=3)
    assert (medical.code, medical.code_display, medical.note) == ("195967001", "Asthma", "childhood")
    assert surgical.performed_on == dt.date(2010, 6, 15)
    assert (family.relationship, family.onset_age, family.relative_deceased) == ("MTH", 3, None)
    assert [e.kind for e in history_selectors.history_list(ctx=ctx, patient_id=patient.id, kind="family")] == ["family"]
    changed = history_services.history_entry_update(ctx=ctx, entry_id=family.id, relative_deceased=True)
    assert changed.relative_deceased is True
    with pytest.raises(ValidationFailed):
        history_selectors.history_list(ctx=ctx, patient_id=patient.id, kind="social")


@pytest.mark.parametrize(
    ("kind", "data", "code"),
    [
        ("medical", {}, "required"),
        ("medical", {"concept": {"text": "x"}, "performed_on": "2001-01-01"}, "not_for_kind"),
        ("medical", {"concept": {"text": "x"}, "onset_on": "2005-01-01", "resolved_on": "2004-01-01"}, "before_onset"),
        ("medical", {"concept": {"text": "x"}, "onset_on": str(TODAY + dt.timedelta(days=1))}, "in_the_future"),
        ("surgical", {"concept": {"text": "x"}, "relationship": "MTH"}, "not_for_kind"),
        ("surgical", {"concept": {"text": "x"}, "performed_on": "1950-01-01"}, "before_birth"),
        ("family", {"concept": {"text": "x"}}, "invalid_choice"),
        ("family", {"concept": {"text": "x"}, "relationship": "MTH", "onset_age": 131}, "out_of_range"),
        ("family", {"concept": {"text": "x"}, "relationship": "MTH", "onset_age": "3"}, "not_a_whole_number"),
        ("family", {"concept": {"text": "x"}, "relationship": "MTH", "relative_deceased": "yes"}, "invalid"),
        ("gossip", {"concept": {"text": "x"}}, "invalid_choice"),
    ],
)
def test_bad_history_is_refused(org_a, kind, data, code):
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    ctx, patient = seeing(org_a)
    with pytest.raises(ValidationFailed) as refused:
        history(ctx, patient, kind, **data)
    assert code in _codes(refused.value)
    assert not HistoryEntry.objects.for_tenant(ctx).exists()


def test_an_icd10_condition_is_checked_against_the_classification(org_a):
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    ctx, patient = seeing(org_a)
    entry = history(ctx, patient, "medical", concept={"system": "icd10-cm", "code": "e119"})
    assert (entry.code, entry.code_display) == ("E11.9", "Type 2 diabetes mellitus without complications")
    with pytest.raises(ValidationFailed) as refused:
        history(ctx, patient, "medical", concept={"system": "icd10-cm", "code": "E11.99"})
    assert refused.value.code == "UNKNOWN_CODE"


def test_history_entered_in_error(org_a, org_b):
    ctx, patient = seeing(org_a)
    entry = history(ctx, patient, "medical", concept={"text": "Malaria"})
    with pytest.raises(NotFound):
        history_services.history_entry_mark_entered_in_error(ctx=clinician(org_b), entry_id=entry.id, reason="x")
    history_services.history_entry_mark_entered_in_error(ctx=ctx, entry_id=entry.id, reason="duplicate")
    assert list(history_selectors.history_list(ctx=ctx, patient_id=patient.id)) == []
    with pytest.raises(Conflict):
        history_services.history_entry_update(ctx=ctx, entry_id=entry.id, note="x")


def test_social_history_is_versioned_by_date(org_a):
    ctx, patient = seeing(org_a)
    old = history_services.social_history_record(
        ctx=ctx,
        patient_id=patient.id,
        recorded_on=TODAY - dt.timedelta(days=400),
        tobacco="current",
        tobacco_pack_years="12.5",
        alcohol="regular",
        alcohol_units_per_week=10,
        occupation="Trader",
    )
    new = history_services.social_history_record(
        ctx=ctx, patient_id=patient.id, tobacco="former", tobacco_pack_years=13, living_situation="family"
    )
    assert [v.id for v in history_selectors.social_history_list(ctx=ctx, patient_id=patient.id)] == [new.id, old.id]
    assert history_selectors.history_summary(ctx=ctx, patient_id=patient.id)["social"]["id"] == str(new.id)
    history_services.social_history_mark_entered_in_error(ctx=ctx, version_id=new.id, reason="wrong patient")
    current = history_selectors.history_summary(ctx=ctx, patient_id=patient.id)["social"]
    assert current["id"] == str(old.id)
    assert current["occupation"] == "Trader"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"tobacco": "sometimes"}, "invalid_choice"),
        ({"tobacco": "never", "tobacco_pack_years": 3}, "not_a_smoker"),
        ({"tobacco": "current", "tobacco_pack_years": "lots"}, "not_a_number"),
        ({"tobacco": "current", "tobacco_pack_years": 301}, "out_of_range"),
        ({"alcohol": "none", "alcohol_units_per_week": 4}, "not_a_drinker"),
        ({"alcohol": "regular", "alcohol_units_per_week": -1}, "out_of_range"),
        ({"living_situation": "castle"}, "invalid_choice"),
        ({"recorded_on": TODAY + dt.timedelta(days=1)}, "in_the_future"),
        ({"occupation": "x" * 501}, "too_long"),
    ],
)
def test_bad_social_history_is_refused(org_a, data, code):
    ctx, patient = seeing(org_a)
    with pytest.raises(ValidationFailed) as refused:
        history_services.social_history_record(ctx=ctx, patient_id=patient.id, **data)
    assert code in _codes(refused.value)
    assert not SocialHistory.objects.for_tenant(ctx).exists()


def immunize(ctx, patient, **data):
    return history_services.immunization_record(
        ctx=ctx, patient_id=patient.id, **{"vaccine": CVX_COVID, "occurred_on": TODAY, **data}
    )


def test_immunizations_given_reported_and_not_done(org_a):
    ctx, patient = seeing(org_a)
    given = immunize(ctx, patient, dose_number=2, lot_number="EW0182", site="LD", route="IM")
    assert (given.vaccine_system, given.vaccine_code, given.performer_id) == (CVX, "208", ctx.actor_id)
    reported = immunize(
        ctx,
        patient,
        vaccine={"text": "Yellow fever"},
        occurred_on="2015-02-01",
        reported=True,
        performer_text="Port health clinic",
    )
    assert reported.performer_id is None
    refused = immunize(
        ctx, patient, vaccine={"system": "cvx", "code": "88"}, status="not-done", not_done_reason="PATOBJ"
    )
    assert refused.not_done_reason == "PATOBJ"
    summary = history_selectors.immunization_summary(ctx=ctx, patient_id=patient.id)
    assert [i["label"] for i in summary["immunizations"]] == ["88", "COVID-19, mRNA, 30 mcg/0.3 mL", "Yellow fever"]
    assert summary["more"] is False
    nurse = clinician(org_a, "nurse")
    changed = history_services.immunization_update(ctx=ctx, immunization_id=given.id, performer_id=nurse.actor_id)
    assert changed.performer_id == nurse.actor_id
    history_services.immunization_mark_entered_in_error(ctx=ctx, immunization_id=given.id, reason="other arm")
    assert len(history_selectors.immunization_list(ctx=ctx, patient_id=patient.id)) == 2


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"vaccine": {}}, "required"),
        ({"vaccine": {"system": "cvx", "code": "1234"}}, "invalid"),
        ({"occurred_on": None}, "required"),
        ({"occurred_on": TODAY + dt.timedelta(days=1)}, "in_the_future"),
        ({"occurred_on": "1960-01-01"}, "before_birth"),
        ({"status": "given"}, "invalid_choice"),
        ({"status": "not-done"}, "required"),
        ({"status": "not-done", "not_done_reason": "PATOBJ", "lot_number": "A1"}, "not_for_not_done"),
        ({"not_done_reason": "PATOBJ"}, "not_for_completed"),
        ({"not_done_reason": "LAZY", "status": "not-done"}, "invalid_choice"),
        ({"dose_number": 0}, "out_of_range"),
        ({"site": "EAR"}, "invalid_choice"),
        ({"route": "IV"}, "invalid_choice"),
        ({"performer_id": "not-a-uuid"}, "not_a_clinician"),
        ({"reported": "yes"}, "invalid"),
        ({"lot": "A1"}, "unknown_field"),
    ],
)
def test_bad_immunizations_are_refused(org_a, data, code):
    ctx, patient = seeing(org_a)
    with pytest.raises(ValidationFailed) as refused:
        immunize(ctx, patient, **data)
    assert code in _codes(refused.value)
    assert not Immunization.objects.for_tenant(ctx).exists()


def test_a_performer_must_be_a_clinician_here(org_a, org_b):
    ctx, patient = seeing(org_a)
    with pytest.raises(ValidationFailed) as refused:
        immunize(ctx, patient, performer_id=clinician(org_b).actor_id)
    assert "not_a_clinician" in _codes(refused.value)


def _reads(queries, *tables: str) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in tables)]


def test_history_and_immunization_summaries_read_in_two_and_one_queries(org_a):
    ctx, patient = seeing(org_a)
    for i in range(4):
        history(ctx, patient, "medical", concept={"text": f"condition {i}"}, resolved_on=TODAY if i % 2 else None)
        history(ctx, patient, "surgical", concept={"text": f"operation {i}"}, performed_on=f"20{10 + i}-01-01")
        history(ctx, patient, "family", concept={"text": f"illness {i}"}, relationship="FTH")
        history_services.social_history_record(ctx=ctx, patient_id=patient.id, tobacco="never")
        immunize(ctx, patient, dose_number=i + 1)
    with CaptureQueriesContext(connection) as queries:
        summary = history_selectors.history_summary(ctx=ctx, patient_id=patient.id)
    assert len(_reads(queries, "clinical_historyentry", "clinical_socialhistory")) == 2
    assert next(line["label"] for line in summary["surgical"]) == "operation 3"
    assert all(line["resolved_on"] is None for line in summary["medical"][:2])
    assert len(summary["family"]) == 4
    with CaptureQueriesContext(connection) as queries:
        summary = history_selectors.immunization_summary(ctx=ctx, patient_id=patient.id)
    assert len(_reads(queries, "clinical_immunization")) == 1
    assert len(summary["immunizations"]) == 4
