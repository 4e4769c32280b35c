"""`GET Slot/<id>` and `GET Slot?schedule=...&start=ge...&start=lt...`: Slots computed on each request
(`slot.py` says what they are). Authorization as for other types: a client within its scopes
(system/Slot.read), a user who may read appointments (desk staff, clinicians). Audited as every read
and search: the Slot's id or the parameters' names, never their values."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone
from rest_framework.request import Request

from phb.accounts.public import scope_types
from phb.interop.fhir import slot
from phb.interop.fhir.common import searchset
from phb.interop.fhir.outcome import FhirError, issue
from phb.interop.fhir.search import (
    SearchState,
    bad,
    cursor_decode,
    cursor_encode,
    date_range,
    reference_id,
    split_or,
    token,
)
from phb.interop.fhir.views import DEFAULT_COUNT, MAX_COUNT, FhirView, _json
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.scheduling import public as scheduling

READ_PERMISSIONS = ("scheduling.appointment.manage", "clinical.record.view")


class SlotView(FhirView):
    def authorize_slots(self) -> Ctx:
        ctx = self.ctx
        if not ctx.is_authenticated:
            raise FhirError(401, "UNAUTHORIZED", "Authentication required (a Bearer token)")
        if ctx.is_client:
            if slot.TYPE not in scope_types(ctx.scopes):
                raise FhirError(403, "INSUFFICIENT_SCOPE", "the token's scopes do not include system/Slot.read")
            return ctx
        if ctx.organization_id is None or not any(ctx.has_perm(p) for p in READ_PERMISSIONS):
            raise FhirError(403, "FORBIDDEN", "reading Slot needs a role that grants it")
        return ctx


class SlotReadView(SlotView):
    def get(self, request: Request, resource_id: str) -> Any:
        ctx = self.authorize_slots()
        key = slot.parse_id(resource_id)
        found = None
        if key is not None:
            for candidate in scheduling.slots_of_schedule(
                ctx=ctx,
                practitioner_id=key.schedule_id,
                range_start=key.start_at,
                range_end=key.start_at + dt.timedelta(minutes=1),
            ):
                if candidate.end_at - candidate.start_at == dt.timedelta(minutes=key.minutes):
                    found = candidate
                    break
        if found is None or key is None:
            # SECURITY: another organization's schedule, a slot gone or never made: all not found.
            raise audit.denied(
                ctx,
                "interop.fhir.read",
                FhirError(404, "NOT_FOUND", f"Slot/{resource_id[:64]} is not known"),
                resource_type="fhir.Slot",
                resource_id=resource_id[:64],
            )
        body = slot.to_fhir(key.schedule_id, found.start_at, found.end_at, found.status)
        audit.record(ctx, "interop.fhir.read", resource_type="fhir.Slot", resource_id=body["id"], read=True)
        return _json(body)


class SlotSearchView(SlotView):
    def get(self, request: Request) -> Any:
        ctx = self.authorize_slots()
        strict = "handling=strict" in request.META.get("HTTP_PREFER", "").replace(" ", "")
        cursor = request.query_params.get("_cursor")
        if cursor:
            state = cursor_decode(cursor, ctx, slot.TYPE)
        else:
            params = [(k, v) for k in request.query_params for v in request.query_params.getlist(k) if k != "_cursor"]
            state = SearchState(slot.TYPE, params, "start", DEFAULT_COUNT, "accurate")
        warnings: list[dict[str, Any]] = []
        schedule_id, low, high, statuses, count, names = self._criteria(state, warnings, strict)
        state.count = count
        computed = (
            scheduling.slots_of_schedule(ctx=ctx, practitioner_id=schedule_id, range_start=low, range_end=high)
            if high > low
            else []  # ge after lt: an empty range
        )
        slots = [s for s in computed if statuses is None or s.status in statuses]
        total = len(slots)
        if state.position:
            after = tuple(state.position["after"])
            slots = [s for s in slots if (int(s.start_at.timestamp()), int(s.end_at.timestamp())) > after]
        page = slots[:count]
        more = len(slots) > count
        base = self.base_url()
        entries = []
        for s in page:
            body = slot.to_fhir(schedule_id, s.start_at, s.end_at, s.status)
            entries.append({"fullUrl": f"{base}Slot/{body['id']}", "resource": body, "search": {"mode": "match"}})
        audit.record(
            ctx,
            "interop.fhir.search",
            resource_type="fhir.Slot",
            read=True,
            criteria=sorted(set(names)),
            results=len(page),
        )
        links = [{"relation": "self", "url": self._link(state, ctx, None if not cursor else state.position)}]
        if page and more:
            last = page[-1]
            position = {"after": [int(last.start_at.timestamp()), int(last.end_at.timestamp())]}
            links.append({"relation": "next", "url": self._link(state, ctx, position)})
        return _json(searchset(entries, total=total, links=links, warnings=warnings))

    def _criteria(
        self, state: SearchState, warnings: list[dict[str, Any]], strict: bool
    ) -> tuple[uuid.UUID, dt.datetime, dt.datetime, set[str] | None, int, list[str]]:
        zone = timezone.get_current_timezone()
        schedule_id: uuid.UUID | None = None
        low: dt.datetime | None = None
        high: dt.datetime | None = None
        statuses: set[str] | None = None
        count = state.count
        names: list[str] = []
        for name, value in state.params:
            if name == "schedule":
                values = split_or(value)
                if len(values) != 1 or schedule_id is not None:
                    raise bad("schedule: one schedule per search (Schedule/<id>)", "schedule")
                schedule_id = reference_id(values[0], "Schedule", "schedule")
                names.append(name)
            elif name == "start":
                for part in split_or(value):
                    prefix, start, end = date_range(part, "start", zone)
                    lower, upper = {
                        "eq": (start, end),
                        "ge": (start, None),
                        "gt": (end, None),
                        "le": (None, end),
                        "lt": (None, start),
                    }[prefix]
                    if lower is not None:
                        low = lower if low is None else max(low, lower)
                    if upper is not None:
                        high = upper if high is None else min(high, upper)
                names.append(name)
            elif name == "status":
                asked = set()
                for part in split_or(value):
                    code = token(part)[1]
                    if code not in slot.STATUSES + slot.UNUSED_STATUSES:
                        known = ", ".join(slot.STATUSES + slot.UNUSED_STATUSES)
                        raise bad(f"status: unknown code {code[:40]!r}; one of {known}", "status")
                    asked.add(code)
                statuses = asked if statuses is None else statuses & asked
                names.append(name)
            elif name == "_count":
                if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
                    raise bad(f"_count: a whole number from 1 to {MAX_COUNT}", "_count")
                count = int(value)
            elif name == "_format":
                continue
            else:
                diagnostics = f"unknown or unsupported search parameter {name[:60]!r} (ignored)"
                if strict:
                    raise FhirError(400, "UNKNOWN_PARAMETER", diagnostics.replace(" (ignored)", ""), expression=name)
                warnings.append(issue("UNKNOWN_PARAMETER", diagnostics, severity="warning", expression=name[:60]))
        if schedule_id is None:
            raise FhirError(
                400,
                "SLOT_SCHEDULE_REQUIRED",
                "Slot search needs a schedule (schedule=Schedule/<id>)",
                expression="schedule",
            )
        if low is None or high is None:
            raise FhirError(
                400,
                "SLOT_RANGE_REQUIRED",
                "Slot search needs a start range: start=ge<date> and start=lt<date> (or start=eq<date>)",
                expression="start",
            )
        if high - low > dt.timedelta(days=scheduling.MAX_RANGE_DAYS):
            raise FhirError(
                400,
                "SLOT_RANGE_TOO_LONG",
                f"ask for slots over at most {scheduling.MAX_RANGE_DAYS} days at a time",
                expression="start",
            )
        return schedule_id, low, high, statuses, count, names

    def _link(self, state: SearchState, ctx: Ctx, position: dict[str, Any] | None) -> str:
        url = f"{self.base_url()}Slot"
        if position is None:
            query = urlencode(state.params)
            return f"{url}?{query}" if query else url
        continued = SearchState(state.resource_type, state.params, state.sort, state.count, state.total, position)
        return f"{url}?{urlencode({'_cursor': cursor_encode(continued, ctx)})}"
