import factory

from phb.organizations.models import Department


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    organization = factory.SubFactory("tests.kernel.factories.OrganizationFactory")
    name = factory.Sequence(lambda n: f"Department {n}")
    kind = "outpatients"
    code = factory.Sequence(lambda n: f"dept-{n}")
