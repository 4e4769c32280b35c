"""Allergies and intolerances: coded or free-text substances, "no known allergies" as its own
assertion (retired by an active allergy; refused while active allergies exist), duplicates refused,
entered in error instead of deleted, the public list for prescribing safety, and bad input."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from phb.clinical import history_selectors, history_services, public
from phb.clinical.models import AllergyIntolerance, NoKnownAllergies
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.terminology.public import RXNORM, Coding
from tests.clinical.factories import clinician
from tests.clinical.history_factories import RXNORM_AMOXICILLIN, SNOMED_HIVES, allergy, seeing

pytestmark = pytest.mark.django_db


def _codes(error: ValidationFailed) -> set[str]:
    return {e["code"] for e in error.extra["errors"]}


def test_record_a_coded_allergy_with_reactions(org_a):
    ctx, patient = seeing(org_a)
    made = allergy(
        ctx,
        patient,
        criticality="high",
        verification_status="confirmed",
        reactions=[{"manifestation": SNOMED_HIVES, "severity": "severe", "onset_on": "2020-05-01", "note": "ward"}],
        note="told by her mother",
    )
    stored = AllergyIntolerance.objects.for_tenant(ctx).get(id=made.id)
    assert (stored.substance_system, stored.substance_code) == (RXNORM, "7980")
    assert stored.reactions[0]["severity"] == "severe"
    assert stored.reactions[0]["onset_on"] == "2020-05-01"
    assert stored.note == "told by her mother"
    assert stored.asserted_on == timezone.localdate()
    assert stored.recorded_by_id == ctx.actor_id


def test_a_free_text_allergy_needs_no_code(org_a):
    ctx, patient = seeing(org_a)
    made = allergy(ctx, patient, {"text": "Bitter leaf"}, category="food", type="intolerance")
    assert (made.substance_code, made.substance_text) == ("", "Bitter leaf")


def test_no_known_allergies_is_its_own_assertion_retired_by_an_allergy(org_a):
    ctx, patient = seeing(org_a)
    statement = history_services.no_known_allergies_record(ctx=ctx, patient_id=patient.id)
    summary = history_selectors.allergy_summary(ctx=ctx, patient_id=patient.id)
    assert summary["status"] == "no_known_allergies"
    assert summary["no_known_allergies"]["asserted_by_id"] == str(ctx.actor_id)
    allergy(ctx, patient)
    statement.refresh_from_db()
    assert statement.retired_at is not None
    assert statement.retired_reason == "allergy_recorded"
    assert NoKnownAllergies.objects.for_tenant(ctx).filter(patient=patient).count() == 1  # kept
    assert history_selectors.allergy_summary(ctx=ctx, patient_id=patient.id)["status"] == "allergies"


def test_no_known_allergies_with_active_allergies_is_a_conflict(org_a):
    ctx, patient = seeing(org_a)
    made = allergy(ctx, patient)
    with pytest.raises(Conflict) as refused:
        history_services.no_known_allergies_record(ctx=ctx, patient_id=patient.id)
    assert refused.value.code == "ACTIVE_ALLERGIES"
    assert refused.value.extra["allergy_ids"] == [str(made.id)]
    # Once resolved, it may be asserted.
    history_services.allergy_update(ctx=ctx, allergy_id=made.id, clinical_status="resolved")
    history_services.no_known_allergies_record(ctx=ctx, patient_id=patient.id)


def test_reasserting_no_known_allergies_retires_the_previous_one(org_a):
    ctx, patient = seeing(org_a)
    first = history_services.no_known_allergies_record(ctx=ctx, patient_id=patient.id)
    second = history_services.no_known_allergies_record(ctx=ctx, patient_id=patient.id)
    first.refresh_from_db()
    assert first.retired_reason == "reasserted"
    assert second.retired_at is None
    history_services.no_known_allergies_mark_entered_in_error(ctx=ctx, statement_id=second.id)
    assert history_selectors.allergy_summary(ctx=ctx, patient_id=patient.id)["status"] == "not_recorded"
    with pytest.raises(Conflict):
        history_services.no_known_allergies_mark_entered_in_error(ctx=ctx, statement_id=second.id)


def test_a_refuted_allergy_does_not_retire_no_known_allergies(org_a):
    ctx, patient = seeing(org_a)
    statement = history_services.no_known_allergies_record(ctx=ctx, patient_id=patient.id)
    allergy(ctx, patient, verification_status="refuted")
    statement.refresh_from_db()
    assert statement.retired_at is None


def test_a_duplicate_active_allergy_is_a_conflict(org_a):
    ctx, patient = seeing(org_a)
    first = allergy(ctx, patient)
    with pytest.raises(Conflict) as refused:
        allergy(ctx, patient, {"system": RXNORM, "code": "7980"})
    assert refused.value.code == "ALLERGY_DUPLICATE"
    assert refused.value.extra["allergy_id"] == str(first.id)
    allergy(ctx, patient, {"text": "latex"}, category="environment")
    with pytest.raises(Conflict):
        allergy(ctx, patient, {"text": "  LATEX "}, category="environment")
    # A resolved one, or another substance, is no duplicate.
    allergy(ctx, patient, RXNORM_AMOXICILLIN)
    allergy(ctx, patient, clinical_status="resolved")


def test_reactivating_into_a_duplicate_is_a_conflict(org_a):
    ctx, patient = seeing(org_a)
    allergy(ctx, patient)
    old = allergy(ctx, patient, clinical_status="inactive")
    with pytest.raises(Conflict):
        history_services.allergy_update(ctx=ctx, allergy_id=old.id, clinical_status="active")
    old.refresh_from_db()
    assert old.clinical_status == "inactive"


def test_entered_in_error_instead_of_delete(org_a):
    ctx, patient = seeing(org_a)
    made = allergy(ctx, patient)
    with pytest.raises(ValidationFailed):
        history_services.allergy_mark_entered_in_error(ctx=ctx, allergy_id=made.id, reason=" ")
    marked = history_services.allergy_mark_entered_in_error(ctx=ctx, allergy_id=made.id, reason="wrong patient")
    assert marked.verification_status == "entered-in-error"
    assert marked.entered_in_error_by_id == ctx.actor_id
    assert history_selectors.allergy_list(ctx=ctx, patient_id=patient.id) == []
    assert len(history_selectors.allergy_list(ctx=ctx, patient_id=patient.id, include_entered_in_error=True)) == 1
    with pytest.raises(Conflict) as refused:
        history_services.allergy_update(ctx=ctx, allergy_id=made.id, criticality="low")
    assert refused.value.code == "ENTERED_IN_ERROR"
    again = allergy(ctx, patient)  # the same substance may be recorded again
    with pytest.raises(ValidationFailed) as refused:
        history_services.allergy_update(ctx=ctx, allergy_id=again.id, verification_status="entered-in-error")
    assert "use_entered_in_error" in _codes(refused.value)


def test_update_changes_fields_and_checks_them_again(org_a):
    ctx, patient = seeing(org_a)
    made = allergy(ctx, patient)
    changed = history_services.allergy_update(
        ctx=ctx, allergy_id=made.id, criticality="high", verification_status="confirmed", note="skin test"
    )
    assert (changed.criticality, changed.verification_status, changed.note) == ("high", "confirmed", "skin test")
    with pytest.raises(ValidationFailed):
        history_services.allergy_update(ctx=ctx, allergy_id=made.id, criticality="deadly")
    with pytest.raises(ValidationFailed):
        history_services.allergy_update(ctx=ctx, allergy_id=made.id, patient_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"substance": {}}, "required"),
        ({"substance": {"system": "rxnorm"}}, "required"),
        ({"substance": {"code": "7980"}}, "required"),
        ({"substance": {"system": "rxnorm", "code": "not-a-code"}}, "invalid"),
        ({"substance": {"system": "not a uri", "code": "1"}}, "invalid"),
        ({"substance": {"system": "icd10-cm", "code": "Z99.999"}}, "unknown_code"),
        ({"substance": {"text": "x" * 501}}, "too_long"),
        ({"substance": {"text": "x", "colour": "red"}}, "unknown_field"),
        ({"substance": "penicillin"}, "invalid"),
        ({"category": "drug"}, "invalid_choice"),
        ({"type": "hate"}, "invalid_choice"),
        ({"clinical_status": "gone"}, "invalid_choice"),
        ({"verification_status": "entered-in-error"}, "use_entered_in_error"),
        ({"onset_on": dt.date.today() + dt.timedelta(days=2)}, "in_the_future"),
        ({"onset_on": "1801-01-01"}, "before_birth"),
        ({"onset_on": "yesterday"}, "invalid_date"),
        ({"asserted_on": dt.date.today() - dt.timedelta(days=10), "onset_on": dt.date.today()}, "after_asserted"),
        ({"reactions": "hives"}, "invalid"),
        ({"reactions": [{"severity": "mild"}]}, "required"),
        ({"reactions": [{"manifestation": {"text": "hives"}, "severity": "fatal"}]}, "invalid_choice"),
        ({"reactions": [{"manifestation": {"text": "hives"}, "when": "now"}]}, "unknown_field"),
        ({"reactions": [{"manifestation": {"text": "x"}}] * 21}, "too_many"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(org_a, kwargs, code):
    ctx, patient = seeing(org_a)
    data = {"substance": {"text": "penicillin"}, "category": "medication", **kwargs}
    with pytest.raises(ValidationFailed) as refused:
        history_services.allergy_create(ctx=ctx, patient_id=patient.id, **data)
    assert code in _codes(refused.value)
    assert not AllergyIntolerance.objects.for_tenant(ctx).exists()


def test_a_held_code_is_put_in_canonical_form(org_a):
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    ctx, patient = seeing(org_a)
    made = allergy(ctx, patient, {"system": "icd10-cm", "code": "z88.0"})
    assert (made.substance_code, made.substance_display) == (
        "Z88.0",
        "Allergy status to penicillin",
    )


def test_who_may_record_and_read(org_a, org_b):
    ctx, patient = seeing(org_a)
    made = allergy(ctx, patient)
    stranger = clinician(org_a, "doctor")  # no care relationship
    foreign = clinician(org_b, "doctor")
    desk = clinician(org_a, "receptionist")
    for other in (stranger, foreign):
        with pytest.raises(NotFound):
            allergy(other, patient, RXNORM_AMOXICILLIN)
        with pytest.raises(NotFound):
            history_selectors.allergy_get(ctx=other, allergy_id=made.id)
        with pytest.raises(NotFound):
            history_services.allergy_update(ctx=other, allergy_id=made.id, criticality="low")
        with pytest.raises(NotFound):
            public.active_allergies(other, patient.id)
    with pytest.raises(Forbidden):
        allergy(desk, patient, RXNORM_AMOXICILLIN)
    with pytest.raises(Forbidden):
        history_services.allergy_mark_entered_in_error(ctx=desk, allergy_id=made.id, reason="x")
    denied = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(outcome="denied")
    assert denied.filter(action="clinical.allergy.create").count() == 3


def test_active_allergies_for_prescribing(org_a):
    ctx, patient = seeing(org_a)
    allergy(ctx, patient, RXNORM_AMOXICILLIN, criticality="low")
    allergy(ctx, patient, criticality="high")
    allergy(ctx, patient, {"text": "Sulfa drugs"})
    allergy(ctx, patient, {"text": "Aspirin"}, verification_status="refuted")
    allergy(ctx, patient, {"text": "Codeine"}, clinical_status="resolved")
    wrong = allergy(ctx, patient, {"text": "Ibuprofen"})
    history_services.allergy_mark_entered_in_error(ctx=ctx, allergy_id=wrong.id, reason="another patient's")
    before = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action="clinical.allergy.active").count()
    found = public.active_allergies(ctx, patient.id)
    assert found[0].coding == Coding(RXNORM, "7980", "Penicillin G")
    assert found[0].criticality == "high"
    assert {a.text for a in found if a.coding is None} == {"Sulfa drugs"}
    assert len(found) == 3
    after = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action="clinical.allergy.active").count()
    assert after == before + 1


def test_allergy_summary_reads_in_two_queries(org_a, django_assert_num_queries):
    ctx, patient = seeing(org_a)
    for i in range(5):
        allergy(
            ctx,
            patient,
            {"text": f"substance {i}"},
            reactions=[{"manifestation": SNOMED_HIVES, "severity": "mild"}, {"manifestation": {"text": "wheeze"}}],
            criticality="high" if i == 3 else "low",
        )
    history_selectors.allergy_summary(ctx=ctx, patient_id=patient.id)  # the access check, warmed
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        summary = history_selectors.allergy_summary(ctx=ctx, patient_id=patient.id)
    reads = [q["sql"] for q in queries.captured_queries if "clinical_allergy" in q["sql"] or "nokn" in q["sql"]]
    assert len(reads) == 2, reads
    assert summary["status"] == "allergies"
    assert summary["allergies"][0]["label"] == "substance 3"
    assert summary["allergies"][0]["highest_severity"] == "mild"
    assert summary["allergies"][0]["manifestations"] == ["Urticaria", "wheeze"]
