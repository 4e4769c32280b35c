"""Consents: granted and withdrawn by the patient, and the check before data crosses organizations."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients import consents, services
from phb.patients.public import consent_allows
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    user = UserFactory()
    p = services.patient_create(
        ctx=Ctx.system(reason="t"), given_name="Zainab", family_name="Lawal", birth_date=dt.date(1985, 2, 3), user=user
    )
    return p, Ctx(actor_id=user.id)


def test_without_a_sharing_consent_nothing_crosses(patient, org_a, org_b):
    p, _ = patient
    assert consent_allows(p.id, org_a.id, org_b.id, "medications") is False
    assert consent_allows(p.id, org_a.id, org_a.id, "medications") is True  # staying inside is not crossing


def test_a_scoped_sharing_consent_allows_only_its_organizations_and_categories(patient, org_a, org_b):
    p, ctx = patient
    consents.consent_grant(
        ctx=ctx,
        patient_id=p.id,
        kind="sharing",
        version="2026-01",
        from_organization_id=org_a.id,
        to_organization_id=org_b.id,
        categories=["medications", "laboratory"],
    )
    assert consent_allows(p.id, org_a.id, org_b.id, "medications")
    assert not consent_allows(p.id, org_a.id, org_b.id, "womens_health")
    assert not consent_allows(p.id, org_b.id, org_a.id, "medications")  # the other direction was not given
    assert not consent_allows(p.id, org_a.id, uuid.uuid4(), "medications")


def test_withdrawing_stops_sharing_and_is_recorded(patient, org_a, org_b):
    from phb.kernel.models import AuditEvent

    p, ctx = patient
    consent = consents.consent_grant(ctx=ctx, patient_id=p.id, kind="sharing", version="2026-01")
    assert consent_allows(p.id, org_a.id, org_b.id, "encounters")
    consents.consent_withdraw(ctx=ctx, consent_id=consent.id)
    assert not consent_allows(p.id, org_a.id, org_b.id, "encounters")
    with pytest.raises(Conflict):
        consents.consent_withdraw(ctx=ctx, consent_id=consent.id)
    actions = list(
        AuditEvent.objects.for_patient(Ctx.system(reason="t"), patient_id=p.id)
        .filter(action__startswith="patients.consent.")
        .values_list("action", flat=True)
    )
    assert sorted(actions) == ["patients.consent.grant", "patients.consent.withdraw"]


def test_only_the_patient_gives_or_withdraws_their_consent(patient):
    p, ctx = patient
    stranger = Ctx(actor_id=UserFactory().id)
    with pytest.raises(Forbidden):
        consents.consent_grant(ctx=stranger, patient_id=p.id, kind="research", version="1")
    consent = consents.consent_grant(ctx=ctx, patient_id=p.id, kind="research", version="1")
    with pytest.raises(NotFound):
        consents.consent_withdraw(ctx=stranger, consent_id=consent.id)


@pytest.mark.parametrize(("kind", "categories"), [("telepathy", None), ("sharing", ["dreams"])])
def test_unknown_kinds_and_categories_are_refused(patient, kind, categories):
    p, ctx = patient
    with pytest.raises(ValidationFailed):
        consents.consent_grant(ctx=ctx, patient_id=p.id, kind=kind, version="1", categories=categories)


def test_opening_the_record_of_a_namesake_is_flagged(org_a):
    from phb.accounts.models import AnomalyFlag
    from phb.kernel import audit
    from phb.patients.anomalies import same_family_name_flags

    nurse, other = UserFactory(full_name="Ngozi Okafor"), UserFactory(full_name="Aisha Bello")
    relative = services.patient_create(
        ctx=Ctx.system(reason="t"), given_name="Emeka", family_name="Okafor", birth_date=dt.date(1960, 1, 1)
    )
    for user in (nurse, other):
        audit.record(Ctx(actor_id=user.id, organization_id=org_a.id), "clinical.chart.read", patient_id=relative.id)
    ctx = Ctx.system(reason="t", organization_id=org_a.id)
    today_in_lagos = dt.datetime.now(ZoneInfo("Africa/Lagos")).date()
    assert same_family_name_flags(ctx=ctx, day=today_in_lagos) == 1
    flag = AnomalyFlag.objects.for_tenant(ctx).get()
    assert (flag.kind, flag.user_id, flag.detail["patients"]) == ("same_family_name", nurse.id, [str(relative.id)])
