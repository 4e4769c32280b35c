"""Right of access (GDPR art. 15, NDPR): a patient asks for a copy of everything PHB holds about them and
downloads it for a day, as a documented JSON document (docs/patient-export.md) and a readable PDF.

The document is made of sections, each produced by a provider registered with
`register_export_section(name, fn)`; this module registers the registry's own (demographics, contacts,
insurance, registrations, consents, access log) and later apps add theirs through `patients.public`.
The build runs in the background (`patients.export_build`), reports its progress, and either ends ready
with both files or failed with a stable error code and no content; the files are encrypted at rest and
wiped when they expire. Requests and downloads are audited.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx, PurposeOfUse
from phb.kernel.errors import Conflict, Gone, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent, Organization
from phb.patients import hpn
from phb.patients.models import (
    EXPORT_IN_PROGRESS,
    Consent,
    ExportStatus,
    Patient,
    PatientExport,
    PatientRegistration,
)

log = structlog.get_logger("phb.patients.exports")

SCHEMA_VERSION = "1.0"
DOCUMENT_FORMAT = "phb.patient-export"
VALID_FOR = dt.timedelta(hours=24)
# A queued export nobody picked up (the broker lost the message) is queued again after this; a running
# one whose worker died is failed after this, so that the patient can ask again.
REQUEUE_AFTER = dt.timedelta(minutes=10)
RUNNING_AT_MOST = dt.timedelta(hours=1)
# The PDF lists the most recent accesses; the JSON document has all of them.
PDF_ACCESS_ROWS = 500
FORMATS = {
    "json": ("application/json", "json"),
    "pdf": ("application/pdf", "pdf"),
}


class ExportErrorCode:
    """Stable codes of a failed export (`PatientExport.error_code`)."""

    SECTION_FAILED = "EXPORT_SECTION_FAILED"
    RENDER_FAILED = "EXPORT_RENDER_FAILED"
    TIMED_OUT = "EXPORT_TIMED_OUT"
    BUILD_FAILED = "EXPORT_BUILD_FAILED"


class ExportFailed(Exception):
    def __init__(self, code: str, section: str = "") -> None:
        super().__init__(code)
        self.code, self.section = code, section


# --------------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------------

SectionProvider = Callable[..., Any]


@dataclass(frozen=True)
class ExportSection:
    """One part of the export. `fn(*, ctx, patient_id)` returns JSON-ready data (dicts, lists, strings,
    numbers, booleans, None; dates and UUIDs are turned into strings). The PDF shows the section under
    `title` through `pdf_template` when given (it receives `section` and `data`), else as a generic table."""

    name: str
    fn: SectionProvider
    title: str
    order: int
    pdf_template: str | None = None


_sections: dict[str, ExportSection] = {}


def register_export_section(
    name: str, fn: SectionProvider, *, title: str | None = None, order: int = 100, pdf_template: str | None = None
) -> None:
    """Add a section to every export (apps call it from their AppConfig.ready). Re-registering a name
    replaces it, so that a reloaded module does not add a second copy."""
    if not name.replace("_", "").isalnum() or name != name.lower():
        raise ValueError(f"an export section name is lower-case letters, digits and underscores: {name!r}")
    _sections[name] = ExportSection(
        name=name,
        fn=fn,
        title=title or name.replace("_", " ").capitalize(),
        order=order,
        pdf_template=pdf_template,
    )


def export_sections() -> list[ExportSection]:
    return sorted(_sections.values(), key=lambda s: (s.order, s.name))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _organization_names(ctx: Ctx, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(Organization.objects.for_platform(ctx).filter(id__in=wanted).values_list("id", "name"))


# Patient columns that are PHB's own bookkeeping, not data about the person.
_NOT_DEMOGRAPHICS = {
    *("id", "user", "updated_at", "hpn", "nin", "passport", "ssn"),
    *("given_key", "family_key", "search_name", "merged_into"),  # the master patient index's own
    "photo",  # a section of its own
}


def _section_demographics(*, ctx: Ctx, patient_id: uuid.UUID) -> dict[str, Any]:
    patient = Patient.objects.get(id=patient_id)
    out: dict[str, Any] = {"patient_id": patient.id, "hpn": patient.hpn, "hpn_display": hpn.display(patient.hpn)}
    # Every column of the registry, so that a field added to Patient appears here without an edit.
    for field in Patient._meta.concrete_fields:
        if field.name in _NOT_DEMOGRAPHICS or field.name.endswith("_index"):
            continue
        out["registered_on_platform_at" if field.name == "created_at" else field.name] = getattr(patient, field.name)
    # SECURITY: decrypted here on purpose: the patient is entitled to their own identifiers.
    out["identifiers"] = {"nin": patient.nin, "passport": patient.passport, "ssn": patient.ssn}
    return out


def _section_emergency_contacts(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    return list(
        Patient.objects.get(id=patient_id)
        .emergency_contacts.order_by("created_at")
        .values("name", "relationship", "phone", "is_next_of_kin", "created_at")
    )


def _section_insurance_policies(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {
            "insurer": p.insurer,
            "scheme": p.scheme,
            "member_id": p.member_id,
            "valid_from": p.valid_from,
            "valid_to": p.valid_to,
        }
        for p in Patient.objects.get(id=patient_id).insurance_policies.order_by("created_at")
    ]


def _section_registrations(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = list(
        PatientRegistration.objects.for_system(ctx)
        .filter(patient_id=patient_id)
        .order_by("created_at")
        .values("organization_id", "mrn", "status", "is_primary", "created_at", "decided_at", "rejection_reason")
    )
    names = _organization_names(ctx, (r["organization_id"] for r in rows))
    return [
        {
            "organization_id": r["organization_id"],
            "organization_name": names.get(r["organization_id"], ""),
            "mrn": r["mrn"],
            "status": r["status"],
            "is_primary": r["is_primary"],
            "requested_at": r["created_at"],
            "decided_at": r["decided_at"],
            "rejection_reason": r["rejection_reason"],
        }
        for r in rows
    ]


def _section_consents(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    consents = list(Consent.objects.filter(patient_id=patient_id).order_by("granted_at", "id"))
    user_id = Patient.objects.filter(id=patient_id).values_list("user_id", flat=True).first()
    names = _organization_names(
        ctx, [c.from_organization_id for c in consents] + [c.to_organization_id for c in consents]
    )

    def who(actor: uuid.UUID | None) -> str:
        return "system" if actor is None else "patient" if actor == user_id else "staff"

    return [
        {
            "kind": c.kind,
            "version": c.version,
            "status": "withdrawn" if c.withdrawn_at else "in_force",
            "granted_at": c.granted_at,
            "granted_by": who(c.granted_by),
            "withdrawn_at": c.withdrawn_at,
            "withdrawn_by": who(c.withdrawn_by) if c.withdrawn_at else None,
            "from_organization": c.from_organization_id
            and {"id": c.from_organization_id, "name": names.get(c.from_organization_id, "")},
            "to_organization": c.to_organization_id
            and {"id": c.to_organization_id, "name": names.get(c.to_organization_id, "")},
            "categories": c.categories,
        }
        for c in consents
    ]


def _section_access_log(*, ctx: Ctx, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    # The same events, and the same columns, as the patient's access log (/api/v1/me/access-log/).
    user_id = Patient.objects.filter(id=patient_id).values_list("user_id", flat=True).first()
    events = AuditEvent.objects.for_patient(ctx, patient_id=patient_id)
    if user_id is not None:
        events = events.exclude(actor_id=user_id)
    rows = list(
        events.order_by("-occurred_at", "-id").values(
            "occurred_at", "action", "organization_id", "roles", "purpose_of_use", "outcome"
        )
    )
    names = _organization_names(ctx, (r["organization_id"] for r in rows))
    return [
        {
            "occurred_at": r["occurred_at"],
            "action": r["action"],
            "organization_id": r["organization_id"],
            "organization_name": names.get(r["organization_id"], "") if r["organization_id"] else "",
            "roles": r["roles"],
            "emergency": r["purpose_of_use"] == PurposeOfUse.EMERGENCY,
            "outcome": r["outcome"],
        }
        for r in rows
    ]


register_export_section("demographics", _section_demographics, title="About you", order=10)
register_export_section(
    "photo",
    lambda *, ctx, patient_id: (
        {"format": "image/jpeg", "base64": photo}
        if (photo := Patient.objects.filter(id=patient_id).values_list("photo", flat=True).first())
        else None
    ),
    title="Your photo",
    order=15,
    pdf_template="patients/export_photo.html",
)
register_export_section("emergency_contacts", _section_emergency_contacts, title="Emergency contacts", order=20)
register_export_section("insurance_policies", _section_insurance_policies, title="Insurance", order=30)
register_export_section("registrations", _section_registrations, title="Hospitals you are registered with", order=40)
register_export_section("consents", _section_consents, title="Your consents", order=50)
register_export_section("access_log", _section_access_log, title="Who accessed your record", order=90)


# --------------------------------------------------------------------------------------------------
# Request, build, download, expiry
# --------------------------------------------------------------------------------------------------


def _own_patient(ctx: Ctx, patient_id: uuid.UUID) -> Patient:
    patient = Patient.objects.filter(id=patient_id).first()
    # SECURITY: only the person themself; anyone else (staff included) is told there is no such patient.
    if patient is None or ctx.actor_id is None or patient.user_id != ctx.actor_id:
        raise NotFound("no such patient")
    return patient


def export_request(*, ctx: Ctx, patient_id: uuid.UUID) -> PatientExport:
    """The patient asks for a copy of their data; it is built in the background after commit."""
    patient = _own_patient(ctx, patient_id)
    try:
        with transaction.atomic():
            # Lock the patient so that two requests at once queue one export, not a unique-index error.
            Patient.objects.select_for_update().filter(id=patient.id).first()
            if PatientExport.objects.filter(patient=patient, status__in=EXPORT_IN_PROGRESS).exists():
                raise Conflict("an export is already being prepared", code="EXPORT_IN_PROGRESS")
            export = PatientExport.objects.create(patient=patient, requested_by=ctx.actor_id)
            audit.record(ctx, "patients.export.request", target=export, patient_id=patient.id)
            transaction.on_commit(lambda: enqueue_build(export.id))
    except IntegrityError as exc:
        raise Conflict("an export is already being prepared", code="EXPORT_IN_PROGRESS") from exc
    return export


def enqueue_build(export_id: uuid.UUID) -> None:
    from phb.patients.tasks import export_build

    try:
        export_build.delay(str(export_id))
    except Exception:  # the broker being down loses nothing: the hourly sweep queues it again
        log.warning("patients.export.enqueue_failed", export_id=str(export_id), exc_info=True)


def export_list(*, ctx: Ctx, patient_id: uuid.UUID) -> models.QuerySet[PatientExport]:
    """The patient's exports, newest first, without their (encrypted, large) content."""
    patient = _own_patient(ctx, patient_id)
    return PatientExport.objects.filter(patient=patient).defer("content_json", "content_pdf").order_by("-created_at")


