"""OperationOutcome: every error of the FHIR API, and the warnings of a lenient search.

Each issue carries PHB's stable error code in `details.coding` (system `ERRORS_SYSTEM`), the code a
client branches on; the HTTP status says the rest."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import ERRORS_SYSTEM

# PHB code -> FHIR issue type (http://hl7.org/fhir/issue-type)
ISSUE_TYPE = {
    "VALIDATION_ERROR": "invalid",
    "UNKNOWN_PARAMETER": "not-supported",
    "UNKNOWN_RESOURCE_TYPE": "not-supported",
    "NOT_FOUND": "not-found",
    "VERSION_NOT_FOUND": "not-found",
    "UNAUTHORIZED": "login",
    "FORBIDDEN": "forbidden",
    "INSUFFICIENT_SCOPE": "forbidden",
    "METHOD_NOT_ALLOWED": "not-supported",
    "NOT_ACCEPTABLE": "not-supported",
    "RATE_LIMIT_EXCEEDED": "throttled",
    "INTERNAL_ERROR": "exception",
    "INVALID_RESOURCE": "invalid",
    "INVALID_REFERENCE": "invalid",
    "INVALID_BUNDLE": "invalid",
    "UNSUPPORTED_MEDIA_TYPE": "not-supported",
    "PAYLOAD_TOO_LARGE": "too-costly",
    "CONFLICT": "conflict",
    "VERSION_CONFLICT": "conflict",
    "PRECONDITION_REQUIRED": "required",
    "MULTIPLE_MATCHES": "multiple-matches",
    "POSSIBLE_DUPLICATE": "duplicate",
    "BUSINESS_RULE": "business-rule",
    "DELETE_NOT_ALLOWED": "not-supported",
    "SLOT_SCHEDULE_REQUIRED": "required",
    "SLOT_RANGE_REQUIRED": "required",
    "SLOT_RANGE_TOO_LONG": "too-costly",
}


class FhirError(Exception):
    """An error the FHIR API answers with an OperationOutcome and `status`."""

    def __init__(self, status: int, code: str, diagnostics: str, *, expression: str | None = None) -> None:
        self.status, self.code, self.diagnostics, self.expression = status, code, diagnostics, expression
        super().__init__(diagnostics)


def issue(code: str, diagnostics: str, *, severity: str = "error", expression: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": severity,
        "code": ISSUE_TYPE.get(code, "processing"),
        "details": {"coding": [{"system": ERRORS_SYSTEM, "code": code}], "text": diagnostics},
        "diagnostics": diagnostics,
    }
    if expression:
        out["expression"] = [expression]
    return out


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}
