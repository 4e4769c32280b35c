"""The benchmark data set (`phb bench-data`): deterministic, in the proportions of its tier, readable by
the application (decryption, patient search, the FHIR API) and isolated per organization."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from phb.accounts.roles import permissions_for
from phb.clinical.models import Diagnosis, Encounter, Observation
from phb.demo import benchdata
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent, Organization
from phb.medications.models import Prescription, PrescriptionItem
from phb.patients import selectors as patient_selectors
from phb.patients.models import Patient
from phb.scheduling.models import Appointment
from tests.interop.fhir_helpers import system_client, validate

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PATIENTS = 30
SYSTEM = Ctx.system(reason="test")


class _Rollback(Exception):
    pass


def _digest() -> str:
    """A hash of what was generated, ciphertexts left out (their nonces are random by design)."""
    queries = [
        "SELECT id, hpn, given_name, family_name, other_names, birth_date, sex, phone, nin_index, given_key, "
        "family_key, search_name FROM patients_patient WHERE id = ANY(%s) ORDER BY id",
        "SELECT id, patient_id, code, value_numeric, value_code, unit, effective_at, category FROM clinical_observation "
        "WHERE patient_id = ANY(%s) ORDER BY id",
        "SELECT id, patient_id, type_code, started_at, ended_at FROM clinical_encounter WHERE patient_id = ANY(%s) "
        "ORDER BY id",
        "SELECT id, code, clinical_status, onset_date FROM clinical_diagnosis WHERE patient_id = ANY(%s) ORDER BY id",
        "SELECT id, drug_code, quantity FROM medications_prescriptionitem WHERE patient_id = ANY(%s) ORDER BY id",
        "SELECT id, reference, patient_id, start_at, status FROM scheduling_appointment WHERE patient_id = ANY(%s) "
        "ORDER BY id",
        "SELECT id, occurred_at, action, ip FROM kernel_auditevent WHERE patient_id = ANY(%s) ORDER BY id",
    ]
    ids = [benchdata.patient_id(key) for key in range(PATIENTS)]
    h = hashlib.sha256()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('phb.all_tenants', 'on', true)")
        for sql in queries:
            cursor.execute(sql, [ids])
            rows = cursor.fetchall()
            assert rows, sql
            h.update(repr(rows).encode())
    return h.hexdigest()


def _generate_and_digest() -> tuple[str, str]:
    try:
        with transaction.atomic():
            benchdata.generate("S", patients=PATIENTS)
            nin = Patient.objects.get(id=benchdata.patient_id(1)).nin
            digest = _digest()
            raise _Rollback
    except _Rollback:
        pass
    return digest, nin


def test_two_runs_write_the_same_data_set():
    first, nin_first = _generate_and_digest()
    second, nin_second = _generate_and_digest()
    assert first == second
    assert nin_first == nin_second  # different ciphertexts, the same identifier


def test_counts_decryption_search_and_fhir():
    report = benchdata.generate("S", patients=PATIENTS)
    expected = benchdata.plan("S", patients=PATIENTS)
    assert report["expected"] == expected
    organizations = Organization.objects.for_platform(SYSTEM).filter(code__in=benchdata.ORGANIZATION_CODES)
    by_code = {o.code: o for o in organizations}
    a, b = by_code["bench-a"], by_code["bench-b"]
    ours = [a.id, b.id]

    def count(model):
        return model.objects.for_system(SYSTEM).filter(organization_id__in=ours).count()

    assert Patient.objects.filter(id__in=[benchdata.patient_id(k) for k in range(PATIENTS)]).count() == PATIENTS
    assert count(Encounter) == expected["encounters"] == (PATIENTS - 1) * 10 + 200
    assert count(Observation) == expected["observations"] == (PATIENTS - 1) * 100 + 5_000
    assert count(Diagnosis) == expected["conditions"]
    assert count(PrescriptionItem) == expected["medication_requests"]
    assert count(Prescription) == expected["prescriptions"]
    assert count(Appointment) == expected["appointments"] == PATIENTS * 10
    assert AuditEvent.objects.for_system(SYSTEM).filter(organization_id__in=ours).count() == PATIENTS * 10
    # 90 / 10: keys ending in 9 are at B; the heavy patient is at A
    assert Observation.objects.for_system(SYSTEM).filter(patient_id=benchdata.HEAVY_PATIENT_ID).count() == 5_000
    assert Encounter.objects.for_system(SYSTEM).filter(organization_id=b.id).count() == 3 * 10
    assert report["tables"]["clinical_observation"]["bytes"] > 0
    assert report["database_bytes"] > 0

    # The application decrypts what was generated.
    patient = Patient.objects.get(id=benchdata.patient_id(1))
    encounter = Encounter.objects.for_system(SYSTEM).filter(patient_id=patient.id).first()
    assert encounter.reason
    assert isinstance(encounter.reason, str)
    item = PrescriptionItem.objects.for_system(SYSTEM).filter(patient_id=patient.id).first()
    assert isinstance(item.instructions, str)
    assert patient.preferences == {}
    with_nin = Patient.objects.filter(
        id__in=[benchdata.patient_id(k) for k in range(PATIENTS)], nin_index__isnull=False
    )
    someone = with_nin.exclude(id=benchdata.HEAVY_PATIENT_ID).first()
    assert someone is not None
    assert len(someone.nin) == 11

    # PHB's own patient search finds them, by name and by identifier, at their organization only.
    doctor_id = (
        Encounter.objects.for_system(SYSTEM).filter(patient_id=someone.id).values_list("attending_id", flat=True)[0]
    )
    home = a if benchdata.organization_of(_key(someone.id)) == 0 else b
    ctx = Ctx(
        actor_id=doctor_id,
        organization_id=home.id,
        roles=frozenset({"doctor"}),
        permissions=permissions_for(["doctor"]),
    )
    found = patient_selectors.patient_search(ctx=ctx, q=f"{someone.given_name} {someone.family_name}")
    assert someone.id in [f.patient.id for f in found]
    found = patient_selectors.patient_search(ctx=ctx, identifier_kind="nin", identifier=someone.nin)
    assert [f.patient.id for f in found] == [someone.id]
    found = patient_selectors.patient_search(ctx=ctx, hpn_number=someone.hpn)
    assert [f.patient.id for f in found] == [someone.id]

    # The FHIR API serves the generated records to a client of their organization, and nothing across.
    client_a, client_b = system_client(a), system_client(b)
    pid = benchdata.patient_id(1)  # at A
    response = client_a.get(f"/fhir/r4/Patient/{pid}")
    assert response.status_code == 200, response.content
    assert response.json()["name"][0]["family"] == patient.family_name
    search = f"/fhir/r4/Observation?patient={pid}&code=http://loinc.org|8867-4&date=ge2020-01-01"
    bundle = client_a.get(search).json()
    entries = bundle.get("entry", [])
    assert entries
    assert all(e["resource"]["code"]["coding"][0]["code"] == "8867-4" for e in entries)
    assert all(e["resource"]["effectiveDateTime"] >= "2020-01-01" for e in entries)
    validate(response.json())
    validate(bundle)
    for resource_type in ("Encounter", "Condition", "MedicationRequest", "Appointment", "Observation"):
        page = client_a.get(f"/fhir/r4/{resource_type}?patient={pid}&_count=50")
        assert page.status_code == 200, page.content
        assert page.json().get("entry"), resource_type
        validate(page.json())  # every generated kind of row is a valid FHIR resource
    assert client_b.get(f"/fhir/r4/Patient/{pid}").status_code == 404
    assert client_b.get(search).json().get("entry", []) == []
    assert client_b.get(f"/fhir/r4/Observation?patient={benchdata.patient_id(9)}").json().get("entry")


def _key(patient_id) -> int:
    return next(k for k in range(PATIENTS) if benchdata.patient_id(k) == patient_id)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tier": "X"}, "unknown tier"),
        ({"tier": "S", "patients": "0"}, "at least"),
        ({"tier": "S", "patients": "many"}, "whole number"),
        ({"tier": "S", "data": "/nonexistent/bundles"}, "no such directory"),
    ],
)
def test_bad_arguments_are_a_clear_command_error(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("bench_data", **options)


def test_a_database_holds_one_data_set():
    call_command("bench_data", tier="S", patients=str(benchdata.MIN_PATIENTS))
    with pytest.raises(CommandError, match="already holds"):
        call_command("bench_data", tier="S", patients=str(benchdata.MIN_PATIENTS))
