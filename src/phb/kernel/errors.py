"""Errors as RFC 9457 problem details with a stable `code`, raised by services and rendered by the edge.

A service raises `NotFound`, `Conflict`, ... ; the API turns it into `application/problem+json`, the web
into an error page or a form error. Clients branch on `code`, never on the human-readable `title`.
"""

from __future__ import annotations

from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemError(Exception):
    status: int = 500
    code: str = "INTERNAL_ERROR"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.detail)

    def as_problem(self, *, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.code, self.title, self.detail, instance=instance, **self.extra)


class ValidationFailed(ProblemError):
    status, code, title = 400, "VALIDATION_ERROR", "Invalid input"

    @classmethod
    def field(cls, field: str, message: str, *, code: str = "invalid") -> ValidationFailed:
        """One bad field: `raise ValidationFailed.field("birth_date", "the date of birth is in the future")`."""
        return cls(message, errors=[{"field": field, "message": message, "code": code}])


class Unauthorized(ProblemError):
    status, code, title = 401, "UNAUTHORIZED", "Authentication required"


class Forbidden(ProblemError):
    status, code, title = 403, "FORBIDDEN", "Not allowed"


class NotFound(ProblemError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "CONFLICT", "Conflict with the current state"


class Gone(ProblemError):
    status, code, title = 410, "GONE", "No longer available"


class RateLimitExceeded(ProblemError):
    status, code, title = 429, "RATE_LIMIT_EXCEEDED", "Too many requests"


CODE_FOR_STATUS = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    410: "GONE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
TITLE_FOR_STATUS = {
    400: "Invalid input",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict with the current state",
    410: "No longer available",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    *,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An RFC 9457 problem document. `type` is a stable URN per code."""
    code = code or CODE_FOR_STATUS.get(status, "ERROR")
    body: dict[str, Any] = {
        "type": f"urn:phb:problem:{code.lower().replace('_', '-')}",
        "title": title or TITLE_FOR_STATUS.get(status, "Error"),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body
