import factory

from phb.accounts.models import Membership, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "a-long-test-password-42")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory("tests.kernel.factories.OrganizationFactory")
    roles = factory.LazyFunction(lambda: ["doctor"])


def verified_client(user, client=None):
    """A client signed in as `user` with a confirmed authenticator, the second factor passed."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.test import APIClient

    client = client or APIClient()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    client.user = user
    client.device = device
    return client


def totp_code(device, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app would show now (or `steps_ahead` time steps later)."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift + steps_ahead):06d}"


def staff_member(organization, *roles, with_device=True, **user_fields):
    """A staff user (membership with `roles`) with a confirmed authenticator unless told otherwise."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = UserFactory(**user_fields)
    MembershipFactory(user=user, organization=organization, roles=list(roles) or ["doctor"])
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True) if with_device else None
    return user, device


def security_events(action, *, user=None, user_id=None, **filters):
    """The audit events an accounts security event became (`accounts.<action>`), optionally about one user."""
    from phb.kernel.context import Ctx
    from phb.kernel.models import AuditEvent

    events = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action=f"accounts.{action}", **filters)
    uid = user_id or (user.id if user is not None else None)
    return events.filter(resource_id=str(uid)) if uid else events
