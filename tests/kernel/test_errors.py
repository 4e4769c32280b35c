"""Errors: RFC 9457 problem documents with a stable code for the API, HTML pages for people, and never
a stack trace or the data that caused the error in either."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import Client
from django.urls import path
from rest_framework import exceptions as drf_exceptions
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from phb.config.urls import urlpatterns as project_urlpatterns
from phb.kernel.errors import (
    PROBLEM_CONTENT_TYPE,
    Conflict,
    Forbidden,
    NotFound,
    ProblemError,
    RateLimitExceeded,
    Unauthorized,
    ValidationFailed,
    problem,
)

PATIENT = "Chiamaka Nwosu"
TRACE_MARKERS = ["Traceback", 'File "', "RuntimeError", "raise ", ".py"]


# --- a tiny urlconf: views that fail in each way the edge must translate ------------------------------
class Raises(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    to_raise: Exception = RuntimeError("set by raising()")

    def get(self, request):
        raise self.to_raise

    def post(self, request):
        raise RuntimeError(f"could not file the chart of {request.data.get('name')}")


def raising(exc: Exception):
    return Raises.as_view(to_raise=exc)


def web_crash(request):
    raise RuntimeError(f"the chart of {request.GET.get('name')} is corrupt")


urlpatterns = [
    path("api/v1/test-errors/crash/", raising(RuntimeError(f"secret detail about {PATIENT}"))),
    path("api/v1/test-errors/conflict/", raising(Conflict("that code is taken", existing="hospital-a"))),
    path("api/v1/test-errors/not-found/", raising(Http404("no such patient"))),
    path("api/v1/test-errors/django-forbidden/", raising(PermissionDenied())),
    path(
        "api/v1/test-errors/django-invalid/",
        raising(DjangoValidationError({"birth_date": ["cannot be in the future"]})),
    ),
    path("api/v1/test-errors/throttled/", raising(drf_exceptions.Throttled(wait=41.2))),
    path("api/v1/test-errors/rate-limited/", raising(RateLimitExceeded("slow down", retry_after=90))),
    path("api/v1/test-errors/custom-code/", raising(Forbidden("break the glass first", code="MED_ACCESS_REQUIRED"))),
    path("test-errors/web-crash/", web_crash),
    *project_urlpatterns,
]


@pytest.fixture
def anyone() -> Client:
    return Client(raise_request_exception=False)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:phb:problem:{code.lower().replace('_', '-')}"
    assert body["title"]
    return body


# --- problem() and ProblemError ------------------------------------------------------------------------
def test_problem_has_type_title_status_and_code():
    assert problem(404) == {
        "type": "urn:phb:problem:not-found",
        "title": "Not found",
        "status": 404,
        "code": "NOT_FOUND",
    }


def test_problem_adds_detail_instance_and_extension_members_only_when_given():
    body = problem(
        400,
        detail="The request has invalid fields.",
        instance="/api/v1/organizations/",
        errors=[{"field": "name", "message": "required", "code": "required"}],
    )
    assert body["type"] == "urn:phb:problem:validation-error"
    assert body["code"] == "VALIDATION_ERROR"
    assert body["detail"] == "The request has invalid fields."
    assert body["instance"] == "/api/v1/organizations/"
    assert body["errors"][0]["field"] == "name"
    assert "detail" not in problem(400)
    assert "instance" not in problem(400)


def test_problem_with_an_explicit_code_and_an_unknown_status():
    assert problem(403, "MFA_REQUIRED", "Second factor required")["type"] == "urn:phb:problem:mfa-required"
    teapot = problem(418)
    assert teapot["code"] == "ERROR"
    assert teapot["title"] == "Error"
    assert teapot["status"] == 418
    json.dumps(teapot)  # serialisable as is


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ValidationFailed, 400, "VALIDATION_ERROR"),
        (Unauthorized, 401, "UNAUTHORIZED"),
        (Forbidden, 403, "FORBIDDEN"),
        (NotFound, 404, "NOT_FOUND"),
        (Conflict, 409, "CONFLICT"),
        (RateLimitExceeded, 429, "RATE_LIMIT_EXCEEDED"),
        (ProblemError, 500, "INTERNAL_ERROR"),
    ],
)
def test_each_problem_error_has_its_status_and_code(error, status, code):
    body = error("what happened").as_problem(instance="/x/")
    assert (body["status"], body["code"], body["detail"], body["instance"]) == (status, code, "what happened", "/x/")
    assert error().as_problem()["detail"] == error.title  # the title when no detail is given


def test_a_problem_error_may_carry_its_own_code_and_members_without_changing_its_class():
    body = Forbidden("step up first", code="MED_ACCESS_REQUIRED", step_up_url="/accounts/step-up/").as_problem()
    assert body["code"] == "MED_ACCESS_REQUIRED"
    assert body["status"] == 403
    assert body["step_up_url"] == "/accounts/step-up/"
    assert Forbidden().as_problem()["code"] == "FORBIDDEN"  # the class default is untouched


# --- the API edge --------------------------------------------------------------------------------------
@pytest.mark.urls(__name__)
def test_an_unhandled_exception_in_an_api_view_is_a_500_problem_without_a_trace(anyone):
    response = anyone.post(
        "/api/v1/test-errors/crash/",
        json.dumps({"name": PATIENT}),
        content_type="application/json",
        HTTP_X_REQUEST_ID="crash-0000000001",
    )
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert body["instance"] == "/api/v1/test-errors/crash/"
    text = response.content.decode()
    for marker in [*TRACE_MARKERS, PATIENT, "secret detail"]:
        assert marker not in text
    assert response["X-Request-ID"] == "crash-0000000001"  # what support asks the caller for


@pytest.mark.urls(__name__)
def test_even_in_debug_the_api_never_returns_a_stack_trace(anyone, settings):
    settings.DEBUG = True
    response = anyone.get("/api/v1/test-errors/crash/")
    assert_problem(response, 500, "INTERNAL_ERROR")
    for marker in [*TRACE_MARKERS, PATIENT, "secret detail"]:
        assert marker not in response.content.decode()


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/test-errors/conflict/", 409, "CONFLICT"),
        ("/api/v1/test-errors/not-found/", 404, "NOT_FOUND"),
        ("/api/v1/test-errors/django-forbidden/", 403, "FORBIDDEN"),
        ("/api/v1/test-errors/django-invalid/", 400, "VALIDATION_ERROR"),
        ("/api/v1/test-errors/throttled/", 429, "RATE_LIMIT_EXCEEDED"),
        ("/api/v1/test-errors/rate-limited/", 429, "RATE_LIMIT_EXCEEDED"),
        ("/api/v1/test-errors/custom-code/", 403, "MED_ACCESS_REQUIRED"),
    ],
)
def test_known_errors_become_problems_with_their_status_and_code(anyone, url, status, code):
    body = assert_problem(anyone.get(url), status, code)
    assert body["instance"] == url


@pytest.mark.urls(__name__)
def test_problem_members_and_retry_hints_reach_the_client(anyone):
    conflict = anyone.get("/api/v1/test-errors/conflict/").json()
    assert conflict["detail"] == "that code is taken"
    assert conflict["existing"] == "hospital-a"
    invalid = anyone.get("/api/v1/test-errors/django-invalid/").json()
    assert invalid["errors"] == [{"field": "birth_date", "message": "cannot be in the future", "code": "invalid"}]
    assert anyone.get("/api/v1/test-errors/throttled/")["Retry-After"] == "42"  # 41.2 s, rounded up once
    assert anyone.get("/api/v1/test-errors/rate-limited/")["Retry-After"] == "90"


@pytest.mark.django_db
def test_an_unknown_api_url_is_a_404_problem(anyone):
    body = assert_problem(anyone.get("/api/v1/no-such-resource/"), 404, "NOT_FOUND")
    assert body["instance"] == "/api/v1/no-such-resource/"
    assert_problem(anyone.get("/api/nothing-here"), 404, "NOT_FOUND")


# --- the web edge --------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/no-such-page/", "/nowhere/", "/static-looking/thing.css"])
def test_a_web_404_is_the_html_page_not_json(anyone, url):
    response = anyone.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert '<main id="main"' in html  # the site's own page, with its navigation
    assert "urn:phb:problem" not in html
    assert "Traceback" not in html


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_a_web_crash_is_the_html_500_page_without_a_trace(anyone):
    response = anyone.get("/test-errors/web-crash/", {"name": PATIENT})
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Something went wrong" in html
    for marker in [*TRACE_MARKERS, "Chiamaka", "corrupt"]:
        assert marker not in html
