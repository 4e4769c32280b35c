"""Writes of the FHIR API, one entry at a time, and the Bundles that carry many: create (conditional
with If-None-Exist), update (with If-Match), delete where a type allows it, and the reads a Bundle
may carry. The HTTP views, `transaction` and `batch` Bundles and `phb fhir import` all go through
`execute`, so a resource is authorized, mapped, written and audited the same way whichever door it
came in by.

Every write is read back through the registry (`ResourceDef.rows`), so a response shows exactly what
a read would. The caller opens the transaction (`in_transaction`); an entry that fails raises
FhirError and leaves nothing behind once its transaction (or savepoint) rolls back.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from phb.accounts.public import scope_types
from phb.interop.fhir import patient as patient_mapper
from phb.interop.fhir.common import instant, searchset
from phb.interop.fhir.outcome import FhirError, issue, operation_outcome
from phb.interop.fhir.registry import REGISTRY, ResourceDef, alternatives, chained_patient_identifier
from phb.kernel import audit, memo, tenancy
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError

MAX_ENTRIES = 1000
SEARCH_COUNT = 20
SEARCH_MAX = 200
_CONTROL = ("_count", "_sort", "_total", "_format")
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    428: "Precondition Required",
}


@dataclass(frozen=True)
class Requester:
    """Who writes, where PHB's API answers (for Location), and the user's step-up check."""

    ctx: Ctx
    base_url: str
    step_up: Callable[[], None] | None = None  # raises FhirError outside the step-up window (users)


@dataclass
class Result:
    """What one interaction did: its status, the row it concerns, the resource as read (None when the
    requester may not read the type), and for the import what happened (created, linked, ...)."""

    status: int
    resource_type: str
    row_id: uuid.UUID | None = None
    version: str = ""
    body: dict[str, Any] | None = None
    last_modified: str = ""
    what: str = ""  # created | linked | existing | matched | updated | deleted | read | searched

    def location(self, base_url: str) -> str:
        return f"{base_url}{self.resource_type}/{self.row_id}/_history/{self.version}" if self.row_id else ""

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"' if self.version else ""


# --------------------------------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------------------------------


def resource_def(resource_type: Any) -> ResourceDef:
    resource = REGISTRY.get(resource_type) if isinstance(resource_type, str) else None
    if resource is None:
        raise FhirError(404, "UNKNOWN_RESOURCE_TYPE", f"PHB does not serve {str(resource_type)[:60]!r} resources")
    return resource


def can_read(ctx: Ctx, resource: ResourceDef) -> bool:
    if ctx.is_client:
        return resource.type in scope_types(ctx.scopes)
    return any(ctx.has_perm(p) for p in resource.permissions)


def authorize_read(requester: Requester, resource: ResourceDef) -> Ctx:
    """The same rule as the read views: a client's read scope, a user's permission (and step-up)."""
    ctx = requester.ctx
    if ctx.organization_id is None or not can_read(ctx, resource):
        if ctx.is_client:
            raise FhirError(403, "INSUFFICIENT_SCOPE", f"the token's scopes do not include system/{resource.type}.read")
        raise FhirError(403, "FORBIDDEN", f"reading {resource.type} needs a role that grants it")
    if resource.clinical and not ctx.is_client and requester.step_up:
        requester.step_up()
    return ctx


def authorize_write(requester: Requester, resource: ResourceDef, interaction: str) -> Ctx:
    """Who may write `resource`: a client holding its write scope; a user holding one of the type's
    write permissions (and inside the step-up window for clinical types). The domain services check
    the rest (the patient registered here, a care relationship)."""
    ctx = requester.ctx
    if resource.write is None:
        raise FhirError(405, "METHOD_NOT_ALLOWED", f"{resource.type} is read-only in PHB's FHIR API")
    if interaction == "delete" and resource.write.delete is None:
        raise FhirError(
            405,
            "DELETE_NOT_ALLOWED",
            f"PHB keeps every {resource.type}: it cannot be deleted (correct it with an update instead)",
        )
    if interaction == "update" and resource.write.update is None:
        raise FhirError(405, "METHOD_NOT_ALLOWED", f"{resource.type} can be created, not updated, in PHB")
    if ctx.is_client:
        if resource.type not in scope_types(ctx.scopes, access="write"):
            raise audit.denied(
                ctx,
                f"interop.fhir.{interaction}",
                FhirError(403, "INSUFFICIENT_SCOPE", f"the token's scopes do not include system/{resource.type}.write"),
                resource_type=f"fhir.{resource.type}",
            )
        return ctx
    if ctx.organization_id is None or not any(ctx.has_perm(p) for p in resource.write.permissions):
        raise audit.denied(
            ctx,
            f"interop.fhir.{interaction}",
            FhirError(403, "FORBIDDEN", f"writing {resource.type} needs a role that grants it"),
            resource_type=f"fhir.{resource.type}",
        )
    if resource.clinical and requester.step_up:
        requester.step_up()
    return ctx


def _reader(ctx: Ctx, resource: ResourceDef) -> Ctx:
    """The context that reads back what `ctx` wrote (or matches a condition on its behalf): its own
    visibility rules, with the type's read permission. Nothing read so is shown to a requester
    that may not read the type (the body is left out)."""
    plain = ctx.for_organization(ctx.organization_id)  # the request's context may be a lazy proxy
    return dataclasses.replace(plain, permissions=ctx.permissions | resource.permissions)


# --------------------------------------------------------------------------------------------------
# Rendering and matching
# --------------------------------------------------------------------------------------------------


def _page_context(resource: ResourceDef, ctx: Ctx, rows: list[Any]) -> dict[str, Any]:
    if resource.page_context and rows:
        return resource.page_context(ctx, rows)
    return {"mrns": {}, "organization_id": ctx.organization_id}


def _render(resource: ResourceDef, ctx: Ctx, row: Any) -> dict[str, Any]:
    return resource.render(row, _page_context(resource, ctx, [row]))


def _result(requester: Requester, resource: ResourceDef, row_id: Any, status: int, what: str) -> Result:
    """Read the row back through the registry: the response is exactly what a read returns."""
    ctx = _reader(requester.ctx, resource)
    row = resource.rows(ctx).filter(id=row_id).first()
    if row is None:  # written, but outside what the registry shows (a service bug): never a silent 2xx
        raise FhirError(500, "INTERNAL_ERROR", f"{resource.type} was written but cannot be read back")
    body = _render(resource, ctx, row)
    meta = body.get("meta", {})
    return Result(
        status=status,
        resource_type=resource.type,
        row_id=row.id,
        version=meta.get("versionId", ""),
        body=body if can_read(requester.ctx, resource) else None,
        last_modified=meta.get("lastUpdated", ""),
        what=what,
    )


def _query(text: Any, resource: ResourceDef, expression: str) -> list[tuple[str, str]]:
    """The parameters of a search (`identifier=...`, `Patient?identifier=...` or `?identifier=...`)."""
    if not isinstance(text, str) or not text.strip():
        raise FhirError(400, "VALIDATION_ERROR", "a search query is expected", expression=expression)
    query = text.strip()
    if "?" in query:
        prefix, _, query = query.partition("?")
        if prefix.strip("/") not in ("", resource.type):
            raise FhirError(400, "VALIDATION_ERROR", f"the query must search {resource.type}", expression=expression)
    return parse_qsl(query, keep_blank_values=True)


def filtered(resource: ResourceDef, ctx: Ctx, params: list[tuple[str, str]], expression: str) -> Any:
    """The rows matching search parameters, with the search API's own parameter definitions. An
    unknown parameter is an error here (a condition that ignored it would match too much)."""
    rows = resource.rows(ctx)
    zone = timezone.get_current_timezone()
    condition = Q()
    for name, value in params:
        if name in _CONTROL:
            continue
        if name == "patient.identifier" and name in resource.chains:
            condition &= chained_patient_identifier(value, ctx)
        elif name in resource.params:
            condition &= alternatives(resource.params[name], value, name, zone, ctx)
        else:
            raise FhirError(
                400,
                "UNKNOWN_PARAMETER",
                f"unknown or unsupported search parameter {name[:60]!r}",
                expression=expression,
            )
    if not any(name not in _CONTROL for name, _ in params):
        raise FhirError(400, "VALIDATION_ERROR", "give at least one search parameter", expression=expression)
    return rows.filter(condition)


# --------------------------------------------------------------------------------------------------
# The interactions
# --------------------------------------------------------------------------------------------------


def _checked_body(resource: ResourceDef, body: Any, expression: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise FhirError(
            400, "INVALID_RESOURCE", "the body must be a JSON object (a FHIR resource)", expression=expression
        )
    if body.get("resourceType") != resource.type:
        raise FhirError(
            400,
            "INVALID_RESOURCE",
            f"a {resource.type} resource is expected here, not {str(body.get('resourceType'))[:40]!r}",
            expression=f"{expression}.resourceType" if expression else "resourceType",
        )
    return body


def _domain(exc: ProblemError, resource: ResourceDef) -> FhirError:
    """A domain service's refusal as an OperationOutcome error (never with the values sent)."""
    errors = exc.extra.get("errors") or []
    expression = None
    diagnostics = exc.detail
    if errors:
        first = errors[0]
        expression = patient_mapper.field_path(first.get("field", "")) if resource.type == "Patient" else None
        if first.get("message") and first["message"] not in diagnostics:
            diagnostics = f"{diagnostics} ({first.get('field')}: {first['message']})"
    code = "INVALID_RESOURCE" if exc.code == "VALIDATION_ERROR" else exc.code
    return FhirError(exc.status, code, diagnostics, expression=expression)


