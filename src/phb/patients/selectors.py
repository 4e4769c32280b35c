"""Reads of the patient registry for staff: search, open a record, the administrator's queues.

Staff see the patients registered at their organization (pending or approved), and a patient they
opened by break-the-glass while that access lasts; anyone else is "not found". Every search and every
opened record is audited."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramSimilarity
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from rapidfuzz.distance import JaroWinkler

from phb.accounts.public import break_glass_active, break_glass_patient_ids
from phb.kernel import audit, crypto
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.kernel.validators import normalize_phone
from phb.patients import hpn, matching
from phb.patients.models import (
    DuplicateCandidate,
    DuplicateStatus,
    Patient,
    PatientMerge,
    PatientRegistration,
    RegistrationStatus,
)

SEARCH_LIMIT = 25
SEARCH_CANDIDATES = 500  # the latest registered matching, ranked in Python
RANKED_CANDIDATES = 50  # on PostgreSQL, by name: the closest names, ranked again in Python
VISIBLE = (RegistrationStatus.PENDING, RegistrationStatus.APPROVED)
# Encrypted fields a result list never shows: not loaded, so not decrypted row by row (open the record).
NOT_IN_RESULTS = ("nin", "passport", "ssn", "photo", "preferences", "history_overview")


@dataclass(frozen=True)
class Found:
    patient: Patient
    registration: PatientRegistration | None  # None: reached by break-the-glass
    similarity: float


def _can_search(ctx: Ctx) -> bool:
    return ctx.has_perm("patients.demographics.view") or ctx.has_perm("clinical.record.view")


def _registrations(ctx: Ctx) -> QuerySet[PatientRegistration]:
    return PatientRegistration.objects.for_tenant(ctx).filter(status__in=VISIBLE)


def _name_filter(text: str) -> tuple[Q, str]:
    """Fuzzy name match: trigram word similarity on PostgreSQL (GIN index on `search_name`), every
    word contained on SQLite; on both, any word sounding like the given or family name."""
    folded = matching.fold(text)
    if len(folded.replace(" ", "")) < 2:
        raise ValidationFailed.field("q", "type at least two letters of the name")
    keys = {matching.phonetic_key(word) for word in folded.split()}
    phonetic = Q(family_key__in=keys) | Q(given_key__in=keys)
    if connection.vendor == "postgresql":
        return Q(search_name__trigram_word_similar=folded) | phonetic, folded
    words = Q()
    for word in folded.split():
        words &= Q(search_name__contains=word)
    return words | phonetic, folded


@audit.reads_health_data
def patient_search(
    *,
    ctx: Ctx,
    q: str = "",
    hpn_number: str = "",
    mrn: str = "",
    phone: str = "",
    birth_date: dt.date | None = None,
    identifier_kind: str = "",
    identifier: str = "",
    limit: int = SEARCH_LIMIT,
) -> list[Found]:
    """Patients of `ctx`'s organization matching every criterion given, best name match first."""
    if not _can_search(ctx):
        raise audit.denied(
            ctx, "patients.patient.search", Forbidden("searching patients needs a staff role that sees demographics")
        )
    criteria, mrn, used = Q(merged_into__isnull=True), mrn.strip(), []
    if hpn_number:
        if not hpn.is_valid(hpn_number):
            raise ValidationFailed.field("hpn", "this is not a valid HPN (check the digits)")
        criteria &= Q(hpn=hpn.normalize(hpn_number))
        used.append("hpn")
    if mrn:
        used.append("mrn")
    if phone:
        try:
            criteria &= Q(phone=normalize_phone(phone))
        except ValidationError as exc:
            raise ValidationFailed.field(
                "phone", "enter the phone number in international form, e.g. +234 803 123 4567"
            ) from exc
        used.append("phone")
    if birth_date:
        criteria &= Q(birth_date=birth_date)
        used.append("birth_date")
    if identifier:
        if identifier_kind not in ("nin", "passport", "ssn"):
            raise ValidationFailed.field("identifier_kind", "one of nin, passport, ssn")
        criteria &= Q(
            **{f"{identifier_kind}_index": crypto.blind_index(identifier, purpose=f"patients.{identifier_kind}")}
        )
        used.append(identifier_kind)
    folded = ""
    if q.strip():
        name, folded = _name_filter(q)
        criteria &= name
        used.append("name")
    if not used:
        raise ValidationFailed.field("q", "give a name, HPN, MRN, phone, date of birth or identifier")

    patients = Patient.objects.filter(criteria)
    # The criteria on the joined patient, not `patient__in` a subquery: the planner then starts from the
    # few matching patients instead of every registration of the organization.
    registrations = (
        _registrations(ctx)
        .filter(_on_patient(criteria))
        .select_related("patient")
        .defer(*(f"patient__{field}" for field in NOT_IN_RESULTS))
    )
    if mrn:
        registrations = registrations.filter(mrn=mrn)
    order, candidates = ["-created_at"], SEARCH_CANDIDATES
    if folded and connection.vendor == "postgresql":
        # A common name matches thousands of records: keep those whose names are closest, not the
        # latest registered (the person searched for would fall outside the candidates).
        registrations = registrations.annotate(name_rank=TrigramSimilarity("patient__search_name", folded))
        order, candidates = ["-name_rank", *order], RANKED_CANDIDATES
    with _index_scans_preferred():
        rows = list(registrations.order_by(*order)[:candidates])
    found = [Found(r.patient, r, _similarity(folded, r.patient)) for r in rows]
    # Only clinicians who may view records can break the glass: others hold no emergency access to look up.
    emergency = break_glass_patient_ids(ctx=ctx) if ctx.has_perm("clinical.record.view") and not mrn else set()
    emergency -= {r.patient_id for r in rows}
    if emergency:
        extra = patients.filter(id__in=emergency).defer(*NOT_IN_RESULTS)
        found += [Found(p, None, _similarity(folded, p)) for p in extra]
    found.sort(key=lambda f: -f.similarity)
    found = found[:limit]
    audit.record(ctx, "patients.patient.search", read=True, criteria=used, results=len(found))
    return found


