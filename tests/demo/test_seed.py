import pytest
from django.core.management import call_command

from phb.accounts.models import Membership, User
from phb.demo.seed import seed_demo
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.organizations.models import Department
from phb.organizations.services import STANDARD_DEPARTMENTS

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def test_seed_creates_a_network_with_a_hospital_and_a_clinic_and_their_departments():
    made = seed_demo()
    assert made["organizations"] == 3
    orgs = {o.code: o for o in Organization.objects.for_platform(SYSTEM)}
    network = orgs["lagoon-health"]
    assert network.kind == "network"
    for code, kind in (("unity-teaching", "hospital"), ("harmony-clinic", "clinic")):
        assert orgs[code].kind == kind
        assert orgs[code].parent_id == network.id
        kinds = set(
            Department.objects.for_tenant(SYSTEM.for_organization(orgs[code].id)).values_list("kind", flat=True)
        )
        assert kinds == {k.value for k in STANDARD_DEPARTMENTS}
        assert len(kinds) == 12
    assert User.objects.filter(is_platform_operator=True).exists()
    assert Membership.objects.for_system(SYSTEM).count() == made["memberships"] > 0


def test_seed_is_idempotent():
    seed_demo()
    counts = (
        Organization.objects.for_platform(SYSTEM).count(),
        Department.objects.for_system(SYSTEM).count(),
        User.objects.count(),
        Membership.objects.for_system(SYSTEM).count(),
    )
    assert set(seed_demo().values()) == {0}
    call_command("seed_demo")
    assert counts == (
        Organization.objects.for_platform(SYSTEM).count(),
        Department.objects.for_system(SYSTEM).count(),
        User.objects.count(),
        Membership.objects.for_system(SYSTEM).count(),
    )


def test_demo_staff_sign_in_with_the_printed_authenticator_code(client, capsys):
    seed_demo()
    call_command("demo_code", "doctor@unity.demo.phb.example")
    code = capsys.readouterr().out.strip()
    from phb.demo.seed import DEMO_PASSWORD

    first = client.post("/accounts/sign-in/", {"email": "doctor@unity.demo.phb.example", "password": DEMO_PASSWORD})
    assert first["Location"] == "/accounts/mfa/"
    assert client.post("/accounts/mfa/", {"code": code}).status_code == 302
    assert client.get("/api/v1/auth/me/").json()["roles"] == ["doctor"]


def test_demo_patients_sign_in_without_a_second_factor(client):
    from phb.demo.seed import DEMO_PASSWORD, PATIENTS

    seed_demo()
    response = client.post("/accounts/sign-in/", {"email": PATIENTS[0][0], "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_demo_patients_have_records_registered_at_the_hospital(client):
    from phb.demo.seed import DEMO_PASSWORD, PATIENTS
    from phb.patients.models import Patient, PatientRegistration

    seed_demo()
    patient = Patient.objects.get(user__email=PATIENTS[0][0])
    unity = Organization.objects.for_platform(SYSTEM).get(code="unity-teaching")
    assert (
        PatientRegistration.objects.for_tenant(SYSTEM.for_organization(unity.id))
        .filter(patient=patient, status="approved")
        .exists()
    )
    client.post("/accounts/sign-in/", {"email": PATIENTS[0][0], "password": DEMO_PASSWORD})
    assert b"Health Point Number" in client.get("/patient/").content