@contextmanager
def domain_errors(resource: ResourceDef) -> Iterator[None]:
    try:
        yield
    except ProblemError as exc:
        raise _domain(exc, resource) from exc
    except PermissionError as exc:
        raise FhirError(403, "FORBIDDEN", str(exc)) from exc


def _audit(ctx: Ctx, interaction: str, resource: ResourceDef, result: Result, **detail: Any) -> None:
    """One event per write, naming the type and the id, never the content."""
    patient_id = None
    if resource.patient_field == "id":
        patient_id = result.row_id
    audit.record(
        ctx,
        f"interop.fhir.{interaction}",
        resource_type=f"fhir.{resource.type}",
        resource_id=result.row_id or "",
        patient_id=patient_id,
        status=result.status,
        **detail,
    )


def audit_failure(ctx: Ctx, interaction: str, resource_type: str, error: FhirError, **detail: Any) -> None:
    """A refused write, recorded after its transaction rolled back (the type and PHB's code only)."""
    if error.status in (401, 403) and error.code in ("FORBIDDEN", "INSUFFICIENT_SCOPE"):
        return  # audit.denied recorded it already
    audit.record(
        ctx,
        f"interop.fhir.{interaction}",
        resource_type=f"fhir.{resource_type}"[:100],
        outcome="failure",
        code=error.code,
        status=error.status,
        **detail,
    )


