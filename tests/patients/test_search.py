"""Staff search and opening a record: only patients registered at one's organization (or reached by
break-the-glass), fuzzy by name, exact by HPN, MRN, phone, birth date, identifier; all audited."""

import datetime as dt

import pytest
from django.db import connection, transaction

from phb.accounts import services as account_services
from phb.accounts.roles import permissions_for
from phb.kernel.context import Ctx, PurposeOfUse
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.patients import selectors, services
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.patients.factories import demographics

pytestmark = pytest.mark.django_db


def staff(org, *roles, user=None):
    user = user or UserFactory()
    return Ctx(actor_id=user.id, organization_id=org.id, roles=frozenset(roles), permissions=permissions_for(roles))


@pytest.fixture
def at_a(org_a):
    desk = staff(org_a, "receptionist")
    registration = services.walk_in_register(
        ctx=desk,
        **demographics(
            given_name="Oluwaseun",
            family_name="Adébáyọ̀",
            other_names="Tolu",
            birth_date=dt.date(1984, 3, 9),
            phone="+234 803 555 0101",
            nin="22233344455",
        ),
    )
    return registration


def found_ids(ctx, **criteria):
    return [f.patient.id for f in selectors.patient_search(ctx=ctx, **criteria)]


@pytest.mark.parametrize(
    "criteria",
    [
        {"q": "oluwaseun adebayo"},
        {"q": "Adebayo Oluwaseun"},  # order does not matter
        {"q": "Oluwasuen Adebayo"},  # a typo
        {"q": "ADEBAYO"},  # without the tone marks, one name only
        {"phone": "+2348035550101"},
        {"birth_date": dt.date(1984, 3, 9)},
        {"identifier_kind": "nin", "identifier": "222 333 444 55"},
        {"q": "seun", "birth_date": dt.date(1984, 3, 9)},
    ],
)
def test_reception_finds_its_patient(org_a, at_a, criteria):
    assert found_ids(staff(org_a, "receptionist"), **criteria) == [at_a.patient_id]


def test_hpn_and_mrn_find_exactly(org_a, at_a):
    ctx = staff(org_a, "nurse")
    assert found_ids(ctx, hpn_number=at_a.patient.hpn) == [at_a.patient_id]
    assert found_ids(ctx, mrn=at_a.mrn) == [at_a.patient_id]
    assert found_ids(ctx, q="oluwaseun", birth_date=dt.date(1984, 3, 10)) == []


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({}, "q"),
        ({"q": "a"}, "q"),
        ({"hpn_number": "12345678901"}, "hpn"),
        ({"phone": "0803"}, "phone"),
        ({"identifier_kind": "bvn", "identifier": "1"}, "identifier_kind"),
    ],
)
def test_bad_search_input_is_a_clear_error(org_a, criteria, field):
    with pytest.raises(ValidationFailed) as info:
        selectors.patient_search(ctx=staff(org_a, "receptionist"), **criteria)
    assert info.value.extra["errors"][0]["field"] == field


def test_staff_of_another_organization_can_neither_find_nor_open_the_patient(org_a, org_b, at_a):
    other = staff(org_b, "receptionist")
    for criteria in ({"q": "oluwaseun adebayo"}, {"hpn_number": at_a.patient.hpn}, {"mrn": at_a.mrn}):
        assert found_ids(other, **criteria) == []
    with pytest.raises(NotFound):
        selectors.patient_open(ctx=staff(org_b, "doctor"), patient_id=at_a.patient_id)
    denied = AuditEvent.objects.for_tenant(other).filter(action="patients.patient.read", outcome="denied")
    assert denied.count() == 1


