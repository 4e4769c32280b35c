"""`Patient/{id}/$everything`: the patient and every resource about them the requester may read.

The types come from the registry: every type whose rows name a patient (`ResourceDef.patient_field`),
so a type added to the registry joins without an edit here. Each type keeps its own visibility (its
`rows(ctx)`) and authorization (scopes, roles): a type the requester may not read is left out, with a
warning in an OperationOutcome entry of the Bundle. The Bundle is a `searchset` paged in a stable
order (the type's place in the registry, then the row's id); `next` carries an opaque cursor bound to
the requester and the patient, as a search's does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpResponse
from rest_framework.request import Request

from phb.interop.fhir.common import searchset
from phb.interop.fhir.outcome import FhirError, issue
from phb.interop.fhir.registry import PATIENT, REGISTRY, ResourceDef
from phb.interop.fhir.search import SearchState, bad, cursor_decode, cursor_encode, split_or
from phb.interop.fhir.views import DEFAULT_COUNT, MAX_COUNT, FhirView, _json, _page_context
from phb.kernel import audit, tenancy
from phb.kernel.context import Ctx

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
ACTION = "interop.fhir.everything"


# --------------------------------------------------------------------------------------------------
# Parameters shared with $export
# --------------------------------------------------------------------------------------------------


def parse_instant(text: str, name: str = "_since") -> dt.datetime:
    """A FHIR instant (a dateTime to the second with its time zone), or a 400."""
    value = text.strip()
    if not _INSTANT.fullmatch(value):
        raise bad(f"{name}: give an instant, e.g. 2026-01-31T08:00:00Z (seconds and a time zone)", name)
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad(f"{name}: {value[:40]!r} is not a valid instant", name) from exc


def parse_types(values: list[str], allowed: list[str], name: str = "_type") -> list[str]:
    """The types a `_type` parameter (comma lists, possibly repeated) names, in `allowed`'s order; a type
    PHB does not serve here is a 400."""
    wanted: set[str] = set()
    for value in values:
        for item in split_or(value):
            item = item.strip()
            if item not in allowed:
                raise bad(f"{name}: {item[:60]!r} is not a type served here; one of {', '.join(allowed)}", name)
            wanted.add(item)
    return [t for t in allowed if t in wanted] if wanted else list(allowed)


def compartment_types() -> list[str]:
    """Patient first, then every registry type whose rows are about a patient (registry order)."""
    return [PATIENT] + [r.type for r in REGISTRY.values() if r.patient_field and r.type != PATIENT]


def since_filter(rows: QuerySet[Any], since: dt.datetime | None) -> QuerySet[Any]:
    """Rows updated at or after `since` (an immutable row's time is when it happened; a type with
    neither time is not narrowed)."""
    if since is None:
        return rows
    names = {f.name for f in rows.model._meta.get_fields()}
    for name in ("updated_at", "occurred_at"):
        if name in names:
            return rows.filter(**{f"{name}__gte": since})
    return rows


# --------------------------------------------------------------------------------------------------
# The view
# --------------------------------------------------------------------------------------------------


class EverythingView(FhirView):
    def get(self, request: Request, resource_id: str) -> HttpResponse:
        return self._everything(request, resource_id, self._query_params(request))

    def post(self, request: Request, resource_id: str) -> HttpResponse:
        return self._everything(request, resource_id, self._query_params(request) + self._body_params(request))

    # -- parameters ----------------------------------------------------------------------------------
    @staticmethod
    def _query_params(request: Request) -> list[tuple[str, str]]:
        return [(k, v) for k in request.query_params for v in request.query_params.getlist(k)]

    @staticmethod
    def _body_params(request: Request) -> list[tuple[str, str]]:
        """A POST's parameters: a FHIR `Parameters` resource (JSON) or a form-encoded body."""
        raw = request._request.body
        if not raw.strip():
            return []
        content_type = request.META.get("CONTENT_TYPE", "")
        if "json" in content_type:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise bad("the body is not JSON") from exc
            if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
                raise bad("the body must be a Parameters resource")
            out: list[tuple[str, str]] = []
            for parameter in body.get("parameter") or []:
                if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
                    raise bad("each parameter needs a name")
                values = [v for k, v in parameter.items() if k.startswith("value")]
                if len(values) != 1 or not isinstance(values[0], str | int):
                    raise bad(f"parameter {parameter['name'][:40]!r}: give one value", parameter["name"][:40])
                out.append((parameter["name"], str(values[0])))
            return out
        if "x-www-form-urlencoded" in content_type:
            form = request._request.POST
            return [(k, v) for k in form for v in form.getlist(k)]
        raise FhirError(415, "VALIDATION_ERROR", "send a Parameters resource (application/fhir+json) or a form")

    # -- the operation -------------------------------------------------------------------------------
    def _everything(self, request: Request, resource_id: str, params: list[tuple[str, str]]) -> HttpResponse:
        patient_def = REGISTRY[PATIENT]
        ctx = self.authorize(patient_def)
        operation = f"{PATIENT}/{resource_id}/$everything"
        cursor = next((v for k, v in params if k == "_cursor"), None)
        if cursor:
            state = cursor_decode(cursor, ctx, operation)
        else:
            state = SearchState(operation, [(k, v) for k, v in params if k != "_cursor"], "", DEFAULT_COUNT, "")
        since, types, count = self._options(state)
        state.count = count

        try:
            parsed = uuid.UUID(resource_id)
        except ValueError:
            parsed = None
        with tenancy.bound(organization_id=ctx.organization_id):
            patient = patient_def.rows(ctx).filter(id=parsed).first() if parsed else None
        if patient is None:
            # SECURITY: another organization's patient, or one without a care relationship, is not found.
            raise audit.denied(
                ctx,
                ACTION,
                FhirError(404, "NOT_FOUND", f"Patient/{resource_id[:64]} is not known"),
                resource_type="fhir.Patient",
                resource_id=resource_id[:64],
            )

        warnings: list[dict[str, Any]] = []
        readable: list[tuple[ResourceDef, Ctx]] = []
        for resource_type in types:
            resource = REGISTRY[resource_type]
            try:
                readable.append((resource, self.authorize(resource)))
            except FhirError as exc:
                warnings.append(issue(exc.code, f"{resource_type} left out: {exc.diagnostics}", severity="warning"))

        with tenancy.bound(organization_id=ctx.organization_id):
            querysets = [(r, c, self._rows(r, c, patient.id, since)) for r, c in readable]
            total = sum(rows.count() for _r, _c, rows in querysets)
            page, more = self._page(querysets, state.position.get("after"), count)

        entries: list[dict[str, Any]] = []
        for resource, type_ctx, rows in page:
            context = _page_context(resource, type_ctx, rows)
            entries += [self._entry(resource.type, resource.render(row, context)) for row in rows]
        audit.record(
            ctx,
            ACTION,
            resource_type="fhir.Patient",
            resource_id=patient.id,
            patient_id=patient.id,
            read=True,
            types=[r.type for r, _c in readable],
            results=len(entries),
        )

        links = [{"relation": "self", "url": self._link(operation, state, ctx, state.position or None)}]
        if more:
            last_def, _c, last_rows = page[-1]
            position = {"after": [last_def.type, str(last_rows[-1].id)]}
            links.append({"relation": "next", "url": self._link(operation, state, ctx, position)})
        return _json(searchset(entries, total=total, links=links, warnings=warnings))

    def _options(self, state: SearchState) -> tuple[dt.datetime | None, list[str], int]:
        since: dt.datetime | None = None
        type_values: list[str] = []
        count = DEFAULT_COUNT
        for name, value in state.params:
            if name == "_since":
                since = parse_instant(value)
            elif name == "_type":
                type_values.append(value)
            elif name == "_count":
                if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
                    raise bad(f"_count: a whole number from 1 to {MAX_COUNT}", "_count")
                count = int(value)
            elif name == "_format":
                continue
            else:
                raise bad(f"{name[:60]!r} is not a parameter of $everything (_since, _type, _count)", name[:60])
        return since, parse_types(type_values, compartment_types()), count

    @staticmethod
    def _rows(resource: ResourceDef, ctx: Ctx, patient_id: uuid.UUID, since: dt.datetime | None) -> QuerySet[Any]:
        rows = resource.rows(ctx).filter(**{resource.patient_field or "id": patient_id})
        return since_filter(rows, since)

    @staticmethod
    def _page(
        querysets: list[tuple[ResourceDef, Ctx, QuerySet[Any]]], after: list[str] | None, count: int
    ) -> tuple[list[tuple[ResourceDef, Ctx, list[Any]]], bool]:
        """Up to `count` rows following `after` ([type, id]) in (registry order, id) order, and whether
        more follow."""
        order = [r.type for r, _c, _q in querysets]
        start_type, last_id = (after[0], after[1]) if after else (None, None)
        start = order.index(start_type) if start_type in order else 0
        page: list[tuple[ResourceDef, Ctx, list[Any]]] = []
        room = count
        for index, (resource, ctx, rows) in enumerate(querysets):
            if index < start:
                continue
            if index == start and last_id:
                rows = rows.filter(id__gt=last_id)
            found = list(rows.order_by("id")[: room + 1])
            if len(found) > room:
                if room:
                    page.append((resource, ctx, found[:room]))
                return page, True
            if found:
                page.append((resource, ctx, found))
            room -= len(found)
        return page, False

    def _entry(self, resource_type: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "fullUrl": f"{self.base_url()}{resource_type}/{body['id']}",
            "resource": body,
            "search": {"mode": "match"},
        }

    def _link(self, operation: str, state: SearchState, ctx: Ctx, position: dict[str, Any] | None) -> str:
        url = f"{self.base_url()}{operation}"
        if position is None:
            query = urlencode(state.params)
            return f"{url}?{query}" if query else url
        continued = SearchState(state.resource_type, state.params, "", state.count, "", position)
        return f"{url}?{urlencode({'_cursor': cursor_encode(continued, ctx)})}"


__all__ = ["EverythingView", "compartment_types", "parse_instant", "parse_types", "since_filter"]
