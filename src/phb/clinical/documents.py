"""Documents on a patient's record: storing a file (checked, encrypted, written to the documents storage),
listing and reading their metadata, streaming one back, marking one entered in error.

The storage layer is reusable: `document_store` takes bytes and a declared type and returns the
document row, for any part of the record that keeps a file (a photo of a symptom the patient reports
calls it as the patient). Every read is audited, and a refused one too; anyone without a care
relationship is answered "not found" (policies.care_relationship).

Consistency between the database and the storage: the content is checked before anything is written;
the file is written, then the row in one transaction, and the file is deleted again if that
transaction fails. A caller's outer transaction that rolls back later leaves a file no row names; its
data key died with the row, so nobody can read it, and `documents_sweep_orphans` (daily) deletes it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import structlog
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from phb.clinical import document_checks, policies
from phb.clinical.models import ClinicalDocument, DocumentCategory, DocumentSource, DocumentStatus, Encounter
from phb.clinical.services import require_access
from phb.kernel import audit, crypto
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ProblemError, ValidationFailed
from phb.kernel.ids import uuid7
from phb.kernel.models import Organization

log = structlog.get_logger("phb.clinical.documents")

STORAGE = "clinical_documents"  # the alias in settings.STORAGES
TITLE_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 2_000
REASON_MAX_CHARS = 2_000
MAX_LIST = 200
ORPHAN_GRACE = dt.timedelta(hours=6)  # a file younger than this may belong to a transaction in flight


class DocumentUnavailable(ProblemError):
    """The storage could not give the document back (unreachable, missing, or it failed to decrypt)."""

    status, code, title = 503, "DOCUMENT_UNAVAILABLE", "The document cannot be read right now"


def storage() -> Storage:
    return storages[STORAGE]


def max_bytes() -> int:
    return int(settings.DOCUMENT_MAX_BYTES)


def _crypto_context(document_id: uuid.UUID) -> str:
    # The file is bound to its row: a file copied under another document's key does not decrypt.
    return f"clinical.document:{document_id}"


def _new_storage_key(organization_id: uuid.UUID) -> str:
    # SECURITY: random; never derived from the patient, the title or the file name.
    token = secrets.token_hex(32)
    return f"{organization_id}/{token[:2]}/{token}"


def _basis(access: policies.Access | None) -> dict[str, Any]:
    return {"break_glass": True} if access is not None and access.break_glass else {}


def _text(field: str, value: str, *, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed.field(field, "required", code="required")
    if len(value) > limit:
        raise ValidationFailed.field(field, f"at most {limit} characters", code="too_long")
    return value


def _read_content(data: bytes | IO[bytes]) -> bytes:
    """The content, read at most one byte past the limit (enough to refuse it)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return data.read(max_bytes() + 1)


# --------------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------------


def _authorize_store(ctx: Ctx, action: str, patient_id: uuid.UUID) -> tuple[str, policies.Access | None]:
    """(source, access): a clinician who may write the record with a care relationship, or the
    patient themselves acting as a patient of this organization (patient-reported content)."""
    from phb.patients.models import Patient, PatientRegistration, RegistrationStatus

    if ctx.organization_id is not None and ctx.actor_id is not None and not ctx.permissions:
        is_self = Patient.objects.filter(id=patient_id, user_id=ctx.actor_id).exists()
        registered = (
            PatientRegistration.objects.for_tenant(ctx)
            .filter(patient_id=patient_id, status__in=[RegistrationStatus.PENDING, RegistrationStatus.APPROVED])
            .exists()
        )
        if is_self and registered:
            return DocumentSource.PATIENT, None
        raise audit.denied(ctx, action, NotFound("no such patient"), resource_id=str(patient_id))
    return DocumentSource.STAFF, require_access(ctx, action, patient_id, write=True)


