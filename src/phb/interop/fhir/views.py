"""The FHIR R4 endpoint `/fhir/r4/`: metadata, read, vread and search of the registry's resource types.

Authentication, tenancy, policies and auditing are the REST API's: a user's JWT (or session) acts with
the user's roles and care relationships, a client's token with its organization and scopes. Resources
are built as dicts and written with the standard json module (no serializer on these paths). Every
error is an OperationOutcome. These views are not part of the OpenAPI schema (FHIR's own
CapabilityStatement describes them).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import structlog
from django.core.exceptions import RequestDataTooBig
from django.db.models import F, Q, QuerySet
from django.http import Http404, HttpResponse
from django.utils import timezone
from rest_framework import exceptions as drf_exceptions
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from phb.accounts.public import (
    ClientRateThrottle,
    ClientTokenAuthentication,
    JwtAuthentication,
    check_med_access,
    scope_types,
)
from phb.interop.fhir import bundles, slot
from phb.interop.fhir.common import searchset
from phb.interop.fhir.operations import declare_operations
from phb.interop.fhir.outcome import FhirError, issue, operation_outcome
from phb.interop.fhir.registry import REGISTRY, ResourceDef, alternatives, chained_patient_identifier
from phb.interop.fhir.search import SearchState, bad, cursor_decode, cursor_encode
from phb.kernel import audit, tenancy
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.rest import request_ctx

log = structlog.get_logger("phb.fhir")

FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT = 20
MAX_COUNT = 200
MAX_REVINCLUDE = 500
CONTROL = ("_count", "_sort", "_total", "_summary", "_include", "_revinclude", "_format", "_cursor")
TOTAL_MODES = ("accurate", "none", "estimate")
SUMMARY_MODES = ("count", "false")  # count: the total alone; false: the full resources (the default)


def _json(body: dict[str, Any], status: int = 200, *, content_type: str = FHIR_JSON) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type=f"{content_type}; charset=utf-8",
    )


def _outcome(status: int, code: str, diagnostics: str, expression: str | None = None) -> HttpResponse:
    response = _json(operation_outcome([issue(code, diagnostics, expression=expression)]), status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="phb"'
    return response


class FhirView(APIView):
    """Base of the FHIR views: client tokens, user tokens, sessions; errors as OperationOutcome."""

    authentication_classes = [ClientTokenAuthentication, JwtAuthentication, SessionAuthentication]
    permission_classes = [permissions.AllowAny]  # each handler decides, answering OperationOutcome
    throttle_classes = [AnonRateThrottle, ClientRateThrottle]  # a client's token: its own count
    schema = None  # SECURITY: documented by the CapabilityStatement, kept out of the REST API's schema

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """FHIR's JSON in both spellings (or anything); XML and other formats are refused (406)."""
        wanted = request.query_params.get("_format", "") or request.META.get("HTTP_ACCEPT", "")
        acceptable = ("json", "*/*", "application/*")
        if wanted and not any(token in wanted for token in acceptable):
            raise FhirError(406, "NOT_ACCEPTABLE", "PHB serves FHIR as JSON: application/fhir+json or application/json")
        return None, None

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.headers = {}  # responses are built here, not rendered by DRF
        return response

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, FhirError):
            return _outcome(exc.status, exc.code, exc.diagnostics, exc.expression)
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            return _outcome(401, "UNAUTHORIZED", str(exc.detail))
        if isinstance(exc, drf_exceptions.Throttled):
            response = _outcome(429, "RATE_LIMIT_EXCEEDED", "Too many requests")
            if exc.wait is not None:
                response["Retry-After"] = str(max(1, int(exc.wait)))
            return response
        if isinstance(exc, ProblemError):
            return _outcome(exc.status, exc.code, exc.detail)
        if isinstance(exc, Http404):
            return _outcome(404, "NOT_FOUND", "Not found")
        if isinstance(exc, drf_exceptions.MethodNotAllowed):
            return _outcome(405, "METHOD_NOT_ALLOWED", "This interaction is not supported")
        if isinstance(exc, drf_exceptions.APIException):
            return _outcome(exc.status_code, "ERROR", str(exc.detail))
        log.exception("fhir.error", error=type(exc).__name__)  # no request data: it may name patients
        return _outcome(500, "INTERNAL_ERROR", "Internal error")

    # -- shared steps --------------------------------------------------------------------------------
    @property
    def ctx(self) -> Ctx:
        return request_ctx(self.request)

    def resource_def(self, resource_type: str) -> ResourceDef:
        resource = REGISTRY.get(resource_type)
        if resource is None:
            raise FhirError(404, "UNKNOWN_RESOURCE_TYPE", f"PHB does not serve {resource_type[:60]!r} resources")
        return resource

    def authorize(self, resource: ResourceDef) -> Ctx:
        """Who may use `resource` at all: a client within its scopes, a user holding one of the type's
        permissions (and the step-up window for clinical types, as the REST API asks)."""
        ctx = self.ctx
        if not ctx.is_authenticated:
            raise FhirError(401, "UNAUTHORIZED", "Authentication required (a Bearer token)")
        if ctx.is_client:
            if resource.type not in scope_types(ctx.scopes):
                raise FhirError(
                    403, "INSUFFICIENT_SCOPE", f"the token's scopes do not include system/{resource.type}.read"
                )
            return ctx
        if ctx.organization_id is None or not any(ctx.has_perm(p) for p in resource.permissions):
            raise FhirError(403, "FORBIDDEN", f"reading {resource.type} needs a role that grants it")
        if resource.clinical:
            check_med_access(self.request)
        return ctx

    def base_url(self) -> str:
        return self.request.build_absolute_uri("/fhir/r4/")