def create(
    requester: Requester,
    resource_type: str,
    body: Any,
    *,
    if_none_exist: str | None = None,
    expression: str = "",
    read_back: bool = True,
) -> Result:
    """Create (201), or with `if_none_exist`: 0 matches create, 1 match returns it (200, no write),
    more are a 412 MULTIPLE_MATCHES. The id a client put in the body is ignored (PHB assigns ids).
    `read_back=False` (the import, which answers with ids only): the row is not read back and
    rendered, and the result has no body."""
    resource = resource_def(resource_type)
    ctx = authorize_write(requester, resource, "create")
    assert resource.write is not None
    body = _checked_body(resource, body, expression)
    if if_none_exist is not None:
        params = _query(if_none_exist, resource, f"{expression}.request.ifNoneExist" if expression else "If-None-Exist")
        found = list(
            filtered(resource, _reader(ctx, resource), params, "If-None-Exist").values_list("id", flat=True)[:2]
        )
        if len(found) > 1:
            raise FhirError(412, "MULTIPLE_MATCHES", f"the condition matches more than one {resource.type}")
        if found:
            result = _result(requester, resource, found[0], 200, "matched")
            _audit(ctx, "create", resource, result, conditional="matched")
            return result
    with domain_errors(resource):
        row = resource.write.create(ctx, body)
    what = getattr(row, "fhir_write", "created")
    status = 200 if what == "existing" else 201
    if read_back:
        result = _result(requester, resource, row.id, status, what)
    else:
        result = Result(status=status, resource_type=resource.type, row_id=row.id, what=what)
    _audit(ctx, "create", resource, result, **({"mpi": what} if what != "created" else {}))
    return result