def export_get(*, ctx: Ctx, export_id: uuid.UUID) -> PatientExport:
    """One of the actor's own exports (status and progress; no content)."""
    export = (
        PatientExport.objects.defer("content_json", "content_pdf")
        .filter(id=export_id, patient__user_id=ctx.actor_id)
        .first()
        if ctx.actor_id is not None
        else None
    )
    if export is None:
        raise NotFound("no such export")  # SECURITY: another person's export is not found
    return export


def _set_progress(export_id: uuid.UUID, percent: int) -> None:
    # Committed at once (outside the build's final transaction) so that the patient sees it move.
    PatientExport.objects.filter(id=export_id, status=ExportStatus.RUNNING).update(
        progress=max(0, min(percent, 99)), updated_at=timezone.now()
    )


def _claim(export_id: uuid.UUID) -> PatientExport | None:
    with transaction.atomic():
        export = PatientExport.objects.select_for_update().filter(id=export_id).first()
        if export is None or export.status != ExportStatus.QUEUED:
            return None  # already taken by another delivery of the task, or gone
        export.status, export.started_at, export.progress = ExportStatus.RUNNING, timezone.now(), 1
        export.save(update_fields=["status", "started_at", "progress", "updated_at"])
    return export


def export_build(*, export_id: uuid.UUID) -> str:
    """Build a queued export: every section, then the PDF; ready with both files, or failed with a code
    and no content. Returns the final status (or "skipped" when the export was not queued)."""
    export = _claim(export_id)
    if export is None:
        return "skipped"
    ctx = dataclasses.replace(
        Ctx.system(reason="export of a patient's data, asked for by the patient"),
        purpose_of_use=PurposeOfUse.PATIENT_REQUEST,
    )
    try:
        document = build_document(ctx=ctx, export=export)
        _set_progress(export.id, 80)
        pdf = render_pdf(document)
        _set_progress(export.id, 95)
        text = json.dumps(document, ensure_ascii=False, indent=2)
    except ExportFailed as exc:
        _fail(ctx, export, exc.code, section=exc.section)
        return ExportStatus.FAILED
    except Exception:
        log.warning("patients.export.build_failed", export_id=str(export.id), exc_info=True)
        _fail(ctx, export, ExportErrorCode.BUILD_FAILED)
        return ExportStatus.FAILED
    finished = timezone.now()
    with transaction.atomic():
        updated = PatientExport.objects.filter(id=export.id, status=ExportStatus.RUNNING).update(
            status=ExportStatus.READY,
            progress=100,
            finished_at=finished,
            expires_at=finished + VALID_FOR,
            schema_version=SCHEMA_VERSION,
            content_json=text,
            content_pdf=base64.b64encode(pdf).decode("ascii"),
            json_bytes=len(text.encode()),
            pdf_bytes=len(pdf),
            updated_at=finished,
        )
        if not updated:  # timed out and failed by the sweep meanwhile: keep it failed, store nothing
            return ExportStatus.FAILED
        audit.record(
            ctx,
            "patients.export.build",
            target=export,
            patient_id=export.patient_id,
            sections=[s["name"] for s in document["section_index"]],
        )
    return ExportStatus.READY


