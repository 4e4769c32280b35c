"""Patients: HPN with a check digit, encrypted identifiers found by blind index, registrations with MRNs."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients import hpn, services
from phb.patients.models import Patient, PatientRegistration
from tests.accounts.factories import UserFactory
from tests.patients.factories import make_patient, register_at_desk

pytestmark = pytest.mark.django_db


def reception(org):
    return Ctx(
        actor_id=UserFactory().id, organization_id=org.id, permissions=frozenset({"patients.registration.manage"})
    )


def admin(org):
    return Ctx(
        actor_id=UserFactory().id, organization_id=org.id, permissions=frozenset({"patients.registration.approve"})
    )


def new_patient(**fields):
    return make_patient(**fields)


def test_an_hpn_has_a_valid_check_digit_that_catches_typos():
    number = hpn.generate()
    assert hpn.is_valid(number)
    assert hpn.is_valid(hpn.display(number))
    wrong_digit = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
    # Luhn catches every swap of two adjacent different digits except 0 and 9 (09 <-> 90).
    i = next(
        i for i in range(len(number) - 2) if number[i] != number[i + 1] and {number[i], number[i + 1]} != {"0", "9"}
    )
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    assert not hpn.is_valid(wrong_digit)
    assert not hpn.is_valid(swapped)
    for junk in ("", "abc", "0" + number[1:], number[:-1], number + "1"):
        assert not hpn.is_valid(junk)


def test_a_new_patient_gets_a_valid_unique_hpn():
    a, b = new_patient(), new_patient()
    assert hpn.is_valid(a.hpn)
    assert a.hpn != b.hpn


def test_national_identifiers_are_encrypted_and_found_by_exact_match():
    patient = new_patient(nin="12345 678 901", phone="+2348031234567")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nin FROM patients_patient WHERE id = %s",
            [Patient._meta.pk.get_db_prep_value(patient.id, connection)],
        )
        stored = cursor.fetchone()[0]
    assert stored.startswith("phb1:")
    assert "678" not in stored
    assert services.patient_find_by_identifier(ctx=Ctx.system(reason="t"), kind="nin", value="12345678901") == patient
    assert services.patient_find_by_identifier(ctx=Ctx.system(reason="t"), kind="nin", value="12345678902") is None


def test_an_estimated_age_gives_a_flagged_estimated_birth_date():
    patient = services.patient_create(
        ctx=Ctx.system(reason="t"), given_name="Musa", family_name="Bello", estimated_age_years=40
    )
    assert patient.birth_date_estimated
    assert patient.birth_date.month == 7


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"birth_date": dt.date(2999, 1, 1)}, "birth_date"),
        ({"phone": "12345"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"estimated_age_years": 300, "birth_date": None}, "estimated_age_years"),
    ],
)
def test_bad_demographics_are_refused_and_nothing_is_written(fields, field):
    data = {"given_name": "X", "family_name": "Y", "birth_date": dt.date(1990, 1, 1), **fields}
    with pytest.raises(ValidationFailed) as info:
        services.patient_create(ctx=Ctx.system(reason="t"), **data)
    assert field in {e["field"] for e in info.value.extra["errors"]}
    assert not Patient.objects.exists()


def test_reception_registers_with_a_sequential_mrn_and_the_first_is_primary(org_a, org_b):
    p1, p2 = new_patient(), new_patient()
    r1 = register_at_desk(reception(org_a), p1)
    r2 = register_at_desk(reception(org_a), p2)
    rb = register_at_desk(reception(org_b), p1)
    assert (r1.mrn, r2.mrn, rb.mrn) == ("00000001", "00000002", "00000001")
    assert r1.status == "approved"
    assert r1.is_primary
    assert not rb.is_primary
    with pytest.raises(Conflict):
        register_at_desk(reception(org_a), p1)


def test_a_duplicate_mrn_is_refused_by_the_database(org_a):
    r = register_at_desk(reception(org_a), new_patient())
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientRegistration.objects.create(organization=org_a, patient=new_patient(), mrn=r.mrn)


def test_a_patient_requests_registration_and_an_administrator_decides(org_a, org_b):
    user = UserFactory()
    patient = new_patient(user=user)
    request = services.registration_create(
        ctx=Ctx(actor_id=user.id, organization_id=org_a.id), patient_id=patient.id, at_desk=False
    )
    assert request.status == "pending"
    with pytest.raises(NotFound):  # another organization's administrator does not even see it
        services.registration_decide(ctx=admin(org_b), registration_id=request.id, approve=True)
    with pytest.raises(ValidationFailed):
        services.registration_decide(ctx=admin(org_a), registration_id=request.id, approve=False)
    decided = services.registration_decide(
        ctx=admin(org_a), registration_id=request.id, approve=False, reason="Not in our catchment area"
    )
    assert (decided.status, decided.rejection_reason) == ("rejected", "Not in our catchment area")
    with pytest.raises(Conflict):
        services.registration_decide(ctx=admin(org_a), registration_id=request.id, approve=True)


def test_someone_else_cannot_request_registration_for_a_patient(org_a):
    patient = new_patient(user=UserFactory())
    with pytest.raises(Forbidden):
        services.registration_create(
            ctx=Ctx(actor_id=UserFactory().id, organization_id=org_a.id), patient_id=patient.id, at_desk=False
        )


def test_an_inactive_organization_accepts_no_registration(org_a):
    from phb.kernel.models import Organization

    Organization.objects.for_platform(Ctx.system(reason="t")).filter(id=org_a.id).update(is_active=False)
    with pytest.raises(ValidationFailed) as info:
        register_at_desk(reception(org_a), new_patient())
    assert info.value.code == "ORGANIZATION_INACTIVE"


def test_registration_writes_are_audited(org_a):
    from phb.kernel.models import AuditEvent

    patient = new_patient()
    register_at_desk(reception(org_a), patient)
    actions = set(
        AuditEvent.objects.for_patient(Ctx.system(reason="t"), patient_id=patient.id).values_list("action", flat=True)
    )
    assert actions == {"patients.patient.create", "patients.registration.create"}