def _version_of(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def update(
    requester: Requester,
    resource_type: str,
    resource_id: str,
    body: Any,
    *,
    if_match: str | None,
    expression: str = "",
) -> Result:
    """Replace a resource PHB holds. The body's id must be the URL's; `If-Match: W/"<version>"` is
    required (428 without, 412 VERSION_CONFLICT when another change came first); an unknown id is a
    404 (PHB assigns ids: no create by update)."""
    resource = resource_def(resource_type)
    ctx = authorize_write(requester, resource, "update")
    assert resource.write is not None
    assert resource.write.update is not None
    body = _checked_body(resource, body, expression)
    if body.get("id") != resource_id:
        raise FhirError(
            400,
            "INVALID_RESOURCE",
            "the resource's id must be the id in the URL",
            expression=f"{expression}.resource.id" if expression else f"{resource.type}.id",
        )
    row = _current(resource, ctx, resource_id)
    if if_match is None:
        raise FhirError(
            428, "PRECONDITION_REQUIRED", 'an update needs If-Match: W/"<versionId>" (the version it changes)'
        )
    current = _render(resource, _reader(ctx, resource), row)["meta"]["versionId"]
    if _version_of(if_match) != current:
        raise FhirError(
            412, "VERSION_CONFLICT", f"{resource.type}/{row.id} has changed since that version: read it again"
        )
    with domain_errors(resource):
        saved = resource.write.update(ctx, row, body)
    result = _result(requester, resource, saved.id, 200, "updated")
    _audit(ctx, "update", resource, result)
    return result


def _current(resource: ResourceDef, ctx: Ctx, resource_id: str) -> Any:
    """The row an update or delete concerns, locked. SECURITY: another organization's row, or one
    the requester may not see, is not found."""
    try:
        parsed = uuid.UUID(resource_id)
    except (ValueError, TypeError, AttributeError):
        parsed = None
    row = (
        resource.rows(_reader(ctx, resource)).filter(id=parsed).select_for_update(of=("self",)).first()
        if parsed
        else None
    )
    if row is None:
        raise FhirError(404, "NOT_FOUND", f"{resource.type}/{str(resource_id)[:64]} is not known")
    return row


def delete(requester: Requester, resource_type: str, resource_id: str) -> Result:
    resource = resource_def(resource_type)
    ctx = authorize_write(requester, resource, "delete")
    assert resource.write is not None
    assert resource.write.delete is not None
    row = _current(resource, ctx, resource_id)
    with domain_errors(resource):
        resource.write.delete(ctx, row)
    result = Result(status=204, resource_type=resource.type, row_id=row.id, what="deleted")
    _audit(ctx, "delete", resource, result)
    return result


def read(requester: Requester, resource_type: str, resource_id: str) -> Result:
    resource = resource_def(resource_type)
    ctx = authorize_read(requester, resource)
    try:
        parsed = uuid.UUID(resource_id)
    except ValueError:
        parsed = None
    row = resource.rows(ctx).filter(id=parsed).first() if parsed else None
    if row is None:
        raise audit.denied(
            ctx,
            "interop.fhir.read",
            FhirError(404, "NOT_FOUND", f"{resource.type}/{resource_id[:64]} is not known"),
            resource_type=f"fhir.{resource.type}",
            resource_id=resource_id[:64],
        )
    body = _render(resource, ctx, row)
    audit.record(
        ctx,
        "interop.fhir.read",
        resource_type=f"fhir.{resource.type}",
        resource_id=row.id,
        patient_id=getattr(row, resource.patient_field) if resource.patient_field else None,
        read=True,
    )
    meta = body.get("meta", {})
    return Result(200, resource.type, row.id, meta.get("versionId", ""), body, meta.get("lastUpdated", ""), "read")


def search(requester: Requester, resource_type: str, query: str, expression: str) -> Result:
    """A search inside a Bundle: the first page (`_count`, default 20) of a searchset, newest first."""
    resource = resource_def(resource_type)
    ctx = authorize_read(requester, resource)
    params = _query(query, resource, expression)
    count = SEARCH_COUNT
    for name, value in params:
        if name == "_count":
            if not value.isdigit() or not 1 <= int(value) <= SEARCH_MAX:
                raise FhirError(
                    400, "VALIDATION_ERROR", f"_count: a whole number from 1 to {SEARCH_MAX}", expression="_count"
                )
            count = int(value)
    rows_qs = filtered(resource, ctx, params, expression)
    sort = resource.default_sort
    field_name = resource.sorts[sort.lstrip("-")]
    order = f"-{field_name}" if sort.startswith("-") else field_name
    total = rows_qs.count()
    rows = list(rows_qs.order_by(order, "-id")[:count])
    context = _page_context(resource, ctx, rows)
    patients = sorted({getattr(r, resource.patient_field) for r in rows} if resource.patient_field else set())
    with audit.read_batch():
        for patient_id in patients or [None]:
            audit.record(
                ctx,
                "interop.fhir.search",
                resource_type=f"fhir.{resource.type}",
                patient_id=patient_id,
                read=True,
                criteria=sorted({n for n, _ in params}),
                results=len(rows),
            )
    entries = [
        {
            "fullUrl": f"{requester.base_url}{resource.type}/{r.id}",
            "resource": resource.render(r, context),
            "search": {"mode": "match"},
        }
        for r in rows
    ]
    body = searchset(entries, total=total)
    return Result(200, "Bundle", None, "", body, "", "searched")


@contextmanager
def in_transaction(ctx: Ctx) -> Iterator[None]:
    """One transaction bound to the requester's organization; refusals outlive its rollback."""
    with audit.atomic(), tenancy.bound(organization_id=ctx.organization_id):
        yield


# --------------------------------------------------------------------------------------------------
# Bundles: transaction and batch
# --------------------------------------------------------------------------------------------------

_METHODS = ("GET", "POST", "PUT", "DELETE")
_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}  # the order FHIR processes a transaction in


@dataclass
class Entry:
    index: int
    method: str
    url: str
    full_url: str
    resource: Any
    if_none_exist: str | None = None
    if_match: str | None = None
    resource_type: str = ""
    depends: set[str] = field(default_factory=set)
    refs: list[str] | None = None  # every reference in `resource`, found once (None: not looked for yet)