def _on_patient(criteria: Q) -> Q:
    """`criteria` over Patient's fields, as conditions on a registration's patient."""
    children = [
        _on_patient(child) if isinstance(child, Q) else (f"patient__{child[0]}", child[1])
        for child in criteria.children
    ]
    return Q(*children, _connector=criteria.connector, _negated=criteria.negated)


@contextlib.contextmanager
def _index_scans_preferred() -> Iterator[None]:
    """pg_trgm's operators are costed like `=`, though each call builds the trigrams of the row: for a
    common name the planner reads the whole patient table and tests every row (about 0.3 s for
    100,000) rather than the trigram and phonetic key indexes (a few ms). For the enclosed queries only,
    a sequential scan is a last resort: set for the transaction, put back when the caller's outer
    transaction goes on (an error rolls the savepoint, and the setting with it, back)."""
    if connection.vendor != "postgresql":
        yield
        return
    nested = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_seqscan'), set_config('enable_seqscan', 'off', true)")
        previous = cursor.fetchone()[0]
        yield
        if nested:
            cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [previous])


def _similarity(folded: str, patient: Patient) -> float:
    return JaroWinkler.similarity(folded, patient.search_name) if folded else 1.0


@audit.reads_health_data
def patient_open(*, ctx: Ctx, patient_id: uuid.UUID) -> tuple[Patient, PatientRegistration | None]:
    """Open a patient's record (demographics, contacts, insurance): registered here, or break-the-glass.
    A merged record opens its survivor. Audited, denied attempts included."""
    if not _can_search(ctx):
        raise audit.denied(
            ctx, "patients.patient.read", Forbidden("opening records needs a staff role that sees demographics")
        )
    if ctx.organization_id is None:
        raise audit.denied(ctx, "patients.patient.read", NotFound("no such patient"), resource_id=str(patient_id))
    patient = Patient.objects.filter(id=patient_id).first()
    while patient is not None and patient.merged_into_id is not None:
        patient = Patient.objects.filter(id=patient.merged_into_id).first()
    registration = _registrations(ctx).filter(patient=patient).first() if patient else None
    if patient is None or (registration is None and break_glass_active(ctx=ctx, patient_id=patient.id) is None):
        audit.record(ctx, "patients.patient.read", outcome="denied", resource_id=patient_id, read=True)
        raise NotFound("no such patient")  # SECURITY: another organization's patient is not found
    audit.record(ctx, "patients.patient.read", target=patient, patient_id=patient.id, read=True)
    return patient, registration