def _page_context(resource: ResourceDef, ctx: Ctx, rows: list[Any]) -> dict[str, Any]:
    return (
        resource.page_context(ctx, rows)
        if resource.page_context and rows
        else {"mrns": {}, "organization_id": ctx.organization_id}
    )


def _patient_of(resource: ResourceDef, row: Any) -> uuid.UUID | None:
    return getattr(row, resource.patient_field) if resource.patient_field else None


# --------------------------------------------------------------------------------------------------
# writes: create, update, delete, and Bundles (transaction, batch); the work is in bundles.py
# --------------------------------------------------------------------------------------------------

WRITE_TYPES = ("application/fhir+json", "application/json")


def _prefer_return(request: Request) -> str:
    """`Prefer: return=minimal | representation | OperationOutcome` (representation by default)."""
    for part in request.META.get("HTTP_PREFER", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip() == "return" and value.strip() in ("minimal", "representation", "OperationOutcome"):
            return value.strip()
    return "representation"


class WriteMixin:
    """Parsing a FHIR body and running one write in a transaction, for the write views."""

    request: Request

    def requester(self) -> bundles.Requester:
        ctx = self.ctx  # type: ignore[attr-defined]
        if not ctx.is_authenticated:
            raise FhirError(401, "UNAUTHORIZED", "Authentication required (a Bearer token)")
        return bundles.Requester(ctx=ctx, base_url=self.base_url(), step_up=self._step_up)  # type: ignore[attr-defined]

    def _step_up(self) -> None:
        try:
            check_med_access(self.request)
        except ProblemError as exc:
            raise FhirError(exc.status, exc.code, exc.detail) from exc

    def body(self) -> Any:
        """The JSON body: FHIR's content type (or application/json), else 415; not JSON, 400."""
        content_type = (self.request.content_type or "").split(";")[0].strip().lower()
        if content_type not in WRITE_TYPES:
            raise FhirError(415, "UNSUPPORTED_MEDIA_TYPE", "send the resource as application/fhir+json")
        try:
            raw = self.request.body
        except RequestDataTooBig:
            raise FhirError(413, "PAYLOAD_TOO_LARGE", "the body is too large: split the Bundle") from None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise FhirError(400, "INVALID_RESOURCE", "the body is not valid JSON") from None

    def write(self, interaction: str, resource_type: str, run: Callable[[bundles.Requester], bundles.Result]) -> Any:
        requester = self.requester()
        try:
            with bundles.in_transaction(requester.ctx):
                result = run(requester)
        except FhirError as exc:
            bundles.audit_failure(requester.ctx, interaction, resource_type, exc)
            raise
        return self.written(requester, result)

    def written(self, requester: bundles.Requester, result: bundles.Result) -> HttpResponse:
        prefer = _prefer_return(self.request)
        if result.status == 204 or prefer == "minimal" or result.body is None:
            response = HttpResponse(status=result.status)
        elif prefer == "OperationOutcome":
            what = f"{result.resource_type}/{result.row_id}: {result.what}"
            response = _json(
                operation_outcome([{"severity": "information", "code": "informational", "diagnostics": what}]),
                result.status,
            )
        else:
            response = _json(result.body, result.status)
        if result.version:
            response["ETag"] = result.etag
            response["Location"] = result.location(requester.base_url)
        if result.last_modified:
            response["Last-Modified"] = result.last_modified
        return response


class CreateMixin(WriteMixin):
    def post(self, request: Request, resource_type: str) -> HttpResponse:
        """Create, or with `If-None-Exist` create only when nothing matches."""
        self.requester()  # 401 before 415
        body = self.body()
        condition = request.META.get("HTTP_IF_NONE_EXIST")
        return self.write(
            "create",
            resource_type,
            lambda who: bundles.create(who, resource_type, body, if_none_exist=condition),
        )


class InstanceWriteMixin(WriteMixin):
    def put(
        self, request: Request, resource_type: str, resource_id: str, version_id: str | None = None
    ) -> HttpResponse:
        if version_id is not None:
            raise FhirError(405, "METHOD_NOT_ALLOWED", "a version cannot be written: PUT the resource itself")
        self.requester()
        body = self.body()
        if_match = request.META.get("HTTP_IF_MATCH")
        return self.write(
            "update",
            resource_type,
            lambda who: bundles.update(who, resource_type, resource_id, body, if_match=if_match),
        )

    def delete(
        self, request: Request, resource_type: str, resource_id: str, version_id: str | None = None
    ) -> HttpResponse:
        if version_id is not None:
            raise FhirError(405, "METHOD_NOT_ALLOWED", "a version cannot be deleted")
        return self.write("delete", resource_type, lambda who: bundles.delete(who, resource_type, resource_id))


class SystemView(WriteMixin, FhirView):
    """`POST /fhir/r4/` with a Bundle of type transaction (all or nothing) or batch (each entry alone)."""

    def post(self, request: Request) -> HttpResponse:
        requester = self.requester()
        body = self.body()
        kind, entries = bundles.parse_bundle(body)
        minimal = _prefer_return(request) == "minimal"
        if kind == "batch":
            return _json(bundles.batch(requester, entries, minimal=minimal))
        try:
            return _json(bundles.transaction(requester, entries, minimal=minimal))
        except bundles.EntryFailed as failed:
            error = failed.error
            where = f"Bundle.entry[{failed.entry.index}]"
            return _outcome(error.status, error.code, f"{where}: {error.diagnostics}", error.expression or where)

    def get(self, request: Request) -> HttpResponse:
        raise FhirError(404, "NOT_FOUND", "PHB's FHIR API has no system-wide search or history")


# --------------------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------------------


def capability_statement(base_url: str, token_url: str) -> dict[str, Any]:
    """The CapabilityStatement, generated from the registry the views route through."""
    resources = []
    for resource in REGISTRY.values():
        entry: dict[str, Any] = {
            "type": resource.type,
            "documentation": resource.doc,
            "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
            "versioning": "versioned",
            "readHistory": False,
            "searchParam": [
                {
                    "name": name,
                    "type": param.type,
                    "documentation": param.doc
                    + (
                        " (chain: patient.identifier)"
                        if name == "patient" and "patient.identifier" in resource.chains
                        else ""
                    ),
                }
                for name, param in resource.params.items()
            ],
        }
        _write_capabilities(entry, resource)
        if resource.includes:
            entry["searchInclude"] = sorted(resource.includes)
        if resource.revincludes:
            entry["searchRevInclude"] = sorted(resource.revincludes)
        resources.append(entry)
    resources.append(slot.capability_entry())  # computed, not in the registry (slot_views.py)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "publisher": "PHB",
        "kind": "instance",
        "software": {"name": "PHB"},
        "implementation": {"description": "PHB FHIR R4 API", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "application/json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read, vread and search; create (If-None-Exist for a conditional create) and "
                "update (If-Match required) where a type lists them; transaction and batch Bundles at the base. "
                "Paging links carry an opaque cursor; Prefer: handling=strict makes unknown parameters an error.",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer tokens: a user's JWT (/api/v1/auth/token/), or a registered system "
                    "client's token from the OAuth2 client-credentials grant at the token endpoint, with scopes "
                    "system/<Resource|*>.read, .write or .*.",
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [{"url": "token", "valueUri": token_url}],
                        }
                    ],
                },
                "resource": resources,
                "interaction": [
                    {"code": "transaction", "documentation": f"All or nothing, at most {bundles.MAX_ENTRIES} entries"},
                    {"code": "batch", "documentation": f"Each entry on its own, at most {bundles.MAX_ENTRIES} entries"},
                ],
                "searchParam": [
                    {
                        "name": "_count",
                        "type": "number",
                        "documentation": f"Page size (1-{MAX_COUNT}, default {DEFAULT_COUNT})",
                    },
                    {"name": "_sort", "type": "string", "documentation": "date, -date or _lastUpdated (per type)"},
                    {"name": "_total", "type": "token", "documentation": "accurate (default) | none"},
                    {
                        "name": "_summary",
                        "type": "token",
                        "documentation": "count (the total alone, no entries) | false (the default)",
                    },
                ],
            }
        ],
    }