def parse_bundle(bundle: Any, *, types: tuple[str, ...] = ("transaction", "batch")) -> tuple[str, list[Entry]]:
    """The type and entries of a Bundle posted to PHB; a malformed Bundle is a 400 INVALID_BUNDLE,
    one too large a 413."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(400, "INVALID_RESOURCE", "a Bundle is expected here", expression="Bundle.resourceType")
    kind = bundle.get("type")
    if kind not in types:
        raise FhirError(
            400, "INVALID_BUNDLE", f"the Bundle's type must be {' or '.join(types)}", expression="Bundle.type"
        )
    items = bundle.get("entry") or []
    if not isinstance(items, list):
        raise FhirError(400, "INVALID_BUNDLE", "Bundle.entry must be a list", expression="Bundle.entry")
    if len(items) > MAX_ENTRIES:
        raise FhirError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"a Bundle holds at most {MAX_ENTRIES} entries: split it",
            expression="Bundle.entry",
        )
    entries: list[Entry] = []
    for index, item in enumerate(items):
        where = f"Bundle.entry[{index}]"
        request = item.get("request") if isinstance(item, dict) else None
        if not isinstance(request, dict) or request.get("method") not in _METHODS or not request.get("url"):
            raise FhirError(
                400,
                "INVALID_BUNDLE",
                f"{where}: request.method (GET, POST, PUT, DELETE) and url are required",
                expression=where,
            )
        url = str(request["url"]).strip().removeprefix("/")
        entry = Entry(
            index=index,
            method=request["method"],
            url=url,
            full_url=str(item.get("fullUrl") or ""),
            resource=item.get("resource"),
            if_none_exist=request.get("ifNoneExist"),
            if_match=request.get("ifMatch"),
            resource_type=url.split("?")[0].split("/")[0],
        )
        entries.append(entry)
    full_urls = [e.full_url for e in entries if e.full_url]
    if len(full_urls) != len(set(full_urls)):
        raise FhirError(400, "INVALID_BUNDLE", "two entries have the same fullUrl", expression="Bundle.entry.fullUrl")
    local = set(full_urls)
    for entry in entries:
        entry.refs = list(references(entry.resource))
        entry.depends = {ref for ref in entry.refs if ref in local and ref != entry.full_url}
    return kind, entries


def references(value: Any) -> Iterator[str]:
    """Every `reference` string inside `value`."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            yield ref
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def ordered(entries: list[Entry]) -> list[Entry]:
    """DELETE, then POST in dependency order (an entry after those it references), PUT, GET. A cycle
    of references between created entries is a 400 (PHB cannot create either first)."""
    creates = [e for e in entries if e.method == "POST"]
    by_url = {e.full_url: e for e in creates if e.full_url}
    done: set[str] = set()
    result: list[Entry] = []
    pending = list(creates)
    while pending:
        ready = [e for e in pending if all(d in done or d not in by_url for d in e.depends)]
        if not ready:
            raise FhirError(
                400,
                "INVALID_BUNDLE",
                "the created entries reference each other in a cycle",
                expression=f"Bundle.entry[{pending[0].index}]",
            )
        for e in ready:
            result.append(e)
            done.add(e.full_url)
        taken = {id(e) for e in ready}
        pending = [e for e in pending if id(e) not in taken]
    others = sorted((e for e in entries if e.method != "POST"), key=lambda e: (_ORDER[e.method], e.index))
    return [e for e in others if e.method == "DELETE"] + result + [e for e in others if e.method != "DELETE"]


def resolve(value: Any, targets: dict[str, str | None]) -> Any:
    """A copy of `value` with every reference to a Bundle entry (its fullUrl, e.g. `urn:uuid:...`)
    made literal (`Patient/<id>`). A target of None (an entry not stored) loses its `reference`."""
    if isinstance(value, dict):
        out = {k: resolve(v, targets) for k, v in value.items()}
        ref = value.get("reference")
        if isinstance(ref, str) and ref in targets:
            if targets[ref] is None:
                out.pop("reference")
            else:
                out["reference"] = targets[ref]
        return out
    if isinstance(value, list):
        return [resolve(v, targets) for v in value]
    return value


