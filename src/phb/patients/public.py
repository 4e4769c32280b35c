"""What other apps may use of the patient registry."""

from phb.patients.consents import consent_allows
from phb.patients.exports import register_export_section
from phb.patients.merge import register_merge_handler, register_rows_handler
from phb.patients.portal import my_patient, my_registrations
from phb.patients.selectors import patient_search
from phb.patients.staff_views import staff_page

__all__ = [
    "consent_allows",
    "my_patient",
    "my_registrations",
    "patient_search",
    "register_export_section",
    "register_merge_handler",
    "register_rows_handler",
    "staff_page",
]


# --- patients as other systems see them (the FHIR API): visibility as a queryset -------------------
import uuid

from django.db.models import Q, QuerySet

from phb.accounts.public import break_glass_patient_ids
from phb.kernel.context import Ctx
from phb.patients.models import Patient, PatientRegistration
from phb.patients.selectors import NOT_IN_RESULTS, VISIBLE
from phb.patients.services import patient_register_from_record, patient_update


def registered_patient_ids(ctx: Ctx) -> QuerySet[PatientRegistration]:
    """The ids (`patient_id` values) of the patients registered at `ctx`'s organization (pending or
    approved), as a subquery: the patients a system client of the organization may read."""
    return PatientRegistration.objects.for_tenant(ctx).filter(status__in=VISIBLE).values("patient_id")


def patients_visible(ctx: Ctx) -> QuerySet[Patient]:
    """The patients `ctx` may look up, as `patient_search` and `patient_open` decide: registered at the
    organization (pending or approved), and for a clinician also those opened by break-the-glass while
    it lasts. Merged records are left out (their survivor is listed). Encrypted identifiers, photo and
    portal answers are not loaded. Not audited: the caller records what it returns.

    SECURITY: another organization's patient is simply absent."""
    if ctx.organization_id is None or not (
        ctx.has_perm("patients.demographics.view") or ctx.has_perm("clinical.record.view")
    ):
        return Patient.objects.none()
    condition = Q(id__in=registered_patient_ids(ctx))
    if not ctx.is_client and ctx.has_perm("clinical.record.view"):
        emergency = break_glass_patient_ids(ctx=ctx)
        if emergency:
            condition |= Q(id__in=sorted(emergency))
    return Patient.objects.filter(condition, merged_into__isnull=True).defer(*NOT_IN_RESULTS)


def medical_record_numbers(ctx: Ctx, patient_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The MRN each of these patients has at `ctx`'s organization (those registered here)."""
    return dict(
        PatientRegistration.objects.for_tenant(ctx)
        .filter(patient_id__in=patient_ids, status__in=VISIBLE)
        .values_list("patient_id", "mrn")
    )


def patient_ids_by_mrn(ctx: Ctx, mrn: str) -> QuerySet[PatientRegistration]:
    """The patient registered here under this MRN, as a subquery of `patient_id`."""
    return PatientRegistration.objects.for_tenant(ctx).filter(mrn=mrn, status__in=VISIBLE).values("patient_id")


__all__ += [
    "Patient",
    "medical_record_numbers",
    "patient_ids_by_mrn",
    "patients_visible",
    "registered_patient_ids",
]

# Writes from other systems (the FHIR API, imports): through the master patient index.
__all__ += ["patient_register_from_record", "patient_update"]

# --- consents as other systems see them (the FHIR API) ----------------------------------------------
from phb.patients.models import Consent  # noqa: E402


def consents_visible(ctx: Ctx) -> QuerySet[Consent]:
    """The consents of the patients `ctx` may look up (`patients_visible`) that concern `ctx`'s
    organization: every consent that names no organization, and a sharing consent whose data come from
    or go to this organization (or any). Not audited: the caller records what it returns.

    SECURITY: a sharing consent between two other organizations is not this organization's to read."""
    if ctx.organization_id is None:
        return Consent.objects.none()
    here = ctx.organization_id
    concerns = Q(from_organization_id__isnull=True) | Q(from_organization_id=here)
    concerns |= Q(to_organization_id__isnull=True) | Q(to_organization_id=here)
    return Consent.objects.filter(concerns, patient_id__in=patients_visible(ctx).values("id"))


__all__ += ["Consent", "consents_visible"]
