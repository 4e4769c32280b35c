"""FHIR search parameter values: dates with prefixes, tokens (system|code), strings, references;
and the opaque paging cursor.

A paging link carries one opaque token: the search (its parameters, sort and position) encrypted with
PHB's field-encryption key and bound to the requester, so no name or identifier a client searched for
ever appears in a link PHB writes (or in access logs of its paging requests).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from phb.interop.fhir.outcome import FhirError
from phb.kernel import crypto
from phb.kernel.context import Ctx

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
SUPPORTED_PREFIXES = ("eq", "gt", "lt", "ge", "le")
_DATE = re.compile(
    r"^(?P<prefix>[a-z]{2})?(?P<value>\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?)$"
)
CURSOR_CONTEXT = "phb.fhir.cursor"
CURSOR_LIFETIME = dt.timedelta(hours=1)


def bad(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(400, "VALIDATION_ERROR", diagnostics, expression=expression)


# --------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------


def date_range(text: str, name: str, zone: dt.tzinfo) -> tuple[str, dt.datetime, dt.datetime]:
    """(prefix, start, end) of a date search value: the instant range [start, end) its precision
    covers (a day in `zone` when no time is given). Raises a 400 for anything else."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise bad(f"{name}: {text[:40]!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)", name)
    prefix = match["prefix"] or "eq"
    if prefix not in SUPPORTED_PREFIXES:
        raise bad(f"{name}: the prefix {prefix!r} is not supported (use eq, ge, le, gt or lt)", name)
    value = match["value"]
    try:
        if "T" in value:
            instant = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if instant.tzinfo is None:
                instant = instant.replace(tzinfo=zone)
            precision = dt.timedelta(seconds=1) if value.count(":") >= 2 else dt.timedelta(minutes=1)
            return prefix, instant, instant + precision
        parts = [int(p) for p in value.split("-")]
        start_day = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
        if len(parts) == 3:
            end_day = start_day + dt.timedelta(days=1)
        elif len(parts) == 2:
            end_day = (start_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            end_day = start_day.replace(year=start_day.year + 1)
    except ValueError as exc:
        raise bad(f"{name}: {text[:40]!r} is not a valid date", name) from exc
    start = dt.datetime.combine(start_day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(end_day, dt.time(), tzinfo=zone)
    return prefix, start, end


def date_filter(field_name: str, *, is_date: bool = False) -> Callable[[str, str, dt.tzinfo], Q]:
    """A date parameter over a DateTimeField (or a DateField with `is_date`)."""

    def build(text: str, name: str, zone: dt.tzinfo) -> Q:
        prefix, start, end = date_range(text, name, zone)
        low: Any = start.date() if is_date else start
        high: Any = end.date() if is_date else end
        return {
            "eq": Q(**{f"{field_name}__gte": low, f"{field_name}__lt": high}),
            "ge": Q(**{f"{field_name}__gte": low}),
            "gt": Q(**{f"{field_name}__gte": high}),
            "le": Q(**{f"{field_name}__lt": high}),
            "lt": Q(**{f"{field_name}__lt": low}),
        }[prefix]

    return build


# --------------------------------------------------------------------------------------------------
# Tokens, strings, references
# --------------------------------------------------------------------------------------------------


def token(text: str) -> tuple[str | None, str]:
    """(system, code) of `system|code`, `|code` (system ""), or `code` (system None: any)."""
    if "|" in text:
        system, _, code = text.partition("|")
        return system, code
    return None, text


def reference_id(text: str, resource_type: str, name: str) -> uuid.UUID:
    """The id of `Type/id`, `id` or an absolute URL ending so. Raises a 400 for another type."""
    value = text.strip().rstrip("/")
    parts = value.split("/")
    if len(parts) >= 2:
        if parts[-2] != resource_type:
            raise bad(f"{name}: a reference to {resource_type} is expected, not {parts[-2][:40]!r}", name)
        value = parts[-1]
    try:
        return uuid.UUID(value)
    except ValueError:
        return uuid.UUID(int=0)  # a malformed id matches nothing, as an unknown one


def split_or(text: str) -> list[str]:
    """The comma-separated alternatives of one parameter value (an escaped comma `\\,` stays)."""
    return [part.replace("\\,", ",") for part in re.split(r"(?<!\\),", text) if part != ""]


# --------------------------------------------------------------------------------------------------
# The opaque cursor
# --------------------------------------------------------------------------------------------------


@dataclass
class SearchState:
    """Everything needed to continue a search: what was asked (parameters), how it is sorted, the page
    size, and the position (the sort key of the last row shown, or of the first for a previous page)."""

    resource_type: str
    params: list[tuple[str, str]]
    sort: str
    count: int
    total: str
    position: dict[str, Any] = field(default_factory=dict)  # {"after": [value, id]} | {"before": [...]}


def cursor_encode(state: SearchState, ctx: Ctx) -> str:
    payload = {
        "t": state.resource_type,
        "p": state.params,
        "s": state.sort,
        "c": state.count,
        "n": state.total,
        "x": state.position,
        "a": str(ctx.actor_id),
        "o": str(ctx.organization_id),
        "e": int((timezone.now() + CURSOR_LIFETIME).timestamp()),
    }
    sealed = crypto.encrypt(json.dumps(payload, separators=(",", ":")), context=CURSOR_CONTEXT)
    return sealed.split(":", 1)[1].replace("+", "-").replace("/", "_").replace("=", "")


def cursor_decode(text: str, ctx: Ctx, resource_type: str) -> SearchState:
    """The search a cursor continues. A cursor of another requester, another type, expired or altered
    is refused (400), never followed."""
    try:
        padded = text.replace("-", "+").replace("_", "/")
        padded += "=" * (-len(padded.rsplit(":", 1)[-1]) % 4)
        payload = json.loads(crypto.decrypt(f"{crypto.PREFIX}:{padded}", context=CURSOR_CONTEXT))
    except (crypto.DecryptionError, crypto.KeyRingError, ValueError) as exc:
        raise bad("_cursor: this paging link is not valid", "_cursor") from exc
    # SECURITY: a link is good only for the requester it was made for, in the same organization.
    if payload.get("a") != str(ctx.actor_id) or payload.get("o") != str(ctx.organization_id):
        raise bad("_cursor: this paging link was made for another requester", "_cursor")
    if payload.get("t") != resource_type:
        raise bad("_cursor: this paging link belongs to another resource type", "_cursor")
    if int(payload.get("e", 0)) < timezone.now().timestamp():
        raise bad("_cursor: this paging link has expired; search again", "_cursor")
    return SearchState(
        resource_type=payload["t"],
        params=[(k, v) for k, v in payload["p"]],
        sort=payload["s"],
        count=int(payload["c"]),
        total=payload["n"],
        position=payload["x"],
    )