def execute(requester: Requester, entry: Entry, targets: dict[str, str | None], *, read_back: bool = True) -> Result:
    """One entry of a Bundle, its references resolved. Raises FhirError."""
    where = f"Bundle.entry[{entry.index}]"
    found = entry.refs if entry.refs is not None else references(entry.resource)
    unresolved = sorted(r for r in found if r.startswith("urn:") and r not in targets)
    if unresolved:
        raise FhirError(
            400, "INVALID_REFERENCE", "a reference names no entry of this Bundle", expression=f"{where}.resource"
        )
    body = resolve(entry.resource, targets)
    path = entry.url.split("?")[0].strip("/").split("/")
    if entry.method == "POST":
        if len(path) != 1 or "?" in entry.url:
            raise FhirError(
                400, "INVALID_BUNDLE", "a POST entry's url is the resource type", expression=f"{where}.request.url"
            )
        return create(
            requester, path[0], body, if_none_exist=entry.if_none_exist, expression=where, read_back=read_back
        )
    if entry.method in ("PUT", "DELETE") and (len(path) != 2 or "?" in entry.url):
        raise FhirError(
            400,
            "INVALID_BUNDLE",
            f"a {entry.method} entry's url is <Type>/<id> (no conditional forms)",
            expression=where,
        )
    if entry.method == "PUT":
        return update(requester, path[0], path[1], body, if_match=entry.if_match, expression=where)
    if entry.method == "DELETE":
        return delete(requester, path[0], path[1])
    if len(path) == 2 and "?" not in entry.url:
        return read(requester, path[0], path[1])
    if len(path) != 1:
        raise FhirError(400, "INVALID_BUNDLE", "a GET entry's url is <Type>/<id> or <Type>?<query>", expression=where)
    return search(requester, path[0], entry.url.partition("?")[2] or "", f"{where}.request.url")


def note_target(targets: dict[str, str | None], entry: Entry, result: Result) -> None:
    if entry.full_url and result.row_id is not None and entry.method in ("POST", "PUT"):
        targets[entry.full_url] = f"{result.resource_type}/{result.row_id}"


def response_entry(requester: Requester, result: Result, *, minimal: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"status": f"{result.status} {REASONS.get(result.status, '')}".strip()}
    if result.row_id is not None and result.version:
        response["location"] = result.location(requester.base_url)
        response["etag"] = result.etag
    if result.last_modified:
        response["lastModified"] = result.last_modified
    out: dict[str, Any] = {}
    if result.row_id is not None:
        out["fullUrl"] = f"{requester.base_url}{result.resource_type}/{result.row_id}"
    if result.body is not None and not minimal:
        out["resource"] = result.body
    out["response"] = response
    return out


def error_entry(error: FhirError) -> dict[str, Any]:
    return {
        "response": {
            "status": f"{error.status} {REASONS.get(error.status, '')}".strip(),
            "outcome": operation_outcome([issue(error.code, error.diagnostics, expression=error.expression)]),
        }
    }


class EntryFailed(Exception):
    """An entry of a transaction failed: everything is rolled back and this entry's error answered."""

    def __init__(self, entry: Entry, error: FhirError) -> None:
        self.entry, self.error = entry, error
        super().__init__(error.diagnostics)


def _interaction(entry: Entry) -> str:
    return {"POST": "create", "PUT": "update", "DELETE": "delete", "GET": "read"}[entry.method]


def transaction(requester: Requester, entries: list[Entry], *, minimal: bool = False) -> dict[str, Any]:
    """All or nothing: one database transaction; any entry failing rolls back every one and raises
    EntryFailed (its index and error)."""
    responses: dict[int, dict[str, Any]] = {}
    targets: dict[str, str | None] = {}
    plan = ordered(entries)
    try:
        with in_transaction(requester.ctx):
            for entry in plan:
                try:
                    result = execute(requester, entry, targets)
                except FhirError as exc:
                    raise EntryFailed(entry, exc) from exc
                note_target(targets, entry, result)
                responses[entry.index] = response_entry(requester, result, minimal=minimal)
    except EntryFailed as failed:
        if failed.entry.method != "GET":
            audit_failure(
                requester.ctx,
                _interaction(failed.entry),
                failed.entry.resource_type,
                failed.error,
                entry=failed.entry.index,
            )
        raise
    return _response_bundle("transaction-response", [responses[e.index] for e in entries])


def batch(requester: Requester, entries: list[Entry], *, minimal: bool = False) -> dict[str, Any]:
    """Each entry on its own (a savepoint each): one failing leaves the others done."""
    responses: dict[int, dict[str, Any]] = {}
    targets: dict[str, str | None] = {}
    for entry in ordered(entries):
        try:
            with in_transaction(requester.ctx):
                result = execute(requester, entry, targets)
        except FhirError as exc:
            if entry.method != "GET":
                audit_failure(requester.ctx, _interaction(entry), entry.resource_type, exc, entry=entry.index)
            responses[entry.index] = error_entry(exc)
            continue
        note_target(targets, entry, result)
        responses[entry.index] = response_entry(requester, result, minimal=minimal)
    return _response_bundle("batch-response", [responses[e.index] for e in entries])


def _response_bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "meta": {"lastUpdated": instant(timezone.now())},
        "type": kind,
        "entry": entries,
    }


# --------------------------------------------------------------------------------------------------
# Imports: a Bundle's entries one by one, never aborting (`phb fhir import`)
# --------------------------------------------------------------------------------------------------


