"""Logs carry the request id on every line and never a patient's name, whatever the request carried.

The handler the tests attach is built like the production one (phb.kernel.logging's formatter and
PrivacyFilter on a StreamHandler), so what is asserted is the text that would reach the log store.
"""

import io
import json
import logging
import re
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from phb.config.urls import urlpatterns as project_urlpatterns
from phb.kernel.logging import PrivacyFilter, formatter

pytestmark = pytest.mark.django_db

PATIENT = "Chiamaka Nwosu"
# Every way the name could appear in a log: as typed, URL-encoded, or either half on its own.
FORBIDDEN = ["Chiamaka", "Nwosu", quote(PATIENT), quote_plus(PATIENT)]
HEX32 = re.compile(r"^[0-9a-f]{32}$")


class ChartFails(APIView):
    """Fails the way real code does: the exception message (and its cause) quote what it was given."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def post(self, request):
        name = request.data.get("name")
        try:
            raise ValueError(f"no chart for {name!r} (query {request.GET.get('name')})")
        except ValueError as exc:
            raise RuntimeError(f"could not file the chart of {name}") from exc


urlpatterns = [path("api/v1/test-chart-fails/", ChartFails.as_view()), *project_urlpatterns]


class LogCapture:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def mark(self) -> int:
        return len(self.text)

    def lines_since(self, mark: int) -> list[str]:
        return [line for line in self.text[mark:].splitlines() if line.strip()]

    def records_since(self, mark: int) -> list[dict]:
        return [json.loads(line) for line in self.lines_since(mark)]


def capture(fmt: str):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(PrivacyFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return LogCapture(stream), lambda: (root.removeHandler(handler), root.setLevel(previous_level))


@pytest.fixture
def logs():
    captured, undo = capture("json")
    yield captured
    undo()


@pytest.fixture
def client_500():
    return Client(raise_request_exception=False)


def send(client, method, url, mark_from: LogCapture, **kwargs):
    """Make one request; return the response and the log records written while it ran."""
    mark = mark_from.mark()
    response = getattr(client, method)(url, **kwargs)
    return response, mark_from.records_since(mark)


def requests_carrying_the_name(operator_client, client_500):
    """(client, method, url, kwargs, expected status) for requests that put the patient's name in the
    query string, the JSON body and an exception message."""
    query = {"name": PATIENT, "q": PATIENT}
    return [
        (operator_client, "get", "/api/v1/organizations/", {"data": query}, 200),
        (client_500, "get", "/api/v1/organizations/", {"data": query}, 401),
        (
            operator_client,
            "post",
            f"/api/v1/organizations/?name={quote(PATIENT)}",
            {"data": {"name": PATIENT, "type": "clinic", "code": "c", "currency": "ngn"}, "format": "json"},
            400,
        ),
        (
            operator_client,
            "post",
            "/api/v1/organizations/",
            {"data": f'{{"name": "{PATIENT}", ', "content_type": "application/json"},  # malformed JSON
            400,
        ),
        (
            client_500,
            "post",
            f"/api/v1/test-chart-fails/?name={quote(PATIENT)}",
            {"data": json.dumps({"name": PATIENT}), "content_type": "application/json"},
            500,
        ),
        (client_500, "get", f"/no-such-page/?name={quote(PATIENT)}", {}, 404),
    ]


@pytest.mark.urls(__name__)
def test_the_name_never_reaches_the_logs_and_every_line_has_the_request_id(logs, operator_client, client_500):
    for client, method, url, kwargs, status in requests_carrying_the_name(operator_client, client_500):
        response, records = send(client, method, url, logs, **kwargs)
        assert response.status_code == status, (url, response.content)
        assert records, f"{method} {url} was logged"
        request_id = response["X-Request-ID"]
        assert HEX32.match(request_id)
        assert {r.get("request_id") for r in records} == {request_id}, (url, records)
        access = [r for r in records if r["event"] == "http.request"]
        assert len(access) == 1
        assert access[0]["status"] == status
        assert "?" not in access[0]["path"]
    text = logs.text
    for forbidden in FORBIDDEN:
        assert forbidden not in text


@pytest.mark.urls(__name__)
def test_a_crash_is_logged_as_its_type_and_frames_without_its_message(logs, client_500):
    response, records = send(
        client_500,
        "post",
        "/api/v1/test-chart-fails/",
        logs,
        data=json.dumps({"name": PATIENT}),
        content_type="application/json",
        HTTP_X_REQUEST_ID="crash-request-0001",
    )
    assert response.status_code == 500
    assert response["X-Request-ID"] == "crash-request-0001"
    errors = [r for r in records if r.get("exception_type")]
    assert len(errors) == 1
    error = errors[0]
    assert error["exception_type"] == "builtins.RuntimeError"
    assert error["level"] == "error"
    assert error["request_id"] == "crash-request-0001"
    assert any("test_logging.py" in frame and "post" in frame for frame in error["stack"])
    assert "exception" not in error  # no rendered traceback, which would quote the message
    for forbidden in FORBIDDEN:
        assert forbidden not in json.dumps(records)


@pytest.mark.urls(__name__)
def test_the_console_format_is_just_as_discreet(client_500):
    logs, undo = capture("console")
    try:
        mark = logs.mark()
        response = client_500.post(
            f"/api/v1/test-chart-fails/?name={quote(PATIENT)}",
            json.dumps({"name": PATIENT}),
            content_type="application/json",
        )
        lines = logs.lines_since(mark)
    finally:
        undo()
    assert response.status_code == 500
    entries = [line for line in lines if re.match(r"^\d{4}-\d\d-\d\dT", line)]  # the rest: stack frames
    assert len(entries) >= 2  # the error and the access line
    assert all(f"request_id={response['X-Request-ID']}" in entry for entry in entries), entries
    assert "builtins.RuntimeError" in "\n".join(lines)
    assert any("test_logging.py" in line and "in post" in line for line in lines)  # the frames are there
    for forbidden in FORBIDDEN:
        assert forbidden not in "\n".join(lines)


def test_a_generated_request_id_is_returned_and_logged(client, logs):
    first, records = send(client, "get", "/health/live", logs)
    second = client.get("/health/live")
    assert HEX32.match(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    access = next(r for r in records if r["event"] == "http.request")
    assert access["request_id"] == first["X-Request-ID"]
    assert access["method"] == "GET"
    assert access["path"] == "/health/live"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], int | float)


@pytest.mark.parametrize(
    "supplied",
    ["req-0123456789", "01a20e29-fa91-7052-b9ca-3949621b439a", "A.b_c-1234", "x" * 64, "abcdefgh"],
)
def test_a_well_formed_caller_request_id_is_kept(client, logs, supplied):
    response, records = send(client, "get", "/health/live", logs, HTTP_X_REQUEST_ID=supplied)
    assert response["X-Request-ID"] == supplied
    assert {r["request_id"] for r in records} == {supplied}


@pytest.mark.parametrize(
    "supplied",
    [
        "has spaces in it",
        "x" * 65,
        "short",
        "",
        "<script>alert(1)</script>",
        "abc/../../def",
        "id-with-ünïcødé",
        '{"level": "critical"}',
        "abcdefgh\n",  # a trailing newline: would split the log line and cannot be sent back as a header
        "abcdefgh\nfake=1",
    ],
)
def test_a_malformed_caller_request_id_is_replaced(client, logs, supplied):
    response, records = send(client, "get", "/health/live", logs, HTTP_X_REQUEST_ID=supplied)
    assert response.status_code == 200
    replaced = response["X-Request-ID"]
    assert HEX32.match(replaced)
    assert {r["request_id"] for r in records} == {replaced}
    if supplied:
        assert supplied not in logs.text


def test_the_request_id_does_not_outlive_its_request(client, logs):
    response = client.get("/health/live")
    mark = logs.mark()
    logging.getLogger("phb.test").warning("written between requests")
    (line,) = logs.records_since(mark)
    assert line["event"] == "written between requests"
    assert "request_id" not in line
    assert response["X-Request-ID"] not in logs.text[mark:]
