"""Bulk Data `$export` (HL7 FHIR Bulk Data Access IG v2): the kick-off, the status URL (progress, the
completion manifest, cancel) and the NDJSON files, built in the background (`interop.bulk_export_build`).

The files hold exactly what reads emit (each type's `ResourceDef.render` with its page context) for the
rows the requester may see (each type's `rows(ctx)`), read through one server-side cursor per type in
batches of `CHUNK` rows, so that memory stays flat,
one file per type split every `FHIR_BULK_FILE_RESOURCES` resources. They are encrypted in the storage
(a data key per export, each file bound to its export and place), served only to the requester who
asked, and wiped when they expire (`FHIR_BULK_VALID_HOURS`, 24 by default) by the hourly
`interop.bulk_exports_maintain`, which also fails builds whose worker died and queues again builds
whose message was lost.

Who may export: a system client, for the types its scopes cover; a user holding `interop.bulk.export`
(hospital administrators, privacy officers), for the types their roles let them read, with the same
visibility as their searches. One export at a time per requester (429 otherwise).

Auditing: the kick-off, the cancel and every file written and downloaded, one event each with the type
and the number of resources (an export may hold thousands of patients: one event per patient would
drown the trail; the search of a page names each patient, a file names its type and counts).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import itertools
import json
import secrets
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any

import structlog
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet, signals
from django.db.models.base import ModelState
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from rest_framework.request import Request

from phb.accounts.public import api_client_active, member_organization_ids, scope_permissions, scope_types
from phb.clinical import public as clinical
from phb.interop.fhir.common import instant
from phb.interop.fhir.everything import compartment_types, parse_instant, parse_types, since_filter
from phb.interop.fhir.outcome import FhirError, issue, operation_outcome
from phb.interop.fhir.registry import PATIENT, REGISTRY, ResourceDef
from phb.interop.fhir.views import FhirView, _json, _page_context
from phb.interop.models import BULK_IN_PROGRESS, BulkExport, BulkExportKind, BulkExportStatus
from phb.kernel import audit, crypto, tenancy
from phb.kernel.context import Ctx

log = structlog.get_logger("phb.fhir.bulk")

PERMISSION = "interop.bulk.export"  # a user may export only with it
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
NDJSON = "application/fhir+ndjson"
CHUNK = 2_000  # rows read and rendered at a time (a few MB of rows and resources: memory stays flat)
RETRY_AFTER = 5  # seconds a client waits between status requests
BUSY_RETRY_AFTER = 60
REQUEUE_AFTER = dt.timedelta(minutes=10)
RUNNING_AT_MOST = dt.timedelta(hours=1)
GROUP = "Group"


class ErrorCode:
    BUILD_FAILED = "EXPORT_BUILD_FAILED"
    TIMED_OUT = "EXPORT_TIMED_OUT"
    REQUESTER_GONE = "EXPORT_REQUESTER_GONE"


def file_resources() -> int:
    return int(getattr(settings, "FHIR_BULK_FILE_RESOURCES", 10_000))


def valid_for() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "FHIR_BULK_VALID_HOURS", 24)))


def storage() -> Storage:
    return storages["default"]


def _system(organization_id: uuid.UUID | None = None) -> Ctx:
    return Ctx.system(reason="run and keep Bulk Data exports", organization_id=organization_id)


def _jobs() -> QuerySet[BulkExport]:
    return BulkExport.objects.for_system(_system())


# --------------------------------------------------------------------------------------------------
# The files
# --------------------------------------------------------------------------------------------------


def _crypto_context(export_id: uuid.UUID, index: int) -> str:
    return f"interop.bulk:{export_id}:{index}"


class _FileWriter:
    """One NDJSON file: lines go to a temporary file, then are encrypted into the storage."""

    def __init__(self, export: BulkExport, resource_type: str, index: int, key: bytes, *, error: bool = False):
        self.export, self.type, self.index, self.key, self.error = export, resource_type, index, key, error
        self.count = 0
        self.plain: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in save)

    def write(self, resource: dict[str, Any]) -> None:
        self.plain.write(_encode(resource).encode() + b"\n")
        self.count += 1

    def write_lines(self, lines: list[str]) -> None:
        """Resources already encoded, one per line."""
        if lines:
            self.plain.write(("\n".join(lines) + "\n").encode())
            self.count += len(lines)

    def save(self) -> dict[str, Any]:
        size = self.plain.tell()
        self.plain.seek(0)
        chunks = iter(lambda: self.plain.read(crypto.STREAM_CHUNK), b"")
        try:
            with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as sealed:
                context = _crypto_context(self.export.id, self.index)
                for piece in crypto.encrypt_stream(chunks, key=self.key, context=context):
                    sealed.write(piece)
                sealed.seek(0)
                # SECURITY: a random name; never the patient or the type.
                name = f"fhir-bulk/{self.export.organization_id}/{self.export.id}/{secrets.token_hex(16)}.ndjson"
                stored = storage().save(name, File(sealed))  # type: ignore[arg-type]
        finally:
            self.plain.close()
        return {"type": self.type, "key": stored, "count": self.count, "bytes": size, "error": self.error}


# One encoder for every line (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@functools.cache
def _compiled_loader(compiled: type) -> type:
    """A loader that hands each value to psycopg's compiled one (which cannot be subclassed), and shows the
    `timezone` Django's cursors compare with the connection's before each query."""
    from psycopg.adapt import Loader

    class UtcTimestamptzLoader(Loader):
        timezone = dt.UTC

        def __init__(self, oid: int, context: Any = None):
            super().__init__(oid, context)
            # The compiled loader's own method, called directly for each value.
            self.load = compiled(oid, context).load  # type: ignore[method-assign]

        def load(self, data: Any) -> dt.datetime:  # replaced per instance in __init__
            raise NotImplementedError

    return UtcTimestamptzLoader


@contextlib.contextmanager
def _fast_timestamps() -> Iterator[None]:
    """Timestamps read by psycopg's own (compiled) loader while the export reads a type.

    Django loads every `timestamptz` through a loader written in Python, to attach its UTC; an export reads
    two or three per row (created, updated, when it happened), which cost more than the rest of the row.
    The session's time zone is UTC (Django sets it, USE_TZ), so psycopg's loader gives the same instants,
    aware in UTC. Django's loader is put back afterwards: the connection serves other queries."""
    from psycopg import adapters as psycopg_adapters
    from psycopg.pq import Format

    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC" or raw is None:
        yield
        return
    oid = psycopg_adapters.types["timestamptz"].oid
    django_loader = raw.adapters.get_loader(oid, Format.TEXT)
    raw.adapters.register_loader(oid, _compiled_loader(psycopg_adapters.get_loader(oid, Format.TEXT)))  # type: ignore[arg-type]
    try:
        yield
    finally:
        raw.adapters.register_loader(oid, django_loader)  # type: ignore[arg-type]


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _batches(rows: QuerySet[Any], size: int) -> Iterator[list[Any]]:
    """The rows of `rows` as model instances, `size` at a time, read through one server-side cursor (the
    caller holds the transaction): one plan and one pass over the table, whatever its size, and at most
    `size` rows in memory.

    Instances are built as `Model.from_db` builds them, but without Django's per-field `__init__` (a
    descriptor call for every foreign key of every row: a fifth of an export's time): the values come
    through `values_list`, so every field's conversion from the database (decryption included) is
    Django's. Querysets that load related rows (`select_related`), defer fields, or whose model has
    post_init receivers are read the ordinary way."""
    model = rows.model
    query = rows.query
    if query.select_related or query.deferred_loading[0] or signals.post_init.has_listeners(model):
        yield from _chunked(rows.iterator(chunk_size=size), size)
        return
    names = [f.attname for f in model._meta.concrete_fields]
    columns = names + list(query.annotations)
    db = rows.db
    new = model.__new__
    for chunk in _chunked(rows.values_list(*columns).iterator(chunk_size=size), size):
        out = []
        for values in chunk:
            instance = new(model)
            state = ModelState()
            state.adding, state.db = False, db
            fields = instance.__dict__
            fields.update(zip(columns, values, strict=True))
            fields["_state"] = state
            out.append(instance)
        yield out