@dataclass
class Imported:
    """What became of one entry: created, linked (the person was on record), already (imported
    before), skipped (a type PHB does not store) or refused (with PHB's code and the reason)."""

    index: int
    full_url: str
    resource_type: str
    what: str
    code: str = ""
    status: int = 0
    reason: str = ""


def _source(entry: Entry) -> str:
    """The entry's identity at its source: its fullUrl, or the first identifier's `system|value`."""
    if entry.full_url:
        return entry.full_url[:300]
    for item in (entry.resource or {}).get("identifier") or []:
        if isinstance(item, dict) and item.get("system") and item.get("value"):
            return f"{item['system']}|{item['value']}"[:300]
    return ""


def _skip_reason(entry: Entry) -> str:
    resource_type = entry.resource.get("resourceType") if isinstance(entry.resource, dict) else None
    if entry.method != "POST":
        return f"only created resources are imported (not {entry.method})"
    if not isinstance(resource_type, str):
        return "the entry holds no resource"
    if resource_type not in REGISTRY:
        return f"PHB does not store {resource_type[:60]} resources"
    if REGISTRY[resource_type].write is None:
        return f"PHB does not accept {resource_type} from other systems"
    return ""


def import_bundle(requester: Requester, bundle: Any) -> list[Imported]:
    """Import the entries of a transaction (or batch) Bundle PHB stores, each in its own transaction,
    in dependency order. An entry referencing a refused one is refused too: stored without that link
    it would say something else (an observation without the visit it was made in). A reference to an
    entry of a type PHB does not store is dropped. Every row created gets a SourceLink, so importing
    the same Bundle again finds them ("already") instead of creating them twice."""
    _kind, entries = parse_bundle(bundle)
    state = ImportState()
    results = import_entries(requester, entries, state, skipped_targets=True)
    return [results[e.index] for e in entries]


@dataclass
class ImportState:
    """What an import carries from one group of entries to the next: the reference each source
    (fullUrl, or `Type/id` in NDJSON) became, and the sources refused."""

    targets: dict[str, str | None] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)


def import_entries(
    requester: Requester,
    entries: list[Entry],
    state: ImportState,
    *,
    skipped_targets: bool,
    check: Callable[[Entry], None] | None = None,
) -> dict[int, Imported]:
    """The import of `entries` (POSTs of resources) in dependency order; `state` is updated with what
    each became. `skipped_targets`: a reference to a skipped entry is dropped (Bundles). `check` may
    refuse an entry (raising FhirError) before it is written, e.g. for a reference naming nothing.

    All the entries go in one transaction (`_together`): the audit events and SourceLinks inserted
    together, lookups remembered (`kernel.memo`). When an entry is refused there, everything is rolled
    back and the entries go again together with that one refused beforehand (and what references it,
    DEPENDENCY_REFUSED), which is what one transaction per entry would have given: the entries before
    it are written the same way again, those after it never saw it. After `RETRIES` refusals (or a
    database error), the entries go one transaction each (`_one_by_one`)."""
    results: dict[int, Imported] = {}
    stored: list[Entry] = []
    for entry in entries:
        entry.resource_type = (entry.resource or {}).get("resourceType", "") if isinstance(entry.resource, dict) else ""
        reason = _skip_reason(entry)
        if reason:
            results[entry.index] = Imported(
                entry.index, entry.full_url, entry.resource_type or "?", "skipped", reason=reason
            )
            if entry.full_url and skipped_targets:
                state.targets[entry.full_url] = None
        else:
            stored.append(entry)
    plan = ordered(stored)
    known = _links(requester.ctx, plan)
    saved = (dict(state.targets), set(state.refused))
    refusals: dict[int, FhirError] = {}

    def restore() -> None:
        state.targets.clear()
        state.targets.update(saved[0])
        state.refused.clear()
        state.refused.update(saved[1])

    for _attempt in range(RETRIES + 1):
        try:
            done = _together(requester, plan, state, dict(known), check, refusals)
        except _Refused as failed:
            restore()
            if failed.entry is None:
                break
            refusals[failed.entry.index] = failed.error
            continue
        for entry in plan:
            if entry.index in refusals:
                error = refusals[entry.index]
                audit_failure(requester.ctx, "create", entry.resource_type, error, entry=entry.index)
        results.update(done)
        return results
    results.update(_one_by_one(requester, plan, state, known, check))
    return results


RETRIES = 5  # refused entries handled by going again together; past that, one transaction per entry


class _Refused(Exception):
    """An entry was refused while importing entries together (`entry` None: a database error)."""

    def __init__(self, entry: Entry | None, error: FhirError | None) -> None:
        self.entry, self.error = entry, error
        super().__init__(error.diagnostics if error else "database error")