def test_break_the_glass_opens_and_finds_a_patient_of_another_organization_for_its_duration(org_b, at_a):
    doctor = UserFactory()
    MembershipFactory(user=doctor, organization=org_b, roles=["doctor"])
    ctx = staff(org_b, "doctor", user=doctor)
    with pytest.raises(NotFound):
        selectors.patient_open(ctx=ctx, patient_id=at_a.patient_id)
    account_services.break_glass_start(ctx=ctx, patient_id=at_a.patient_id, reason="Unconscious in the emergency room")
    emergency = Ctx(
        **{**{f: getattr(ctx, f) for f in ctx.__dataclass_fields__}, "purpose_of_use": PurposeOfUse.EMERGENCY}
    )
    patient, registration = selectors.patient_open(ctx=emergency, patient_id=at_a.patient_id)
    assert (patient.id, registration) == (at_a.patient_id, None)
    assert found_ids(emergency, q="oluwaseun") == [at_a.patient_id]
    read = AuditEvent.objects.for_tenant(ctx).get(action="patients.patient.read", outcome="success")
    assert read.purpose_of_use == "ETREAT"


def test_searching_and_opening_are_audited_without_the_search_terms(org_a, at_a):
    ctx = staff(org_a, "receptionist")
    selectors.patient_search(ctx=ctx, q="Oluwaseun", phone="+2348035550101")
    selectors.patient_open(ctx=ctx, patient_id=at_a.patient_id)
    search = AuditEvent.objects.for_tenant(ctx).get(action="patients.patient.search")
    assert search.detail == {"criteria": ["phone", "name"], "results": 1}
    assert "Oluwaseun" not in str(search.detail)
    opened = AuditEvent.objects.for_tenant(ctx).get(action="patients.patient.read")
    assert opened.patient_id == at_a.patient_id


def test_roles_without_demographics_cannot_search(org_a, at_a):
    with pytest.raises(Forbidden):
        selectors.patient_search(ctx=staff(org_a, "laboratory_technician"), q="oluwaseun")


def test_the_closest_names_are_ranked_when_a_name_matches_more_records_than_are_kept(org_a, monkeypatch):
    """A common name matches thousands of records in a large registry: the candidates kept are the
    closest names (PostgreSQL), not the latest registered, so the person searched for is not lost."""
    if connection.vendor != "postgresql":
        pytest.skip("ranking by trigram similarity is PostgreSQL's")
    desk = staff(org_a, "receptionist")
    first = services.walk_in_register(ctx=desk, **demographics(given_name="Chinedu", family_name="Eze"))
    for given in ("Adaeze", "Obinna", "Ngozi"):
        services.walk_in_register(ctx=desk, **demographics(given_name=given, family_name="Eze"))
    monkeypatch.setattr(selectors, "RANKED_CANDIDATES", 2)
    assert found_ids(desk, q="Chinedu Eze")[0] == first.patient_id


def test_a_search_in_a_transaction_leaves_the_planner_settings_as_they_were(org_a, at_a):
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    with transaction.atomic(), connection.cursor() as cursor:
        assert found_ids(staff(org_a, "receptionist"), q="adebayo") == [at_a.patient_id]
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"


def test_a_photo_is_re_encoded_without_its_metadata_encrypted_and_read_with_an_audit(org_a, org_b, at_a):
    import io

    from django.db import connection
    from PIL import Image

    original = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # a camera's make, as phones write it
    Image.new("RGB", (2000, 1000), "teal").save(original, format="JPEG", exif=exif)
    desk = staff(org_a, "receptionist")
    services.patient_photo_set(ctx=desk, patient_id=at_a.patient_id, data=original.getvalue())

    photo = selectors.patient_photo(ctx=desk, patient_id=at_a.patient_id)
    with Image.open(io.BytesIO(photo)) as image:
        assert image.format == "JPEG"
        assert max(image.size) == 800
        assert "CameraMaker" not in str(image.getexif().values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT photo FROM patients_patient")
        assert cursor.fetchone()[0].startswith("phb1:")
    assert AuditEvent.objects.for_tenant(desk).filter(action="patients.photo.read").exists()

    with pytest.raises(ValidationFailed):
        services.patient_photo_set(ctx=desk, patient_id=at_a.patient_id, data=b"%PDF-1.4 not an image")
    with pytest.raises(NotFound):
        services.patient_photo_set(
            ctx=staff(org_b, "receptionist"), patient_id=at_a.patient_id, data=original.getvalue()
        )
    with pytest.raises(Forbidden):
        services.patient_photo_set(ctx=staff(org_a, "nurse"), patient_id=at_a.patient_id, data=original.getvalue())
