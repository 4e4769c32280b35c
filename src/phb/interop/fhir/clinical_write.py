"""What the clinical types' writes share: reading the elements PHB needs from a resource (a missing or
invalid one is a 400 INVALID_RESOURCE naming its FHIRPath), and the domain services' refusals as
OperationOutcomes (a field of the service named by the element it came from).

Strict on what PHB stores, lenient on what it ignores: text, meta, extensions, identifiers and the
elements each mapper's docstring lists are left aside without an error."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from phb.interop.fhir.common import invalid
from phb.interop.fhir.outcome import FhirError
from phb.kernel.errors import Conflict, Forbidden, NotFound, ProblemError, ValidationFailed

_DATE = re.compile(r"([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?")
_DATETIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
    r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)


def resource_of(resource: Any, resource_type: str) -> Mapping[str, Any]:
    if not isinstance(resource, Mapping) or resource.get("resourceType") != resource_type:
        raise invalid(resource_type, f"expected a {resource_type} resource")
    return resource


def date_of(text: Any, expression: str) -> dt.date:
    """The date a FHIR date or dateTime names (as written: the sender's calendar day)."""
    if isinstance(text, str) and (_DATETIME.fullmatch(text) or (len(text) == 10 and _DATE.fullmatch(text))):
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise invalid(expression, "a full date, e.g. 2024-05-01 (or a dateTime)")


def codings(concept: Any, expression: str) -> list[Mapping[str, Any]]:
    if concept is None:
        return []
    if not isinstance(concept, Mapping):
        raise invalid(expression, "a CodeableConcept")
    found = concept.get("coding") or []
    if not isinstance(found, list) or not all(isinstance(c, Mapping) for c in found):
        raise invalid(f"{expression}.coding", "a list of codings")
    return found


def code_of(concept: Any, expression: str, system: str) -> str | None:
    """The code of `concept`'s coding of `system` (None when it has none)."""
    for item in codings(concept, expression):
        if item.get("system") == system and isinstance(item.get("code"), str):
            return str(item["code"])
    return None


def text_of(concept: Any) -> str:
    return str(concept.get("text") or "").strip() if isinstance(concept, Mapping) else ""


def one(value: Any, expression: str) -> Any:
    """The single element of a list PHB stores one of (an empty list is None)."""
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise invalid(expression, "a list")
    if len(value) > 1:
        raise invalid(expression, "PHB stores one of these: send one")
    return value[0]


def choice(value: Any, expression: str, allowed: Mapping[str, Any] | tuple[str, ...], what: str) -> Any:
    if value not in allowed:
        raise invalid(expression, f"{what}: one of {', '.join(allowed)}")
    return allowed[value] if isinstance(allowed, Mapping) else value


@contextmanager
def service_errors(resource_type: str, fields: Mapping[str, str]) -> Iterator[None]:
    """A domain service's refusal as an OperationOutcome: ValidationFailed -> 400 INVALID_RESOURCE
    (expression: the element the first bad field came from, via `fields`), NotFound -> 404 (another
    organization's patient and no care relationship look alike), Forbidden -> 403, Conflict -> 409
    with the service's stable code."""
    try:
        yield
    except ValidationFailed as exc:
        errors = exc.extra.get("errors") or []
        first = errors[0] if errors else {}
        field = str(first.get("field") or "")
        path = fields.get(field) or fields.get(field.split(".")[0].split("[")[0]) or resource_type
        message = str(first.get("message") or exc.detail)
        raise invalid(path, message) from None
    except NotFound as exc:
        raise FhirError(404, "NOT_FOUND", exc.detail) from None
    except Forbidden as exc:
        raise FhirError(403, "FORBIDDEN", exc.detail) from None
    except Conflict as exc:
        raise FhirError(409, exc.code, exc.detail) from None
    except ProblemError as exc:
        raise FhirError(exc.status, exc.code, exc.detail) from None


def with_errors(resource_type: str, fields: Mapping[str, str], call: Callable[[], Any]) -> Any:
    with service_errors(resource_type, fields):
        return call()


def same_or_refuse(current: Any, sent: Any, expression: str, what: str) -> None:
    """An element PHB never changes must be sent as it is."""
    if current != sent:
        raise FhirError(422, "BUSINESS_RULE", f"{what} does not change: record a new resource", expression=expression)