def _links(ctx: Ctx, plan: list[Entry]) -> dict[tuple[str, str], uuid.UUID]:
    """The rows entries became in an earlier import, by (type, source), in one query per 500."""
    from phb.interop.models import SourceLink

    wanted = {(e.resource_type, source) for e in plan if (source := _source(e))}
    found: dict[tuple[str, str], uuid.UUID] = {}
    sources = sorted({source for _t, source in wanted})
    for start in range(0, len(sources), 500):
        rows = SourceLink.objects.for_tenant(ctx).filter(source__in=sources[start : start + 500])
        for resource_type, source, target_id in rows.values_list("resource_type", "source", "target_id"):
            if (resource_type, source) in wanted:
                found[(resource_type, source)] = target_id
    return found


def _seen(entry: Entry, result: Imported, state: ImportState, known: dict[tuple[str, str], uuid.UUID]) -> bool:
    """Settle an entry without writing: refused with what it references, or imported before."""
    blocked = sorted(entry.depends & state.refused)
    if blocked:
        result.code, result.status = "DEPENDENCY_REFUSED", 424
        result.reason = f"it references {blocked[0]}, which was refused"
        state.refused.add(entry.full_url)
        return True
    target = known.get((entry.resource_type, _source(entry)))
    if target is not None:
        result.what = "already"
        if entry.full_url:
            state.targets[entry.full_url] = f"{entry.resource_type}/{target}"
        return True
    return False


def _together(
    requester: Requester,
    plan: list[Entry],
    state: ImportState,
    known: dict[tuple[str, str], uuid.UUID],
    check: Callable[[Entry], None] | None,
    refusals: dict[int, FhirError],
) -> dict[int, Imported]:
    from phb.interop.models import SourceLink

    ctx = requester.ctx
    results: dict[int, Imported] = {}
    links: list[Any] = []
    try:
        with in_transaction(ctx), audit.write_batch(), audit.whole(), memo.scope():
            for entry in plan:
                result = results[entry.index] = Imported(entry.index, entry.full_url, entry.resource_type, "refused")
                if _seen(entry, result, state, known):
                    continue
                refusal = refusals.get(entry.index)
                if refusal is not None:  # refused in an earlier pass
                    result.code, result.status, result.reason = refusal.code, refusal.status, refusal.diagnostics
                    if entry.full_url:
                        state.refused.add(entry.full_url)
                    continue
                if check is not None:
                    try:
                        check(entry)  # reads only: a refusal here leaves the transaction as it was
                    except FhirError as exc:
                        refusals[entry.index] = exc
                        result.code, result.status, result.reason = exc.code, exc.status, exc.diagnostics
                        if entry.full_url:
                            state.refused.add(entry.full_url)
                        continue
                try:
                    done = execute(requester, entry, state.targets, read_back=False)
                except FhirError as exc:
                    raise _Refused(entry, exc) from exc
                source = _source(entry)
                if source and done.row_id is not None:
                    links.append(
                        SourceLink(
                            organization_id=ctx.organization_id,
                            resource_type=entry.resource_type,
                            source=source,
                            target_id=done.row_id,
                        )
                    )
                    known[(entry.resource_type, source)] = done.row_id
                result.what = "created" if done.what == "created" else "linked"
                note_target(state.targets, entry, done)
            SourceLink.objects.for_tenant(ctx).bulk_create(links, batch_size=1000)
    except DatabaseError as exc:  # rolled back whole: entry by entry, each on its own
        raise _Refused(None, None) from exc
    return results


def _one_by_one(
    requester: Requester,
    plan: list[Entry],
    state: ImportState,
    known: dict[tuple[str, str], uuid.UUID],
    check: Callable[[Entry], None] | None,
) -> dict[int, Imported]:
    from phb.interop.models import SourceLink

    ctx = requester.ctx
    results: dict[int, Imported] = {}
    for entry in plan:
        result = results[entry.index] = Imported(entry.index, entry.full_url, entry.resource_type, "refused")
        if _seen(entry, result, state, known):
            continue
        source = _source(entry)
        try:
            if check is not None:
                check(entry)
            with in_transaction(ctx):
                done = execute(requester, entry, state.targets, read_back=False)
                if source and done.row_id is not None:
                    SourceLink.objects.for_tenant(ctx).create(
                        organization_id=ctx.organization_id,
                        resource_type=entry.resource_type,
                        source=source,
                        target_id=done.row_id,
                    )
        except FhirError as exc:
            audit_failure(ctx, "create", entry.resource_type, exc, entry=entry.index)
            result.code, result.status, result.reason = exc.code, exc.status, exc.diagnostics
            if entry.full_url:
                state.refused.add(entry.full_url)
            continue
        if source and done.row_id is not None:
            known[(entry.resource_type, source)] = done.row_id
        result.what = "created" if done.what == "created" else "linked"
        note_target(state.targets, entry, done)
    return results