def delete_files(files: list[dict[str, Any]]) -> None:
    for item in files:
        try:
            storage().delete(item["key"])
        except OSError:
            log.warning("fhir.bulk.delete_failed", exc_info=True)


def open_file(export: BulkExport, index: int) -> Iterator[bytes]:
    """The plaintext of a file of `export`, piece by piece."""
    key = base64.b64decode(export.content_key)
    with storage().open(export.files[index]["key"], "rb") as source:
        yield from crypto.decrypt_stream(source, key=key, context=_crypto_context(export.id, index))


# --------------------------------------------------------------------------------------------------
# The build (in the worker)
# --------------------------------------------------------------------------------------------------


class _Cancelled(Exception):
    pass


def requester_ctx(export: BulkExport) -> Ctx | None:
    """The context the requester acts in, rebuilt from what the kick-off recorded; None when the client
    was revoked or the user left the organization meanwhile."""
    params = export.params
    if export.requester_kind == "client":
        if not api_client_active(client_id=export.requester_id, organization_id=export.organization_id):
            return None
        scopes = frozenset(params["scopes"])
        return Ctx.client(
            client_id=export.requester_id,
            organization_id=export.organization_id,
            scopes=scopes,
            permissions=scope_permissions(scopes),
        )
    if export.organization_id not in member_organization_ids(ctx=_system(), user_id=export.requester_id):
        return None
    return Ctx(
        actor_id=export.requester_id,
        organization_id=export.organization_id,
        roles=frozenset(params.get("roles", [])),
        permissions=frozenset(params.get("permissions", [])),
    )