def build_document(*, ctx: Ctx, export: PatientExport) -> dict[str, Any]:
    """The JSON document of docs/patient-export.md (progress from 5 to 75 percent across the sections)."""
    sections = export_sections()
    out: dict[str, Any] = {}
    for i, section in enumerate(sections):
        try:
            out[section.name] = _jsonable(section.fn(ctx=ctx, patient_id=export.patient_id))
        except Exception as exc:
            # SECURITY: the exception's type and frames are logged, never its message (it may quote data).
            log.warning("patients.export.section_failed", export_id=str(export.id), section=section.name, exc_info=True)
            raise ExportFailed(ExportErrorCode.SECTION_FAILED, section=section.name) from exc
        _set_progress(export.id, 5 + 70 * (i + 1) // len(sections))
    return {
        "format": DOCUMENT_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "generated_at": _jsonable(timezone.now()),
        "export_id": str(export.id),
        "requested_at": _jsonable(export.created_at),
        "patient_id": str(export.patient_id),
        "section_index": [{"name": s.name, "title": s.title} for s in sections],
        "sections": out,
    }


def _refuse_urls(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError("the export PDF loads no external resource")


def render_pdf(document: dict[str, Any]) -> bytes:
    """The readable summary of `document`, as PDF (weasyprint, from patients/export_document.html)."""
    import weasyprint

    sections = document["sections"]
    extra = []
    for section in export_sections():
        if section.name in _CORE_PDF or section.name not in sections:
            continue
        data = sections[section.name]
        extra.append(
            {
                "section": section,
                "data": data,
                "html": render_to_string(section.pdf_template, {"section": section, "data": data})
                if section.pdf_template
                else "",
                "table": _generic_table(data) if not section.pdf_template else None,
            }
        )
    access_log = sections.get("access_log", [])
    context = {
        "doc": document,
        "s": sections,
        "identifiers": sections.get("demographics", {}).get("identifiers", {}),
        "access_log": access_log[:PDF_ACCESS_ROWS],
        "access_log_truncated": max(0, len(access_log) - PDF_ACCESS_ROWS),
        "extra_sections": extra,
    }
    try:
        html = render_to_string("patients/export_document.html", context)
        fetcher = weasyprint.URLFetcher(allowed_protocols=set())
        return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
    except Exception as exc:
        log.warning("patients.export.render_failed", export_id=document.get("export_id"), exc_info=True)
        raise ExportFailed(ExportErrorCode.RENDER_FAILED) from exc


_CORE_PDF = {"demographics", "emergency_contacts", "insurance_policies", "registrations", "consents", "access_log"}


def _generic_table(data: Any) -> dict[str, Any]:
    """A section of another app without its own PDF template: rows and columns when it is a list of
    flat objects, key/value rows when it is an object, the JSON text otherwise."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = list(dict.fromkeys(k for r in data for k in r))
        return {"columns": columns, "rows": [[_cell(r.get(c)) for c in columns] for r in data]}
    if isinstance(data, dict):
        return {"columns": ["", ""], "rows": [[k, _cell(v)] for k, v in data.items()]}
    if isinstance(data, list) and not data:
        return {"columns": [], "rows": []}
    return {"columns": [""], "rows": [[_cell(data)]]}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _fail(ctx: Ctx, export: PatientExport, code: str, *, section: str = "") -> None:
    with transaction.atomic():
        PatientExport.objects.filter(id=export.id, status__in=EXPORT_IN_PROGRESS).update(
            status=ExportStatus.FAILED,
            error_code=code,
            finished_at=timezone.now(),
            content_json=None,
            content_pdf=None,
            updated_at=timezone.now(),
        )
        detail = {"code": code, **({"section": section} if section else {})}
        audit.record(
            ctx, "patients.export.build", target=export, patient_id=export.patient_id, outcome="failure", **detail
        )


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str


@audit.reads_health_data
def export_download(*, ctx: Ctx, export_id: uuid.UUID, fmt: str) -> ExportFile:
    """One file of a ready, unexpired export of the actor's own; every download is audited."""
    if fmt not in FORMATS:
        raise ValidationFailed(
            "unknown export format",
            errors=[{"field": "format", "message": f"one of {', '.join(FORMATS)}", "code": "invalid_choice"}],
        )
    try:
        export = export_get(ctx=ctx, export_id=export_id)
    except NotFound as exc:
        raise audit.denied(ctx, "patients.export.download", exc, resource_id=str(export_id)) from None
    if export.status == ExportStatus.EXPIRED or (export.status == ExportStatus.READY and not export.downloadable):
        raise Gone("this export has expired: ask for a new one", code="EXPORT_EXPIRED")
    if export.status == ExportStatus.FAILED:
        raise Conflict("this export failed: ask for a new one", code="EXPORT_FAILED")
    if export.status != ExportStatus.READY:
        raise Conflict("this export is not ready yet", code="EXPORT_NOT_READY")
    field = "content_json" if fmt == "json" else "content_pdf"
    stored = PatientExport.objects.filter(id=export.id, status=ExportStatus.READY).values_list(field, flat=True).first()
    if stored is None:  # expired between the two reads
        raise Gone("this export has expired: ask for a new one", code="EXPORT_EXPIRED")
    content = stored.encode() if fmt == "json" else base64.b64decode(stored)
    audit.record(ctx, "patients.export.download", target=export, patient_id=export.patient_id, read=True, format=fmt)
    content_type, extension = FORMATS[fmt]
    day = (export.finished_at or export.created_at).date().isoformat()
    return ExportFile(content=content, content_type=content_type, filename=f"phb-export-{day}.{extension}")


def exports_maintain(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Hourly: expire ready exports past their 24 hours and wipe their files; fail exports whose worker
    died; queue again exports whose build message was lost."""
    now = now or timezone.now()
    ctx = Ctx.system(reason="expire patient exports after 24 hours")
    counts = {"expired": 0, "timed_out": 0, "requeued": 0}
    for export in PatientExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now).only("id", "patient_id"):
        with transaction.atomic():
            done = PatientExport.objects.filter(id=export.id, status=ExportStatus.READY).update(
                status=ExportStatus.EXPIRED, content_json=None, content_pdf=None, updated_at=now
            )
            if done:
                audit.record(ctx, "patients.export.expire", target=export, patient_id=export.patient_id)
                counts["expired"] += 1
    stale = PatientExport.objects.filter(status=ExportStatus.RUNNING, started_at__lte=now - RUNNING_AT_MOST)
    for export in stale.only("id", "patient_id"):
        _fail(ctx, export, ExportErrorCode.TIMED_OUT)
        counts["timed_out"] += 1
    lost = PatientExport.objects.filter(Q(status=ExportStatus.QUEUED), created_at__lte=now - REQUEUE_AFTER).values_list(
        "id", flat=True
    )
    for export_id in lost:
        enqueue_build(export_id)
        counts["requeued"] += 1
    return counts