def _write_capabilities(entry: dict[str, Any], resource: ResourceDef) -> None:
    """create / update / delete and conditional create, for the types that have them."""
    if resource.write is None:
        return
    entry["interaction"].append({"code": "create"})
    if resource.write.update is not None:
        entry["interaction"].append({"code": "update"})
    if resource.write.delete is not None:
        entry["interaction"].append({"code": "delete"})
    entry["updateCreate"] = False  # PHB assigns ids
    entry["conditionalCreate"] = True
    entry["conditionalUpdate"] = False
    entry["conditionalDelete"] = "not-supported"


class MetadataView(FhirView):
    def get(self, request: Request) -> HttpResponse:
        """Open to anyone (it holds no data): clients discover the server and its token endpoint."""
        statement = capability_statement(self.base_url(), request.build_absolute_uri("/oauth/token"))
        return _json(declare_operations(statement))


# --------------------------------------------------------------------------------------------------
# read and vread
# --------------------------------------------------------------------------------------------------


class ReadView(InstanceWriteMixin, FhirView):
    def get(
        self, request: Request, resource_type: str, resource_id: str, version_id: str | None = None
    ) -> HttpResponse:
        resource = self.resource_def(resource_type)
        ctx = self.authorize(resource)
        action = "interop.fhir.vread" if version_id else "interop.fhir.read"
        # The type's own `_id` parameter finds the row (a UUID for most; a drug's code for Medication).
        by_id = resource.params["_id"].build(resource_id, "_id", dt.UTC, ctx)
        # One transaction for the row, its page context and the audit event (committed without waiting
        # for the WAL flush, as every read's audit event is): a read costs one BEGIN and one COMMIT.
        with audit.read_batch(), tenancy.bound(organization_id=ctx.organization_id):
            row = resource.rows(ctx).filter(by_id).first()
            if row is not None:
                body = resource.render(row, _page_context(resource, ctx, [row]))
                audit.record(
                    ctx,
                    action,
                    resource_type=f"fhir.{resource.type}",
                    resource_id=body["id"],
                    patient_id=_patient_of(resource, row),
                    read=True,
                )
        if row is None:
            # SECURITY: another organization's row, or a patient without a care relationship, is not found.
            # Recorded after the read's transaction, on its own.
            raise audit.denied(
                ctx,
                action,
                FhirError(404, "NOT_FOUND", f"{resource.type}/{resource_id[:64]} is not known"),
                resource_type=f"fhir.{resource.type}",
                resource_id=resource_id[:64],
            )
        version = body["meta"]["versionId"]
        if version_id is not None and version_id != version:
            raise FhirError(
                404,
                "VERSION_NOT_FOUND",
                f"PHB keeps only the current version of {resource.type}/{body['id']} ({version})",
            )
        response = _json(body)
        response["ETag"] = f'W/"{version}"'
        if "lastUpdated" in body["meta"]:
            response["Last-Modified"] = body["meta"]["lastUpdated"]
        response["Content-Location"] = f"{self.base_url()}{resource.type}/{body['id']}/_history/{version}"
        return response