@audit.reads_health_data
def registrations_pending(*, ctx: Ctx) -> QuerySet[PatientRegistration]:
    """The administrator's queue: registrations requested from the portal, oldest first."""
    if not ctx.has_perm("patients.registration.approve"):
        raise audit.denied(
            ctx, "patients.registration.list", Forbidden("the registration queue is for hospital administrators")
        )
    audit.record(ctx, "patients.registration.list", read=True)
    return (
        PatientRegistration.objects.for_tenant(ctx)
        .filter(status=RegistrationStatus.PENDING)
        .select_related("patient")
        .order_by("created_at")
    )


@audit.reads_health_data
def duplicates_open(*, ctx: Ctx) -> QuerySet[DuplicateCandidate]:
    """The organization's queue of possible duplicates, strongest first."""
    if not ctx.has_perm("patients.patient.merge"):
        raise audit.denied(
            ctx,
            "patients.duplicate.list",
            Forbidden("the duplicates queue is for records officers and administrators"),
        )
    audit.record(ctx, "patients.duplicate.list", read=True)
    return (
        DuplicateCandidate.objects.for_tenant(ctx)
        .filter(status=DuplicateStatus.OPEN)
        .select_related("patient", "other")
        .order_by("-points", "created_at")
    )


@audit.reads_health_data
def access_log(*, ctx: Ctx, patient_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """Who looked at or changed a patient's record, for the patient themself (their own actions left out)."""
    patient = Patient.objects.filter(id=patient_id, user_id=ctx.actor_id).first() if ctx.actor_id else None
    if patient is None:
        audit.record(ctx, "patients.access_log.read", resource_id=patient_id, outcome="denied", read=True)
        raise NotFound("no such patient")
    audit.record(ctx, "patients.access_log.read", patient_id=patient.id, read=True)
    return (
        AuditEvent.objects.for_patient(ctx, patient_id=patient.id)
        .exclude(actor_id=ctx.actor_id)
        .order_by("-occurred_at", "-id")
    )


@audit.reads_health_data
def patient_photo(*, ctx: Ctx, patient_id: uuid.UUID) -> bytes | None:
    """The JPEG photo of a patient one may open (None when there is none); audited like opening the record."""
    import base64

    patient, _ = patient_open(ctx=ctx, patient_id=patient_id)
    audit.record(ctx, "patients.photo.read", target=patient, patient_id=patient.id, read=True)
    return base64.b64decode(patient.photo) if patient.photo else None


@audit.reads_health_data
def merges_recent(*, ctx: Ctx, limit: int = 50) -> list[PatientMerge]:
    """The merges decided at `ctx`'s organization, newest first (those still in their undo window
    can be undone)."""
    if not ctx.has_perm("patients.patient.merge"):
        raise audit.denied(
            ctx, "patients.merge.list", Forbidden("the merges are for records officers and administrators")
        )
    audit.record(ctx, "patients.merge.list", read=True)
    return list(
        PatientMerge.objects.filter(organization_id=ctx.organization_id)
        .select_related("survivor", "merged")
        .order_by("-created_at")[:limit]
    )


@dataclass(frozen=True)
class DuplicatePair:
    candidate: DuplicateCandidate
    registrations: dict[uuid.UUID, PatientRegistration]  # of the records registered here, by patient id


@audit.reads_health_data
def duplicate_compare(*, ctx: Ctx, candidate_id: uuid.UUID) -> DuplicatePair:
    """One open pair of the organization's queue, for a side-by-side review. A record of the pair not
    registered here is shown only as the master patient index summarizes it (and cannot be merged
    from here). Both records read are audited."""
    candidate = duplicates_open(ctx=ctx).filter(id=candidate_id).first()
    if candidate is None:
        # SECURITY: another organization's pair is not found
        raise audit.denied(ctx, "patients.duplicate.read", NotFound("no such duplicate candidate"))
    ids = [candidate.patient_id, candidate.other_id]
    registrations = {r.patient_id: r for r in _registrations(ctx).filter(patient_id__in=ids)}
    for patient_id in ids:
        audit.record(ctx, "patients.patient.read", patient_id=patient_id, read=True, why="duplicate review")
    return DuplicatePair(candidate, registrations)