def document_store(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    data: bytes | IO[bytes],
    declared_type: str,
    filename: str,
    category: str,
    title: str,
    description: str = "",
    encounter_id: uuid.UUID | None = None,
) -> ClinicalDocument:
    """Keep a file on a patient's record and return its row.

    `declared_type` is the content type the client declared and `filename` the name it gave; both must
    agree with the type detected from the content (PDF, PNG, JPEG, TIFF). Allowed to a clinician with
    write access and a care relationship, and to the patient acting as a patient of `ctx`'s
    organization (recorded as patient-reported). Refusals: 400 with a code of
    `document_checks.REFUSALS` (field "file" or "filename"), `required`/`too_long`/`invalid_choice`/
    `unknown_encounter` on the other fields; nothing is stored then."""
    action = "clinical.document.upload"
    source, access = _authorize_store(ctx, action, patient_id)
    if category not in DocumentCategory.values:
        raise ValidationFailed.field("category", f"one of {', '.join(DocumentCategory.values)}", code="invalid_choice")
    title = _text("title", title, limit=TITLE_MAX_CHARS, required=True)
    description = _text("description", description, limit=DESCRIPTION_MAX_CHARS)
    safe_name = document_checks.safe_filename(filename)
    if not safe_name:
        raise document_checks.refuse("invalid_filename", field="filename")
    encounter = None
    if encounter_id is not None:
        encounter = Encounter.objects.for_tenant(ctx).filter(id=encounter_id, patient_id=patient_id).first()
        if encounter is None:
            raise ValidationFailed.field(
                "encounter_id", "not an encounter of this patient here", code="unknown_encounter"
            )
    content = _read_content(data)
    file_type = document_checks.check(content, declared_type=declared_type, filename=safe_name, max_bytes=max_bytes())

    # Valid: encrypt and write the file, then the row.
    document_id = uuid7()  # known before the row: the file is bound to it
    data_key = crypto.new_data_key()
    store = storage()
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as sealed:
        view = memoryview(content)
        pieces = (view[i : i + crypto.STREAM_CHUNK] for i in range(0, len(content), crypto.STREAM_CHUNK))
        for piece in crypto.encrypt_stream(pieces, key=data_key, context=_crypto_context(document_id)):
            sealed.write(piece)
        sealed.seek(0)
        try:
            storage_key = store.save(_new_storage_key(ctx.organization_id), File(sealed))  # type: ignore[arg-type]
        except OSError as exc:
            log.warning("clinical.document.storage_write_failed", error=type(exc).__name__)
            raise DocumentUnavailable("the document could not be stored: try again") from exc
    try:
        with audit.atomic():
            document = ClinicalDocument.objects.create(
                id=document_id,
                organization_id=ctx.organization_id,
                patient_id=patient_id,
                encounter=encounter,
                category=category,
                title=title,
                description=description,
                filename=safe_name,
                content_type=file_type.content_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                storage_key=storage_key,
                content_key=base64.b64encode(data_key).decode("ascii"),
                source=source,
                uploaded_by_id=ctx.actor_id,
            )
            audit.record(
                ctx,
                action,
                target=document,
                patient_id=patient_id,
                category=category,
                content_type=file_type.content_type,
                size=len(content),
                source=source,
                **_basis(access),
            )
    except BaseException:
        _delete_quietly(store, storage_key)  # SECURITY: no file outlives a row that was never written
        raise
    return document


def _delete_quietly(store: Storage, key: str) -> None:
    try:
        store.delete(key)
    except Exception as exc:  # the daily sweep deletes it later; the original error is what matters
        log.warning("clinical.document.storage_delete_failed", error=type(exc).__name__)


def document_mark_entered_in_error(
    *, ctx: Ctx, document_id: uuid.UUID, reason: str, patient_id: uuid.UUID | None = None
) -> ClinicalDocument:
    """Mark a current document entered in error (the wrong patient, the wrong file), saying why. It
    stays on the record, out of the default list, and readable for review; 409 `DOCUMENT_ENTERED_IN_ERROR`
    when it already is. Any clinician with write access and a care relationship may. `patient_id`,
    when given, must be the document's patient (a page of that patient asks)."""
    action = "clinical.document.entered_in_error"
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    reason = _text("reason", reason, limit=REASON_MAX_CHARS, required=True)
    with audit.atomic():
        document = ClinicalDocument.objects.for_tenant(ctx).select_for_update().filter(id=document_id).first()
        if document is None or (patient_id is not None and document.patient_id != patient_id):
            raise audit.denied(ctx, action, NotFound("no such document"), resource_id=str(document_id))
        access = require_access(ctx, action, document.patient_id, write=True)
        if document.status == DocumentStatus.ENTERED_IN_ERROR:
            raise Conflict("this document is already marked entered in error", code="DOCUMENT_ENTERED_IN_ERROR")
        document.status = DocumentStatus.ENTERED_IN_ERROR
        document.entered_in_error_at = timezone.now()
        document.entered_in_error_by_id = ctx.actor_id
        document.entered_in_error_reason = reason
        document.save(
            update_fields=[
                "status",
                "entered_in_error_at",
                "entered_in_error_by",
                "entered_in_error_reason",
                "updated_at",
            ]
        )
        audit.record(ctx, action, target=document, patient_id=document.patient_id, **_basis(access))
    return document


# --------------------------------------------------------------------------------------------------
# Reads (audited)
# --------------------------------------------------------------------------------------------------


def _metadata(ctx: Ctx) -> Any:
    """Documents without their data key, with the id of the ring key that protects it (`wrapped_key`)."""
    return (
        ClinicalDocument.objects.for_tenant(ctx)
        .defer("content_key")
        .annotate(wrapped_key=Cast("content_key", output_field=TextField()))
    )


def key_id(document: ClinicalDocument) -> str | None:
    """The key-ring key that protects the document's data key (as loaded by the selectors here)."""
    return crypto.key_id_of(getattr(document, "wrapped_key", "") or "")