# --------------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------------


def _keyset(field: str, descending: bool, value: Any, last_id: str, *, forward: bool, nullable: bool = True) -> Q:
    """Rows after (or, going back, before) the row with sort key (value, last_id), in the order
    `field` (nulls last), then id, each ascending or descending. A field that is never null gets no
    null branches (which would keep the condition out of the index)."""
    beyond = "lt" if descending == forward else "gt"
    if value is None:
        same = Q(**{f"{field}__isnull": True, f"id__{beyond}": last_id})
        return same if forward else same | Q(**{f"{field}__isnull": False})
    condition = Q(**{f"{field}__{beyond}": value}) | Q(**{field: value, f"id__{beyond}": last_id})
    if forward and nullable:
        condition |= Q(**{f"{field}__isnull": True})
    return condition


def _ordering(field: str, descending: bool, *, reverse: bool = False, nullable: bool = True) -> list[Any]:
    """`field` then id. Nulls go last (first when paging back); a field that is never null is ordered
    plainly, so that an index on it (read backwards for a descending sort) gives the order and a
    `LIMIT` reads one page of rows, not every match."""
    desc = descending != reverse
    if not nullable:
        return [F(field).desc() if desc else F(field).asc(), "-id" if desc else "id"]
    nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
    key = F(field).desc(**nulls) if desc else F(field).asc(**nulls)
    return [key, "-id" if desc else "id"]


