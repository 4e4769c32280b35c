import factory

from phb.kernel.models import Organization


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Test Hospital {n}")
    kind = "hospital"
    code = factory.Sequence(lambda n: f"test-hospital-{n}")
    city = "Lagos"
    state = "Lagos"
