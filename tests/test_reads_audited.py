"""Every selector that returns personal health information records an audit event, on success and on
denial. The selectors declare themselves (`@audit.reads_health_data`); this test walks all of them, and
fails for a new one until a way to call it is added below, and for a public selector of a module of
health data that is not declared."""

import importlib
import inspect
import pkgutil

import pytest

import phb
from phb.clinical import selectors as clinical_selectors
from phb.clinical import services as clinical_services
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.models import AuditEvent
from phb.notifications import selectors as notification_selectors
from phb.patients import consents, exports, portal, selectors, services
from phb.patients.models import DuplicateCandidate
from phb.scheduling import selectors as scheduling_selectors
from phb.scheduling import services as scheduling_services
from tests.accounts.factories import UserFactory
from tests.clinical.factories import clinician, record, walk_in
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import demographics
from tests.scheduling.factories import local, practitioner, tomorrow

pytestmark = pytest.mark.django_db

# Modules whose every public function returns health data to its caller.
HEALTH_DATA_MODULES = [
    "phb.patients.selectors",
    "phb.scheduling.selectors",
    "phb.notifications.selectors",
    "phb.clinical.selectors",
]


def _load_every_module():
    for module in pkgutil.walk_packages(phb.__path__, "phb."):
        if ".migrations" not in module.name and not module.name.endswith(".manage"):
            importlib.import_module(module.name)


@pytest.fixture
def world(org_a):
    """A patient with an account, registered at hospital A, a receptionist and an officer of A, an
    outsider of no organization, and a ready export."""
    from phb.accounts.roles import permissions_for

    def staff(*roles):
        return Ctx(
            actor_id=UserFactory().id,
            organization_id=org_a.id,
            roles=frozenset(roles),
            permissions=permissions_for(roles),
        )

    user = UserFactory()
    desk = staff("receptionist")
    registration = services.walk_in_register(ctx=desk, **demographics(user=user, nin="55544433322"))
    again = services.walk_in_register(
        ctx=desk,
        confirmed_distinct=True,
        given_name=registration.patient.given_name + "a",
        family_name=registration.patient.family_name,
        birth_date=registration.patient.birth_date,
        sex=registration.patient.sex,
    )
    me = Ctx(actor_id=user.id)
    export = exports.export_request(ctx=me, patient_id=registration.patient_id)
    exports.export_build(export_id=export.id)
    appointment = scheduling_services.appointment_book(
        ctx=desk,
        patient_id=registration.patient_id,
        practitioner_id=practitioner(org_a).id,
        start_at=local(org_a, tomorrow(org_a), 9),
    )
    video = scheduling_services.appointment_book(
        ctx=desk,
        patient_id=registration.patient_id,
        practitioner_id=practitioner(org_a, specialization="dermatology").id,
        start_at=local(org_a, tomorrow(org_a), 10),
        kind="telemedicine",
    )
    doctor = clinician(org_a, "doctor")
    encounter = walk_in(doctor, registration.patient, DepartmentFactory(organization=org_a))
    note = clinical_services.note_create(ctx=doctor, patient_id=registration.patient_id, text="seen")
    record(doctor, registration.patient, encounter=encounter, heart_rate=35)
    return {
        "doctor": doctor,
        "encounter": encounter,
        "note": note,
        "appointment": appointment,
        "video": video,
        "patient": registration.patient,
        "me": me,
        "desk": desk,
        "officer": staff("medical_records_officer"),
        "admin": staff("hospital_admin"),
        "outsider": Ctx(actor_id=UserFactory().id),
        "export": export,
        "duplicate": DuplicateCandidate.objects.for_tenant(desk).get(
            patient_id__in=[registration.patient_id, again.patient_id]
        ),
    }