def group_patients(ctx: Ctx, group_id: uuid.UUID) -> QuerySet[Any]:
    """The ids of a Group's members (the patients with an encounter in the department) `ctx` may see."""
    return clinical.encounters_visible(ctx).filter(department_id=group_id).values("patient_id")


def _claim(export_id: uuid.UUID) -> BulkExport | None:
    with transaction.atomic():
        export = _jobs().select_for_update().filter(id=export_id).first()
        if export is None or export.status != BulkExportStatus.QUEUED:
            return None  # taken by another delivery of the task, cancelled, or gone
        now = timezone.now()
        export.status, export.started_at, export.transaction_time, export.progress = "running", now, now, 1
        export.content_key = base64.b64encode(crypto.new_data_key()).decode("ascii")
        export.save(update_fields=["status", "started_at", "transaction_time", "progress", "content_key", "updated_at"])
    return export


def _still_running(export_id: uuid.UUID) -> None:
    if not _jobs().filter(id=export_id, status=BulkExportStatus.RUNNING).exists():
        raise _Cancelled


def export_build(*, export_id: uuid.UUID) -> str:
    """Build a queued export: every type's NDJSON files; completed with its manifest, or failed with a
    code and no file. Returns the final status ("skipped" when the export was not queued)."""
    export = _claim(export_id)
    if export is None:
        return "skipped"
    files: list[dict[str, Any]] = []
    try:
        ctx = requester_ctx(export)
        if ctx is None:
            _fail(export, ErrorCode.REQUESTER_GONE)
            return BulkExportStatus.FAILED
        key = base64.b64decode(export.content_key)
        types = export.params["types"]
        since = parse_instant(export.params["since"]) if export.params.get("since") else None
        members = group_patients(ctx, export.group_id) if export.kind == BulkExportKind.GROUP else None
        for done, resource_type in enumerate(types):
            _write_type(export, REGISTRY[resource_type], ctx, since, members, key, files)
            # Committed at once (no transaction is held across the build), so that the status shows it.
            _jobs().filter(id=export.id, status=BulkExportStatus.RUNNING).update(
                progress=max(1, min(99, 100 * (done + 1) // len(types))), updated_at=timezone.now()
            )
        if export.params.get("warnings"):
            writer = _FileWriter(export, "OperationOutcome", len(files), key, error=True)
            writer.write(operation_outcome(export.params["warnings"]))
            files.append(writer.save())
    except _Cancelled:
        delete_files(files)
        return BulkExportStatus.CANCELLED
    except Exception:
        # SECURITY: the exception's type and frames are logged, never its message (it may quote data).
        log.warning("fhir.bulk.build_failed", export_id=str(export.id), exc_info=True)
        delete_files(files)
        _fail(export, ErrorCode.BUILD_FAILED)
        return BulkExportStatus.FAILED
    finished = timezone.now()
    with audit.atomic():
        updated = (
            _jobs()
            .filter(id=export.id, status=BulkExportStatus.RUNNING)
            .update(
                status=BulkExportStatus.COMPLETED,
                progress=100,
                files=files,
                finished_at=finished,
                expires_at=finished + valid_for(),
                updated_at=finished,
            )
        )
        if updated:
            for index, item in enumerate(files):
                if not item["error"]:
                    audit.record(
                        ctx,
                        "interop.fhir.export.file",
                        resource_type=f"fhir.{item['type']}",
                        resource_id=f"{export.id}/{index}",
                        read=True,
                        export_id=str(export.id),
                        count=item["count"],
                    )
    if not updated:  # cancelled (or timed out) meanwhile: keep nothing
        delete_files(files)
        return BulkExportStatus.CANCELLED
    return BulkExportStatus.COMPLETED


def _write_type(
    export: BulkExport,
    resource: ResourceDef,
    ctx: Ctx,
    since: dt.datetime | None,
    members: QuerySet[Any] | None,
    key: bytes,
    files: list[dict[str, Any]],
) -> None:
    rows = since_filter(resource.rows(ctx), since)
    if members is not None:
        rows = rows.filter(**{f"{resource.patient_field}__in": members})
    per_file = file_resources()
    writer: _FileWriter | None = None
    render = resource.render
    # SECURITY: Patient is global; its visibility is a subquery of this organization's registrations,
    # which row-level security shows only to a session bound to the organization.
    # One query per type, read through a server-side cursor in one read-only transaction (a consistent
    # snapshot of the type). Batches of `WHERE id > last ORDER BY id LIMIT n` were tried first: the
    # planner answers each from the patients' index and sorts what remains, so every batch read the whole
    # rest of the table (an export quadratic in its size).
    cancelled = False
    with (
        tenancy.bound(organization_id=export.organization_id),
        _fast_timestamps(),
        contextlib.closing(_batches(rows.order_by(), CHUNK)) as batches,
    ):
        for batch in batches:
            context = _page_context(resource, ctx, batch)
            start = 0
            while start < len(batch):
                if writer is None:
                    writer = _FileWriter(export, resource.type, len(files), key)
                # As many rows as the file still takes, rendered and encoded in one go.
                part = batch[start : start + per_file - writer.count]
                writer.write_lines([_encode(render(row, context)) for row in part])
                start += len(part)
                if writer.count >= per_file:
                    files.append(writer.save())
                    writer = None
            try:
                _still_running(export.id)
            except _Cancelled:
                cancelled = True  # raised once the transaction is left as it should be (committed)
                break
            # SECURITY: the check above binds the session to every tenant (the jobs' table), and a binding
            # lasts until the transaction ends: bind it back to the organization before the cursor reads on.
            with tenancy.bound(organization_id=export.organization_id):
                pass
    if cancelled:
        if writer is not None:
            writer.plain.close()  # never stored
        raise _Cancelled
    if writer is not None:
        files.append(writer.save())


def _fail(export: BulkExport, code: str) -> None:
    with transaction.atomic():
        done = (
            _jobs()
            .filter(id=export.id, status__in=BULK_IN_PROGRESS)
            .update(status=BulkExportStatus.FAILED, error=code, finished_at=timezone.now(), updated_at=timezone.now())
        )
        if done:
            audit.record(
                _system(export.organization_id),
                "interop.fhir.export.build",
                target=export,
                outcome="failure",
                code=code,
            )


def enqueue_build(export_id: uuid.UUID) -> None:
    from phb.interop.tasks import bulk_export_build

    try:
        bulk_export_build.delay(str(export_id))
    except Exception:  # the broker being down loses nothing: the hourly sweep queues it again
        log.warning("fhir.bulk.enqueue_failed", export_id=str(export_id), exc_info=True)


def exports_maintain(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Hourly: expire completed exports past their time and delete their files; fail builds whose worker
    died; queue again builds whose message was lost."""
    now = now or timezone.now()
    counts = {"expired": 0, "timed_out": 0, "requeued": 0}
    for export in _jobs().filter(status=BulkExportStatus.COMPLETED, expires_at__lte=now):
        with transaction.atomic():
            done = (
                _jobs()
                .filter(id=export.id, status=BulkExportStatus.COMPLETED)
                .update(status=BulkExportStatus.EXPIRED, files=[], content_key="", updated_at=now)
            )
            if done:
                audit.record(_system(export.organization_id), "interop.fhir.export.expire", target=export)
        if done:
            delete_files(export.files)
            counts["expired"] += 1
    for export in _jobs().filter(status=BulkExportStatus.RUNNING, started_at__lte=now - RUNNING_AT_MOST):
        _fail(export, ErrorCode.TIMED_OUT)
        counts["timed_out"] += 1
    for export_id in (
        _jobs().filter(status=BulkExportStatus.QUEUED, created_at__lte=now - REQUEUE_AFTER).values_list("id", flat=True)
    ):
        enqueue_build(export_id)
        counts["requeued"] += 1
    return counts


# --------------------------------------------------------------------------------------------------
# The endpoints
# --------------------------------------------------------------------------------------------------


class BulkView(FhirView):
    def requester(self) -> Ctx:
        ctx = self.ctx
        if not ctx.is_authenticated:
            raise FhirError(401, "UNAUTHORIZED", "Authentication required (a Bearer token)")
        return ctx

    def status_url(self, export: BulkExport) -> str:
        return f"{self.base_url()}$export-status/{export.id}"

    def own_export(self, ctx: Ctx, export_id: str, action: str) -> BulkExport:
        """The requester's own export; anyone else's (another client, another organization) is not found."""
        try:
            parsed = uuid.UUID(export_id)
        except ValueError:
            parsed = None
        export = (
            BulkExport.objects.for_tenant(ctx).filter(id=parsed, requester_id=ctx.actor_id).first()
            if parsed and ctx.organization_id is not None
            else None
        )
        if export is None:
            raise audit.denied(
                ctx,
                action,
                FhirError(404, "NOT_FOUND", "no such export"),
                resource_type="interop.BulkExport",
                resource_id=export_id[:64],
            )
        return export


class ExportKickoffView(BulkView):
    kind = BulkExportKind.SYSTEM

    def get(self, request: Request, resource_id: str | None = None) -> HttpResponse:
        ctx = self.requester()
        prefer = request.META.get("HTTP_PREFER", "").replace(" ", "")
        if "respond-async" not in prefer.split(","):
            raise FhirError(400, "VALIDATION_ERROR", "$export needs the header Prefer: respond-async")
        strict = "handling=strict" in prefer.split(",")
        allowed = list(REGISTRY) if self.kind == BulkExportKind.SYSTEM else compartment_types()
        since: str | None = None
        type_values: list[str] = []
        output_format = NDJSON
        warnings: list[dict[str, Any]] = []
        for name in request.query_params:
            for value in request.query_params.getlist(name):
                if name == "_outputFormat":
                    if value not in OUTPUT_FORMATS:
                        raise FhirError(
                            400,
                            "VALIDATION_ERROR",
                            f"_outputFormat: one of {', '.join(OUTPUT_FORMATS)}",
                            expression="_outputFormat",
                        )
                    output_format = NDJSON
                elif name == "_since":
                    since = instant(parse_instant(value))
                elif name == "_type":
                    type_values.append(value)
                elif name == "_format":
                    continue
                else:
                    diagnostics = f"the parameter {name[:60]!r} is not supported by $export"
                    if strict:
                        raise FhirError(400, "UNKNOWN_PARAMETER", diagnostics, expression=name[:60])
                    warnings.append(issue("UNKNOWN_PARAMETER", diagnostics + " (ignored)", severity="warning"))
        types = self._readable(ctx, parse_types(type_values, allowed), explicit=bool(type_values))
        group_id = self._group(ctx, resource_id) if self.kind == BulkExportKind.GROUP else None

        params: dict[str, Any] = {
            "types": types,
            "since": since,
            "output_format": output_format,
            "request": request.build_absolute_uri(),
            "warnings": warnings,
        }
        if ctx.is_client:
            params["scopes"] = sorted(ctx.scopes)
        else:
            params["roles"], params["permissions"] = sorted(ctx.roles), sorted(ctx.permissions)
        try:
            with audit.atomic():
                mine = BulkExport.objects.for_tenant(ctx).filter(requester_id=ctx.actor_id)
                if mine.filter(status__in=BULK_IN_PROGRESS).exists():
                    raise IntegrityError
                export = BulkExport.objects.create(
                    organization_id=ctx.organization_id,
                    requester_kind="client" if ctx.is_client else "user",
                    requester_id=ctx.actor_id,
                    kind=self.kind,
                    group_id=group_id,
                    params=params,
                )
                audit.record(ctx, "interop.fhir.export.kickoff", target=export, kind=self.kind, types=types)
                transaction.on_commit(lambda: enqueue_build(export.id))
        except IntegrityError:
            response = _json(
                operation_outcome(
                    [issue("EXPORT_IN_PROGRESS", "an export of yours is already running: wait for it or cancel it")]
                ),
                429,
            )
            response["Retry-After"] = str(BUSY_RETRY_AFTER)
            return response
        response = _json(operation_outcome([issue("EXPORT_ACCEPTED", "export accepted", severity="information")]), 202)
        response["Content-Location"] = self.status_url(export)
        return response

    def _readable(self, ctx: Ctx, types: list[str], *, explicit: bool) -> list[str]:
        """Of `types`, those the requester may read: all of them when named explicitly (else 403)."""
        if not ctx.is_client and not ctx.has_perm(PERMISSION):
            raise FhirError(403, "FORBIDDEN", "Bulk Data export needs a role that grants it (an administrator)")
        readable = []
        for resource_type in types:
            try:
                self.authorize(REGISTRY[resource_type])
            except FhirError:
                if explicit:
                    raise
                continue
            readable.append(resource_type)
        if self.kind != BulkExportKind.SYSTEM and PATIENT not in scope_types(ctx.scopes) and ctx.is_client:
            raise FhirError(403, "INSUFFICIENT_SCOPE", "a patient-level export needs system/Patient.read")
        if not readable:
            raise FhirError(403, "FORBIDDEN", "none of the requested types may be read by this requester")
        return readable

    def _group(self, ctx: Ctx, resource_id: str | None) -> uuid.UUID:
        group = REGISTRY.get(GROUP)
        if group is None:
            raise FhirError(404, "NOT_FOUND", "PHB serves no Group")
        self.authorize(group)
        try:
            parsed = uuid.UUID(resource_id or "")
        except ValueError:
            parsed = None
        with tenancy.bound(organization_id=ctx.organization_id):
            found = parsed is not None and group.rows(ctx).filter(id=parsed).exists()
        if not found:
            raise FhirError(404, "NOT_FOUND", f"Group/{(resource_id or '')[:64]} is not known")
        return parsed  # type: ignore[return-value]


class ExportStatusView(BulkView):
    def get(self, request: Request, export_id: str) -> HttpResponse:
        ctx = self.requester()
        export = self.own_export(ctx, export_id, "interop.fhir.export.status")
        if export.status in BULK_IN_PROGRESS:
            response = _json(
                operation_outcome([issue("EXPORT_IN_PROGRESS", f"{export.progress}% done", severity="information")]),
                202,
            )
            response["X-Progress"] = f"{export.progress}% done"
            response["Retry-After"] = str(RETRY_AFTER)
            return response
        if export.status == BulkExportStatus.FAILED:
            return _json(
                operation_outcome([issue(export.error or ErrorCode.BUILD_FAILED, "the export failed: ask again")]), 500
            )
        if export.status == BulkExportStatus.CANCELLED:
            raise FhirError(404, "NOT_FOUND", "no such export")
        if not export.downloadable:
            raise FhirError(410, "EXPORT_EXPIRED", "this export has expired: ask again")
        response = _json(self.manifest(export), content_type="application/json")
        response["Expires"] = export.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT") if export.expires_at else ""
        return response

    def manifest(self, export: BulkExport) -> dict[str, Any]:
        def item(index: int, file: dict[str, Any]) -> dict[str, Any]:
            out = {"type": file["type"], "url": f"{self.base_url()}$export-file/{export.id}/{index}"}
            if not file["error"]:
                out["count"] = file["count"]
            return out

        return {
            "transactionTime": instant(export.transaction_time),
            "request": export.params["request"],
            "requiresAccessToken": True,
            "output": [item(i, f) for i, f in enumerate(export.files) if not f["error"]],
            "error": [item(i, f) for i, f in enumerate(export.files) if f["error"]],
        }

    def delete(self, request: Request, export_id: str) -> HttpResponse:
        ctx = self.requester()
        export = self.own_export(ctx, export_id, "interop.fhir.export.cancel")
        live = [*BULK_IN_PROGRESS, BulkExportStatus.COMPLETED]
        with transaction.atomic():
            done = (
                BulkExport.objects.for_tenant(ctx)
                .filter(id=export.id, status__in=live)
                .update(status=BulkExportStatus.CANCELLED, files=[], content_key="", updated_at=timezone.now())
            )
            if done:
                audit.record(ctx, "interop.fhir.export.cancel", target=export)
        if not done:
            raise FhirError(404, "NOT_FOUND", "no such export (already cancelled or expired)")
        delete_files(export.files)  # a build still running deletes its own when it sees the cancel
        return _json(operation_outcome([issue("EXPORT_CANCELLED", "cancelled", severity="information")]), 202)


class ExportFileView(BulkView):
    def get(self, request: Request, export_id: str, index: str) -> HttpResponse:
        ctx = self.requester()
        action = "interop.fhir.export.download"
        export = self.own_export(ctx, export_id, action)
        position = int(index)
        if not export.downloadable or position >= len(export.files):
            raise audit.denied(ctx, action, FhirError(404, "NOT_FOUND", "no such file"), target=export, file=position)
        file = export.files[position]
        audit.record(
            ctx,
            action,
            target=export,
            read=True,
            file=position,
            file_type=file["type"],
            count=file["count"],
        )
        response = StreamingHttpResponse(open_file(export, position), content_type=NDJSON)
        response["Content-Length"] = str(file["bytes"])
        return response


__all__ = [
    "ExportFileView",
    "ExportKickoffView",
    "ExportStatusView",
    "export_build",
    "exports_maintain",
    "group_patients",
]