class SearchView(CreateMixin, FhirView):
    def get(self, request: Request, resource_type: str) -> HttpResponse:
        resource = self.resource_def(resource_type)
        ctx = self.authorize(resource)
        strict = "handling=strict" in request.META.get("HTTP_PREFER", "").replace(" ", "")
        cursor = request.query_params.get("_cursor")
        if cursor:
            state = cursor_decode(cursor, ctx, resource.type)
        else:
            params = [(k, v) for k in request.query_params for v in request.query_params.getlist(k) if k != "_cursor"]
            state = SearchState(resource.type, params, "", 0, "")
        warnings: list[dict[str, Any]] = []
        rows, names, options = self._filtered(resource, ctx, state, warnings, strict)
        if options["summary"] == "count":
            return self._count_only(resource, ctx, state, rows, names, warnings)
        state.sort, state.count, state.total = options["sort"], options["count"], options["total"]
        sort_name = state.sort.lstrip("-")
        descending = state.sort.startswith("-")
        field = resource.sorts[sort_name]
        # A sort key may be an annotation of the type's rows (a date of the row's parent).
        annotation = rows.query.annotations.get(field)
        model_field = annotation.output_field if annotation is not None else rows.model._meta.get_field(field)
        nullable = annotation is not None or model_field.null  # an annotation may be null whatever its type
        page_rows = rows
        backward = "before" in state.position
        if state.position:
            value, last_id = state.position.get("after") or state.position["before"]
            value = model_field.to_python(value) if value is not None else None
            page_rows = page_rows.filter(
                _keyset(field, descending, value, last_id, forward=not backward, nullable=nullable)
            )
        # SECURITY: Patient is global; its visibility is a subquery of this organization's registrations,
        # which row-level security shows only to a session bound to the organization.
        with tenancy.bound(organization_id=ctx.organization_id):
            total = rows.count() if state.total != "none" else None
            page = list(
                page_rows.order_by(*_ordering(field, descending, reverse=backward, nullable=nullable))[
                    : state.count + 1
                ]
            )
        more = len(page) > state.count
        page = page[: state.count]
        if backward:
            page.reverse()
        has_next = more if not backward else True
        has_previous = bool(state.position) and (more if backward else True)

        context = _page_context(resource, ctx, page)
        entries = [self._entry(resource.type, resource.render(r, context), "match") for r in page]
        included, audited = self._includes(resource, ctx, page, options, entries, warnings, strict)
        patients = {p for p in (_patient_of(resource, r) for r in page) if p} | audited
        self._audit(ctx, resource, names, len(page), patients)

        links = [
            {"relation": "self", "url": self._link(resource.type, state, ctx, None if not cursor else state.position)}
        ]
        if page and has_next:
            last = page[-1]
            links.append(
                {"relation": "next", "url": self._link(resource.type, state, ctx, {"after": self._key(last, field)})}
            )
        if page and has_previous:
            first = page[0]
            links.append(
                {
                    "relation": "previous",
                    "url": self._link(resource.type, state, ctx, {"before": self._key(first, field)}),
                }
            )
        return _json(searchset(entries + included, total=total, links=links, warnings=warnings))

    def _count_only(
        self,
        resource: ResourceDef,
        ctx: Ctx,
        state: SearchState,
        rows: QuerySet[Any],
        names: list[str],
        warnings: list[dict[str, Any]],
    ) -> HttpResponse:
        """`_summary=count`: a searchset Bundle with the total and no entries (a population count by
        code, status, date, ... without reading a row). Audited as a search that showed no patient."""
        with tenancy.bound(organization_id=ctx.organization_id):
            total = rows.count()
        self._audit(ctx, resource, names, 0, set(), total=total)
        links = [{"relation": "self", "url": self._link(resource.type, state, ctx, None)}]
        return _json(searchset(None, total=total, links=links, warnings=warnings))

    # -- steps ---------------------------------------------------------------------------------------
    def _filtered(
        self, resource: ResourceDef, ctx: Ctx, state: SearchState, warnings: list[dict[str, Any]], strict: bool
    ) -> tuple[QuerySet[Any], list[str], dict[str, Any]]:
        rows = resource.rows(ctx)
        zone = timezone.get_current_timezone()
        names: list[str] = []
        options: dict[str, Any] = {
            "count": DEFAULT_COUNT,
            "sort": resource.default_sort,
            "total": "accurate",
            "summary": "false",
            "include": [],
            "revinclude": [],
        }
        for name, value in state.params:
            if name == "_count":
                if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
                    raise bad(f"_count: a whole number from 1 to {MAX_COUNT}", "_count")
                options["count"] = int(value)
            elif name == "_sort":
                if value.lstrip("-") not in resource.sorts:
                    raise bad(f"_sort: one of {', '.join(sorted(resource.sorts))} (with - for descending)", "_sort")
                options["sort"] = value
            elif name == "_total":
                if value not in TOTAL_MODES:
                    raise bad("_total: accurate or none", "_total")
                options["total"] = "none" if value == "none" else "accurate"
            elif name == "_summary":
                if value not in SUMMARY_MODES:
                    raise bad("_summary: count (the total alone) or false", "_summary")
                options["summary"] = value
            elif name in ("_include", "_revinclude"):
                table = resource.includes if name == "_include" else resource.revincludes
                if value in table:
                    options[name[1:]].append(value)
                else:
                    self._unknown(f"{name}={value[:60]}", warnings, strict)
            elif name == "_format":
                continue
            elif name == "patient.identifier" and name in resource.chains:
                rows = rows.filter(chained_patient_identifier(value, ctx))
                names.append(name)
            elif name in resource.params:
                rows = rows.filter(alternatives(resource.params[name], value, name, zone, ctx))
                names.append(name)
            else:
                self._unknown(name[:60], warnings, strict)
        return rows, names, options

    @staticmethod
    def _unknown(name: str, warnings: list[dict[str, Any]], strict: bool) -> None:
        diagnostics = f"unknown or unsupported search parameter {name!r} (ignored)"
        if strict:
            raise FhirError(400, "UNKNOWN_PARAMETER", diagnostics.replace(" (ignored)", ""), expression=name)
        warnings.append(issue("UNKNOWN_PARAMETER", diagnostics, severity="warning", expression=name))

    def _includes(
        self,
        resource: ResourceDef,
        ctx: Ctx,
        page: list[Any],
        options: dict[str, Any],
        entries: list[dict[str, Any]],
        warnings: list[dict[str, Any]],
        strict: bool,
    ) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
        out: list[dict[str, Any]] = []
        patients: set[uuid.UUID] = set()
        if not page:
            return out, patients
        for kind in ("include", "revinclude"):
            for name in options[kind]:
                link = (resource.includes if kind == "include" else resource.revincludes)[name]
                target = REGISTRY[link.target]
                try:
                    target_ctx = self.authorize(target)
                except FhirError as exc:
                    if strict:
                        raise
                    warnings.append(issue(exc.code, f"_{kind}={name} left out: {exc.diagnostics}", severity="warning"))
                    continue
                ids = {getattr(r, link.source_field) for r in page}
                with tenancy.bound(organization_id=ctx.organization_id):
                    rows = list(target.rows(target_ctx).filter(**{f"{link.target_field}__in": ids})[:MAX_REVINCLUDE])
                context = _page_context(target, target_ctx, rows)
                out += [self._entry(target.type, target.render(r, context), "include") for r in rows]
                patients |= {p for p in (_patient_of(target, r) for r in rows) if p}
        return out, patients

    def _entry(self, resource_type: str, body: dict[str, Any], mode: str) -> dict[str, Any]:
        return {"fullUrl": f"{self.base_url()}{resource_type}/{body['id']}", "resource": body, "search": {"mode": mode}}

    @staticmethod
    def _key(row: Any, field: str) -> list[Any]:
        value = getattr(row, field)
        return [value.isoformat() if isinstance(value, dt.date) else value, str(row.id)]

    def _link(self, resource_type: str, state: SearchState, ctx: Ctx, position: dict[str, Any] | None) -> str:
        """The self link of a first page is the client's own query; every other link is one opaque cursor."""
        url = f"{self.base_url()}{resource_type}"
        if position is None:
            query = urlencode(state.params)
            return f"{url}?{query}" if query else url
        continued = SearchState(state.resource_type, state.params, state.sort, state.count, state.total, position)
        return f"{url}?{urlencode({'_cursor': cursor_encode(continued, ctx)})}"

    @staticmethod
    def _audit(
        ctx: Ctx,
        resource: ResourceDef,
        names: list[str],
        results: int,
        patients: set[uuid.UUID],
        *,
        total: int | None = None,
    ) -> None:
        """One event per patient shown (match or include), naming the patient; one without patient when
        none is. The parameters are named, never their values; a count-only search notes its total."""
        extra = {"summary": "count", "total": total} if total is not None else {}
        with audit.read_batch():
            for patient_id in sorted(patients) or [None]:
                audit.record(
                    ctx,
                    "interop.fhir.search",
                    resource_type=f"fhir.{resource.type}",
                    patient_id=patient_id,
                    read=True,
                    criteria=sorted(set(names)),
                    results=results,
                    **extra,
                )


class NotFoundView(FhirView):
    """Anything else under /fhir/r4/ (history, operations, a malformed path): an OperationOutcome."""

    def get(self, request: Request, rest: str = "") -> HttpResponse:
        raise FhirError(404, "NOT_FOUND", "PHB's FHIR API serves metadata, read, vread and search")

    post = put = patch = delete = get


__all__ = ["MetadataView", "NotFoundView", "ReadView", "SearchView", "SystemView", "capability_statement"]