# name -> (call as the rightful reader, call as someone who may not read it)
CALLS = {
    "phb.patients.selectors.patient_search": (
        lambda w: selectors.patient_search(ctx=w["desk"], q=w["patient"].given_name),
        lambda w: selectors.patient_search(ctx=w["outsider"], q=w["patient"].given_name),
    ),
    "phb.patients.selectors.patient_open": (
        lambda w: selectors.patient_open(ctx=w["desk"], patient_id=w["patient"].id),
        lambda w: selectors.patient_open(ctx=w["officer"].for_organization(None), patient_id=w["patient"].id),
    ),
    "phb.patients.selectors.registrations_pending": (
        lambda w: list(selectors.registrations_pending(ctx=w["admin"])),
        lambda w: selectors.registrations_pending(ctx=w["desk"]),
    ),
    "phb.patients.selectors.duplicates_open": (
        lambda w: list(selectors.duplicates_open(ctx=w["officer"])),
        lambda w: selectors.duplicates_open(ctx=w["desk"]),
    ),
    "phb.patients.selectors.patient_photo": (
        lambda w: selectors.patient_photo(ctx=w["desk"], patient_id=w["patient"].id),
        lambda w: selectors.patient_photo(ctx=w["officer"].for_organization(None), patient_id=w["patient"].id),
    ),
    "phb.patients.selectors.merges_recent": (
        lambda w: selectors.merges_recent(ctx=w["officer"]),
        lambda w: selectors.merges_recent(ctx=w["desk"]),
    ),
    "phb.patients.selectors.duplicate_compare": (
        lambda w: selectors.duplicate_compare(ctx=w["officer"], candidate_id=w["duplicate"].id),
        lambda w: selectors.duplicate_compare(ctx=w["officer"], candidate_id=w["patient"].id),
    ),
    "phb.patients.selectors.access_log": (
        lambda w: list(selectors.access_log(ctx=w["me"], patient_id=w["patient"].id)),
        lambda w: selectors.access_log(ctx=w["outsider"], patient_id=w["patient"].id),
    ),
    "phb.scheduling.selectors.appointment_list": (
        lambda w: list(scheduling_selectors.appointment_list(ctx=w["desk"])),
        lambda w: scheduling_selectors.appointment_list(ctx=w["admin"]),
    ),
    "phb.scheduling.selectors.appointment_get": (
        lambda w: scheduling_selectors.appointment_get(ctx=w["desk"], appointment_id=w["appointment"].id),
        lambda w: scheduling_selectors.appointment_get(ctx=w["admin"], appointment_id=w["appointment"].id),
    ),
    "phb.scheduling.selectors.telemedicine_link_get": (
        lambda w: scheduling_selectors.telemedicine_link_get(
            ctx=w["me"], appointment_id=w["video"].id, now=w["video"].start_at
        ),
        lambda w: scheduling_selectors.telemedicine_link_get(ctx=w["desk"], appointment_id=w["video"].id),
    ),
    "phb.notifications.selectors.notification_list": (
        lambda w: list(notification_selectors.notification_list(ctx=w["me"])),
        lambda w: notification_selectors.notification_list(ctx=Ctx.anonymous()),
    ),
    "phb.scheduling.selectors.queue": (
        lambda w: scheduling_selectors.queue(ctx=w["desk"]),
        lambda w: scheduling_selectors.queue(ctx=w["admin"]),
    ),
    "phb.scheduling.selectors.pending_queue": (
        lambda w: scheduling_selectors.pending_queue(ctx=w["desk"]),
        lambda w: scheduling_selectors.pending_queue(ctx=w["admin"]),
    ),
    "phb.scheduling.selectors.my_appointments": (
        lambda w: scheduling_selectors.my_appointments(ctx=w["me"]),
        lambda w: scheduling_selectors.my_appointments(ctx=w["outsider"]),
    ),
    "phb.patients.services.patient_find_by_identifier": (
        lambda w: services.patient_find_by_identifier(ctx=w["desk"], kind="nin", value="55544433322"),
        None,  # an exact lookup answers yes or no, audited either way
    ),
    "phb.patients.consents.consent_list": (
        lambda w: consents.consent_list(ctx=w["me"], patient_id=w["patient"].id),
        lambda w: consents.consent_list(ctx=w["outsider"], patient_id=w["patient"].id),
    ),
    "phb.patients.portal.my_registrations": (lambda w: portal.my_registrations(ctx=w["me"]), None),
    "phb.patients.portal.my_record": (
        lambda w: portal.my_record(ctx=w["me"]),
        lambda w: portal.my_record(ctx=w["outsider"]),
    ),
    "phb.patients.exports.export_download": (
        lambda w: exports.export_download(ctx=w["me"], export_id=w["export"].id, fmt="json"),
        lambda w: exports.export_download(ctx=w["outsider"], export_id=w["export"].id, fmt="json"),
    ),
    "phb.clinical.selectors.encounter_list": (
        lambda w: list(clinical_selectors.encounter_list(ctx=w["doctor"], patient_id=w["patient"].id)),
        lambda w: clinical_selectors.encounter_list(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.selectors.encounter_get": (
        lambda w: clinical_selectors.encounter_get(ctx=w["doctor"], encounter_id=w["encounter"].id),
        lambda w: clinical_selectors.encounter_get(ctx=w["desk"], encounter_id=w["encounter"].id),
    ),
    "phb.clinical.selectors.vital_signs_list": (
        lambda w: clinical_selectors.vital_signs_list(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_selectors.vital_signs_list(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.selectors.note_list": (
        lambda w: clinical_selectors.note_list(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_selectors.note_list(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.selectors.note_get": (
        lambda w: clinical_selectors.note_get(ctx=w["doctor"], note_id=w["note"].id),
        lambda w: clinical_selectors.note_get(ctx=w["officer"], note_id=w["note"].id),  # another's draft
    ),
    "phb.clinical.selectors.critical_alert_list": (
        lambda w: list(clinical_selectors.critical_alert_list(ctx=w["doctor"])),
        lambda w: clinical_selectors.critical_alert_list(ctx=w["desk"]),
    ),
    "phb.clinical.selectors.note_template_list": (
        lambda w: clinical_selectors.note_template_list(ctx=w["doctor"]),
        lambda w: clinical_selectors.note_template_list(ctx=w["desk"]),
    ),
}


def test_every_declared_reader_has_a_way_to_be_called_here():
    _load_every_module()
    assert set(audit.HEALTH_DATA_READERS) == set(CALLS)


def test_every_public_selector_of_health_data_is_declared():
    for name in HEALTH_DATA_MODULES:
        module = importlib.import_module(name)
        for fn_name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == name and not fn_name.startswith("_"):
                assert f"{name}.{fn_name}" in audit.HEALTH_DATA_READERS, f"{name}.{fn_name} is not declared"


def _events():
    return AuditEvent.objects.for_system(Ctx.system(reason="test"))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_reader_records_an_audit_event_when_it_answers_and_when_it_refuses(world, name):
    allowed, denied = CALLS[name]
    before = _events().count()
    allowed(world)
    new = list(_events().order_by("-occurred_at", "-id")[: _events().count() - before])
    assert new, f"{name} returned health data without an audit event"
    assert all(e.outcome == "success" for e in new)
    if denied is None:
        return
    before = _events().count()
    with pytest.raises(ProblemError):
        denied(world)
    assert _events().count() > before, f"{name} refused without an audit event"


# --- documents (phb.clinical.documents) ---------------------------------------------------------------
import uuid  # noqa: E402

from phb.clinical import documents as clinical_documents  # noqa: E402
from tests.clinical import document_samples  # noqa: E402


@pytest.fixture(autouse=True)
def _documents_in_a_directory_of_the_test(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "clinical_documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }


def _document(w):
    if "document" not in w:
        w["document"] = clinical_documents.document_store(
            ctx=w["doctor"],
            patient_id=w["patient"].id,
            data=document_samples.pdf(),
            declared_type="application/pdf",
            filename="letter.pdf",
            category="referral-letter",
            title="Referral",
        )
    return w["document"]


CALLS.update(
    {
        "phb.clinical.documents.document_list": (
            lambda w: clinical_documents.document_list(ctx=w["doctor"], patient_id=w["patient"].id),
            lambda w: clinical_documents.document_list(ctx=w["desk"], patient_id=w["patient"].id),
        ),
        "phb.clinical.documents.document_get": (
            lambda w: clinical_documents.document_get(ctx=w["doctor"], document_id=_document(w).id),
            lambda w: clinical_documents.document_get(ctx=w["desk"], document_id=uuid.uuid4()),
        ),
        "phb.clinical.documents.document_open": (
            lambda w: b"".join(clinical_documents.document_open(ctx=w["doctor"], document_id=_document(w).id)),
            lambda w: clinical_documents.document_open(ctx=w["officer"], document_id=uuid.uuid4()),
        ),
    }
)


# --- diagnoses, the chart and the patient's medical record --------------------------------------------

from phb.clinical import diagnoses as clinical_diagnoses  # noqa: E402

CALLS.update(
    {
        "phb.clinical.diagnoses.diagnosis_list": (
            lambda w: list(clinical_diagnoses.diagnosis_list(ctx=w["doctor"], patient_id=w["patient"].id)),
            lambda w: clinical_diagnoses.diagnosis_list(ctx=w["desk"], patient_id=w["patient"].id),
        ),
        "phb.clinical.diagnoses.diagnosis_get": (
            lambda w: clinical_diagnoses.diagnosis_get(
                ctx=w["doctor"],
                diagnosis_id=clinical_diagnoses.diagnosis_add(
                    ctx=w["doctor"],
                    patient_id=w["patient"].id,
                    system="snomed-ct",
                    code="38341003",
                    display="HT",
                    category="problem_list_item",
                ).id,
            ),
            lambda w: clinical_diagnoses.diagnosis_get(ctx=w["desk"], diagnosis_id=w["encounter"].id),
        ),
    }
)

from phb.clinical import chart as clinical_chart  # noqa: E402
from phb.clinical import portal as clinical_portal  # noqa: E402

CALLS.update(
    {
        "phb.clinical.chart.chart_open": (
            lambda w: clinical_chart.chart_open(ctx=w["doctor"], patient_id=w["patient"].id),
            lambda w: clinical_chart.chart_open(ctx=w["desk"], patient_id=w["patient"].id),
        ),
        "phb.clinical.chart.vitals_trend": (
            lambda w: clinical_chart.vitals_trend(ctx=w["doctor"], patient_id=w["patient"].id, vital="heart_rate"),
            lambda w: clinical_chart.vitals_trend(ctx=w["officer"], patient_id=w["patient"].id, vital="heart_rate"),
        ),
        "phb.clinical.chart.chart_timeline": (
            lambda w: clinical_chart.chart_timeline(ctx=w["doctor"], patient_id=w["patient"].id, kind="notes"),
            lambda w: clinical_chart.chart_timeline(ctx=w["desk"], patient_id=w["patient"].id, kind="notes"),
        ),
        "phb.clinical.chart.encounter_workspace": (
            lambda w: clinical_chart.encounter_workspace(ctx=w["doctor"], encounter_id=w["encounter"].id),
            lambda w: clinical_chart.encounter_workspace(ctx=w["desk"], encounter_id=w["encounter"].id),
        ),
        "phb.clinical.chart.encounter_for_appointment": (
            lambda w: clinical_chart.encounter_for_appointment(
                ctx=w["doctor"],
                appointment_id=clinical_services.encounter_from_appointment(
                    ctx=Ctx.system(reason="test", organization_id=w["doctor"].organization_id),
                    appointment_id=w["appointment"].id,
                ).appointment_id,
            ),
            lambda w: clinical_chart.encounter_for_appointment(ctx=w["doctor"], appointment_id=w["video"].id),
        ),
        "phb.clinical.portal.my_medical_record": (
            lambda w: clinical_portal.my_medical_record(ctx=w["me"]),
            lambda w: clinical_portal.my_medical_record(ctx=w["outsider"]),
        ),
    }
)


# --- allergies and intolerances, history, immunizations -------------------------------------------
import datetime as dt  # noqa: E402

from phb.clinical import history_selectors, history_services  # noqa: E402

HEALTH_DATA_MODULES.append("phb.clinical.history_selectors")


def _allergy(w):
    if "allergy" not in w:
        w["allergy"] = history_services.allergy_create(
            ctx=w["doctor"], patient_id=w["patient"].id, substance={"text": "penicillin"}, category="medication"
        )
    return w["allergy"]


def _entry(w):
    return history_services.history_entry_create(
        ctx=w["doctor"], patient_id=w["patient"].id, kind="medical", concept={"text": "asthma"}
    )


def _immunization(w):
    return history_services.immunization_record(
        ctx=w["doctor"], patient_id=w["patient"].id, vaccine={"text": "BCG"}, occurred_on=dt.date.today()
    )


HISTORY_CALLS = {
    f"phb.clinical.history_selectors.{name}": (
        lambda w, name=name: getattr(history_selectors, name)(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w, name=name: getattr(history_selectors, name)(ctx=w["desk"], patient_id=w["patient"].id),
    )
    for name in (
        "allergy_list",
        "no_known_allergies_list",
        "active_allergies",
        "allergy_summary",
        "history_list",
        "social_history_list",
        "history_summary",
        "immunization_list",
        "immunization_summary",
    )
} | {
    "phb.clinical.history_selectors.allergy_get": (
        lambda w: history_selectors.allergy_get(ctx=w["doctor"], allergy_id=_allergy(w).id),
        lambda w: history_selectors.allergy_get(ctx=w["desk"], allergy_id=_allergy(w).id),
    ),
    "phb.clinical.history_selectors.history_entry_get": (
        lambda w: history_selectors.history_entry_get(ctx=w["doctor"], entry_id=_entry(w).id),
        lambda w: history_selectors.history_entry_get(ctx=w["officer"], entry_id=_entry(w).id),
    ),
    "phb.clinical.history_selectors.immunization_get": (
        lambda w: history_selectors.immunization_get(ctx=w["doctor"], immunization_id=_immunization(w).id),
        lambda w: history_selectors.immunization_get(ctx=w["desk"], immunization_id=_immunization(w).id),
    ),
}
CALLS.update(HISTORY_CALLS)


@pytest.mark.parametrize("name", sorted(HISTORY_CALLS))
def test_history_readers_record_an_audit_event_when_they_answer_and_when_they_refuse(world, name):
    test_the_reader_records_an_audit_event_when_it_answers_and_when_it_refuses(world, name)


# --- patient-reported symptoms and care plans --------------------------------------------------------
from phb.clinical import care_plans as clinical_care_plans  # noqa: E402
from phb.clinical import symptoms as clinical_symptoms  # noqa: E402


def _symptom(w):
    """A symptom report of the world's patient at hospital A, made on first use."""
    if "symptom" not in w:
        w["symptom"] = clinical_symptoms.symptom_report_create(
            ctx=w["me"], organization_id=w["doctor"].organization_id, severity=4, symptom_code="R51.9", onset_days_ago=1
        )
    return w["symptom"]


def _care_plan(w):
    """An active care plan of the world's patient, made on first use by their doctor."""
    if "care_plan" not in w:
        w["care_plan"] = clinical_care_plans.care_plan_create(
            ctx=w["doctor"], patient_id=w["patient"].id, title="Recovery", goals=[{"description": "x"}], activate=True
        )
    return w["care_plan"]


def _care_plan_template(w):
    if "care_plan_template" not in w:
        w["care_plan_template"] = clinical_care_plans.care_plan_template_create(ctx=w["doctor"], name="Asthma")
    return w["care_plan_template"]


_SYMPTOMS_AND_CARE_PLANS = {
    "phb.clinical.symptoms.my_symptom_reports": (
        lambda w: clinical_symptoms.my_symptom_reports(ctx=w["me"]),
        lambda w: clinical_symptoms.my_symptom_reports(ctx=w["outsider"]),
    ),
    "phb.clinical.symptoms.my_symptom_report_get": (
        lambda w: clinical_symptoms.my_symptom_report_get(ctx=w["me"], report_id=_symptom(w).id),
        lambda w: clinical_symptoms.my_symptom_report_get(ctx=w["outsider"], report_id=_symptom(w).id),
    ),
    "phb.clinical.symptoms.my_symptom_photo": (
        lambda w: clinical_symptoms.my_symptom_photo(ctx=w["me"], report_id=_symptom(w).id),
        lambda w: clinical_symptoms.my_symptom_photo(ctx=w["outsider"], report_id=_symptom(w).id),
    ),
    "phb.clinical.symptoms.my_symptom_trends": (
        lambda w: clinical_symptoms.my_symptom_trends(ctx=w["me"]),
        lambda w: clinical_symptoms.my_symptom_trends(ctx=w["outsider"]),
    ),
    "phb.clinical.symptoms.symptom_report_list": (
        lambda w: clinical_symptoms.symptom_report_list(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_symptoms.symptom_report_list(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.symptoms.symptom_report_get": (
        lambda w: clinical_symptoms.symptom_report_get(ctx=w["doctor"], report_id=_symptom(w).id),
        lambda w: clinical_symptoms.symptom_report_get(ctx=w["desk"], report_id=_symptom(w).id),
    ),
    "phb.clinical.symptoms.symptom_report_photo": (
        lambda w: clinical_symptoms.symptom_report_photo(ctx=w["doctor"], report_id=_symptom(w).id),
        lambda w: clinical_symptoms.symptom_report_photo(ctx=w["desk"], report_id=_symptom(w).id),
    ),
    "phb.clinical.symptoms.symptom_trends": (
        lambda w: clinical_symptoms.symptom_trends(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_symptoms.symptom_trends(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.symptoms.symptom_summary": (
        lambda w: clinical_symptoms.symptom_summary(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_symptoms.symptom_summary(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.care_plans.care_plan_list": (
        lambda w: clinical_care_plans.care_plan_list(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_care_plans.care_plan_list(ctx=w["desk"], patient_id=w["patient"].id),
    ),
    "phb.clinical.care_plans.care_plan_get": (
        lambda w: clinical_care_plans.care_plan_get(ctx=w["doctor"], plan_id=_care_plan(w).id),
        lambda w: clinical_care_plans.care_plan_get(ctx=w["desk"], plan_id=_care_plan(w).id),
    ),
    "phb.clinical.care_plans.care_plan_template_list": (
        lambda w: clinical_care_plans.care_plan_template_list(ctx=w["doctor"]),
        lambda w: clinical_care_plans.care_plan_template_list(ctx=w["desk"]),
    ),
    "phb.clinical.care_plans.care_plan_template_get": (
        lambda w: clinical_care_plans.care_plan_template_get(ctx=w["doctor"], template_id=_care_plan_template(w).id),
        lambda w: clinical_care_plans.care_plan_template_get(ctx=w["desk"], template_id=_care_plan_template(w).id),
    ),
    "phb.clinical.care_plans.my_care_plans": (
        lambda w: clinical_care_plans.my_care_plans(ctx=w["me"]),
        lambda w: clinical_care_plans.my_care_plans(ctx=w["outsider"]),
    ),
    "phb.clinical.care_plans.care_plan_summary": (
        lambda w: clinical_care_plans.care_plan_summary(ctx=w["doctor"], patient_id=w["patient"].id),
        lambda w: clinical_care_plans.care_plan_summary(ctx=w["desk"], patient_id=w["patient"].id),
    ),
}
CALLS.update(_SYMPTOMS_AND_CARE_PLANS)


# The parametrized test above took its names when it was defined, before the blocks below it added
# theirs: the same check for every name added since.
_PARAMETRIZED = {
    name
    for mark in test_the_reader_records_an_audit_event_when_it_answers_and_when_it_refuses.pytestmark
    if mark.name == "parametrize"
    for name in mark.args[1]
}


@pytest.mark.parametrize("name", sorted(set(CALLS) - _PARAMETRIZED))
def test_readers_added_below_record_an_audit_event_when_they_answer_and_when_they_refuse(world, name):
    test_the_reader_records_an_audit_event_when_it_answers_and_when_it_refuses(world, name)


# --- prescriptions (phb.medications) ---------------------------------------------------------------
from phb.kernel.models import Organization  # noqa: E402
from phb.medications import dispensing as medications_dispensing  # noqa: E402
from phb.medications import selectors as medications_selectors  # noqa: E402
from tests.medications.factories import signed_prescription  # noqa: E402
from tests.terminology.factories import ensure_code_systems  # noqa: E402
from tests.workforce.factories import staff_ctx as _staff_ctx  # noqa: E402


def _to_dispense(w):
    """A signed prescription of the world's patient at hospital A, and a pharmacist there, on first use."""
    if "to_dispense" not in w:
        system = Ctx.system(reason="test")
        organization = Organization.objects.for_platform(system).get(id=w["doctor"].organization_id)
        w["to_dispense"] = signed_prescription(organization, patient=w["patient"])
        w["pharmacist"] = _staff_ctx(organization, "pharmacist")
    return w["to_dispense"]


_MEDICATIONS = {
    "phb.medications.dispensing.prescriptions_to_dispense": (
        lambda w: _to_dispense(w) and medications_dispensing.prescriptions_to_dispense(ctx=w["pharmacist"]),
        lambda w: medications_dispensing.prescriptions_to_dispense(ctx=w["desk"]),
    ),
    "phb.medications.dispensing.prescription_to_dispense": (
        lambda w: medications_dispensing.prescription_to_dispense(
            ctx=(_to_dispense(w) and w["pharmacist"]), prescription_id=_to_dispense(w).id
        ),
        lambda w: medications_dispensing.prescription_to_dispense(ctx=w["desk"], prescription_id=_to_dispense(w).id),
    ),
}


def _prescribed(w):
    """A signed prescription of the world's doctor for the world's patient, on first use."""
    if "prescribed" not in w:
        from phb.medications import services as medications_services
        from tests.medications.factories import AMOX, item

        ensure_code_systems()
        w["prescribed"] = medications_services.prescription_create(
            ctx=w["doctor"], patient_id=w["patient"].id, items=[item("amoxicillin", **AMOX)]
        )
        medications_services.prescription_sign(ctx=w["doctor"], prescription_id=w["prescribed"].id)
    return w["prescribed"]


def _head(w):
    if "head" not in w:
        system = Ctx.system(reason="test")
        organization = Organization.objects.for_platform(system).get(id=w["doctor"].organization_id)
        w["head"] = _staff_ctx(organization, "department_head")
    return w["head"]


_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_MEDICATIONS.update(
    {
        "phb.medications.selectors.prescription_list": (
            lambda w: medications_selectors.prescription_list(ctx=w["doctor"], patient_id=w["patient"].id),
            lambda w: medications_selectors.prescription_list(ctx=w["desk"], patient_id=w["patient"].id),
        ),
        "phb.medications.selectors.prescription_get": (
            lambda w: medications_selectors.prescription_get(ctx=w["doctor"], prescription_id=_prescribed(w).id),
            lambda w: medications_selectors.prescription_get(ctx=w["desk"], prescription_id=_prescribed(w).id),
        ),
        "phb.medications.selectors.override_report": (
            lambda w: medications_selectors.override_report(
                ctx=_head(w), since=_NOW - dt.timedelta(days=3650), until=_NOW + dt.timedelta(days=3650)
            ),
            lambda w: medications_selectors.override_report(ctx=w["doctor"], since=_NOW, until=_NOW),
        ),
        "phb.medications.selectors.repeat_request_list": (
            lambda w: medications_selectors.repeat_request_list(ctx=w["doctor"]),
            lambda w: medications_selectors.repeat_request_list(ctx=w["desk"]),
        ),
        "phb.medications.selectors.adherence_summary": (
            lambda w: medications_selectors.adherence_summary(ctx=w["doctor"], patient_id=w["patient"].id),
            lambda w: medications_selectors.adherence_summary(ctx=w["desk"], patient_id=w["patient"].id),
        ),
        "phb.medications.selectors.my_medications": (
            lambda w: _prescribed(w) and medications_selectors.my_medications(ctx=w["me"]),
            lambda w: medications_selectors.my_medications(ctx=w["outsider"]),
        ),
        "phb.medications.selectors.my_doses": (
            lambda w: medications_selectors.my_doses(ctx=w["me"]),
            lambda w: medications_selectors.my_doses(ctx=w["outsider"]),
        ),
        "phb.medications.selectors.my_adherence": (
            lambda w: medications_selectors.my_adherence(ctx=w["me"]),
            lambda w: medications_selectors.my_adherence(ctx=w["outsider"]),
        ),
        "phb.medications.selectors.my_repeat_requests": (
            lambda w: medications_selectors.my_repeat_requests(ctx=w["me"]),
            lambda w: medications_selectors.my_repeat_requests(ctx=w["outsider"]),
        ),
    }
)
CALLS.update(_MEDICATIONS)


@pytest.mark.parametrize("name", sorted(_MEDICATIONS))
def test_medications_readers_record_an_audit_event_when_they_answer_and_when_they_refuse(world, name):
    test_the_reader_records_an_audit_event_when_it_answers_and_when_it_refuses(world, name)


# --- pharmacy (phb.pharmacy): the worklist, a prescription's proposal, dispensings ------------------
from phb.pharmacy import dispensing as pharmacy_dispensing  # noqa: E402
from tests.pharmacy import factories as pharmacy_factories  # noqa: E402


def _pharmacy(w):
    """The prescription to dispense, a main pharmacy holding amoxicillin, and a dispensing of it."""
    if "dispensing" not in w:
        prescription = _to_dispense(w)
        ctx = w["pharmacist"]
        w["location"] = pharmacy_factories.location(ctx, "Main pharmacy")
        stocked = pharmacy_factories.product(ctx, "amoxicillin", name="Amoxicillin capsules")
        pharmacy_factories.receive(ctx, w["location"], stocked, 100)
        w["dispensing"] = pharmacy_dispensing.prescription_dispense(
            ctx=ctx, prescription_id=prescription.id, location_id=w["location"].id
        )
    return w


_PHARMACY = {
    "phb.pharmacy.dispensing.worklist": (
        lambda w: pharmacy_dispensing.worklist(_pharmacy(w)["pharmacist"], location_id=w["location"].id),
        lambda w: pharmacy_dispensing.worklist(_pharmacy(w)["desk"], location_id=w["location"].id),
    ),
    "phb.pharmacy.dispensing.dispensing_proposal": (
        lambda w: pharmacy_dispensing.dispensing_proposal(
            _pharmacy(w)["pharmacist"], prescription_id=w["to_dispense"].id, location_id=w["location"].id
        ),
        lambda w: pharmacy_dispensing.dispensing_proposal(
            _pharmacy(w)["doctor"], prescription_id=w["to_dispense"].id, location_id=w["location"].id
        ),
    ),
    "phb.pharmacy.dispensing.dispensing_get": (
        lambda w: pharmacy_dispensing.dispensing_get(_pharmacy(w)["pharmacist"], dispensing_id=w["dispensing"].id),
        lambda w: pharmacy_dispensing.dispensing_get(_pharmacy(w)["doctor"], dispensing_id=w["dispensing"].id),
    ),
    "phb.pharmacy.dispensing.dispensing_list": (
        lambda w: pharmacy_dispensing.dispensing_list(_pharmacy(w)["pharmacist"]),
        lambda w: pharmacy_dispensing.dispensing_list(_pharmacy(w)["desk"]),
    ),
}
CALLS.update(_PHARMACY)


@pytest.mark.parametrize("name", sorted(_PHARMACY))
def test_pharmacy_readers_record_an_audit_event_when_they_answer_and_when_they_refuse(world, name):
    test_the_reader_records_an_audit_event_when_it_answers_and_when_it_refuses(world, name)
