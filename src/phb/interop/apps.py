from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "phb.interop"
    label = "interop"
    verbose_name = "Interoperability (FHIR R4, HL7 v2)"