@audit.reads_health_data
def document_list(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    encounter_id: uuid.UUID | None = None,
    include_entered_in_error: bool = False,
) -> list[ClinicalDocument]:
    """A patient's documents here, newest first (at most MAX_LIST): current ones, or all."""
    action = "clinical.document.list"
    access = require_access(ctx, action, patient_id)
    documents = _metadata(ctx).filter(patient_id=patient_id)
    if encounter_id is not None:
        documents = documents.filter(encounter_id=encounter_id)
    if not include_entered_in_error:
        documents = documents.filter(status=DocumentStatus.CURRENT)
    found = list(documents.order_by("-created_at", "-id")[:MAX_LIST])
    audit.record(ctx, action, patient_id=patient_id, read=True, results=len(found), **_basis(access))
    return found


def _document_for_reading(ctx: Ctx, action: str, document_id: uuid.UUID) -> tuple[ClinicalDocument, policies.Access]:
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    document = _metadata(ctx).filter(id=document_id).first()
    if document is None:
        raise audit.denied(ctx, action, NotFound("no such document"), resource_id=str(document_id))
    return document, require_access(ctx, action, document.patient_id)


@audit.reads_health_data
def document_get(*, ctx: Ctx, document_id: uuid.UUID) -> ClinicalDocument:
    """One document's metadata (not its content)."""
    action = "clinical.document.read"
    document, access = _document_for_reading(ctx, action, document_id)
    audit.record(ctx, action, target=document, patient_id=document.patient_id, read=True, **_basis(access))
    return document


@dataclass(frozen=True)
class DocumentContent:
    """A document opened for download: its metadata and its plaintext, chunk by chunk (iterate once;
    `close()` releases the storage if the iteration stops early)."""

    document: ClinicalDocument
    chunks: Iterator[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def _plaintext(document: ClinicalDocument, handle: Any, first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    except (crypto.DecryptionError, OSError) as exc:
        # The response has started: stop it short (its Content-Length tells the client it is incomplete).
        log.warning("clinical.document.stream_failed", document_id=str(document.id), error=type(exc).__name__)
    finally:
        handle.close()


@audit.reads_health_data
def document_open(*, ctx: Ctx, document_id: uuid.UUID) -> DocumentContent:
    """A document's content for download, decrypted on the fly; every download is audited. The first
    segment is decrypted before this returns, so a missing or undecryptable file is a clean
    503 `DOCUMENT_UNAVAILABLE` (logged with ids only), not a broken response."""
    action = "clinical.document.download"
    document, access = _document_for_reading(ctx, action, document_id)
    data_key = base64.b64decode(
        ClinicalDocument.objects.for_tenant(ctx).filter(id=document.id).values_list("content_key", flat=True).get()
    )
    handle = None
    try:
        handle = storage().open(document.storage_key, "rb")
        chunks = crypto.decrypt_stream(handle, key=data_key, context=_crypto_context(document.id))
        first = next(chunks)
    except (OSError, crypto.DecryptionError, crypto.KeyRingError) as exc:
        if handle is not None:
            handle.close()
        log.warning("clinical.document.open_failed", document_id=str(document.id), error=type(exc).__name__)
        audit.record(ctx, action, target=document, patient_id=document.patient_id, outcome="error", read=True)
        raise DocumentUnavailable() from exc
    audit.record(
        ctx,
        action,
        target=document,
        patient_id=document.patient_id,
        read=True,
        size=document.size,
        **_basis(access),
    )
    return DocumentContent(document=document, chunks=_plaintext(document, handle, first, chunks))


# --------------------------------------------------------------------------------------------------
# Housekeeping
# --------------------------------------------------------------------------------------------------


def documents_sweep_orphans(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Delete files of the documents storage that no document names and that are older than
    ORPHAN_GRACE (left by a caller's transaction that rolled back after the file was written; they
    cannot be decrypted, their data key never committed). Returns how many were deleted."""
    now = now or timezone.now()
    ctx = Ctx.system(reason="delete document files that no document names")
    store = storage()
    deleted = 0
    try:
        organization_dirs, _ = store.listdir("")
    except (FileNotFoundError, NotImplementedError):
        return 0
    known_organizations = {str(i) for i in Organization.objects.for_system(ctx).values_list("id", flat=True)}
    for organization_dir in organization_dirs:
        if organization_dir not in known_organizations:
            continue  # not a layout this module wrote: leave it alone
        organization_ctx = ctx.for_organization(uuid.UUID(organization_dir))
        shards, _ = store.listdir(organization_dir)
        for shard in shards:
            _, files = store.listdir(f"{organization_dir}/{shard}")
            names = [f"{organization_dir}/{shard}/{name}" for name in files]
            for start in range(0, len(names), batch):
                candidates = names[start : start + batch]
                named = set(
                    ClinicalDocument.objects.for_tenant(organization_ctx)
                    .filter(storage_key__in=candidates)
                    .values_list("storage_key", flat=True)
                )
                for name in candidates:
                    if name in named or now - store.get_modified_time(name) < ORPHAN_GRACE:
                        continue
                    _delete_quietly(store, name)
                    deleted += 1
    if deleted:
        audit.record(ctx, "clinical.document.sweep_orphans", deleted=deleted)
        log.info("clinical.document.orphans_deleted", deleted=deleted)
    return deleted
