"""Health probes, problem details for unexpected errors, HTML error pages, and logs free of personal data."""

import io
import json
import logging

import pytest
from celery import current_app
from django.core.cache import caches
from django.test import Client
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from phb.kernel.logging import PrivacyFilter, formatter

PATIENT_NAME = "Chiamaka Nwosu"


class Explodes(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def post(self, request):
        raise RuntimeError(f"could not file the chart of {request.data.get('name')}")


urlpatterns = [path("api/v1/explodes/", Explodes.as_view())]


def test_live_answers_without_the_database(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_checks_database_cache_and_broker(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
    }


@pytest.mark.django_db
def test_ready_is_503_naming_an_unreachable_cache(client, settings):
    # Changing the setting makes Django rebuild its cache connections (and again when it is restored).
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    assert caches["default"].__class__.__name__ == "RedisCache"
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]


@pytest.mark.django_db
def test_ready_is_503_naming_an_unreachable_broker(client, monkeypatch):
    # Celery prefers the environment variable to its configuration: point both at a closed port.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    original = current_app.conf.broker_url
    current_app.conf.broker_url = "redis://127.0.0.1:1/0"
    current_app.pool.force_close_all() if current_app._pool else None
    current_app._pool = None
    try:
        response = client.get("/health/ready")
    finally:
        current_app.conf.broker_url = original
        current_app._pool = None
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]


@pytest.mark.urls(__name__)
def test_an_unexpected_error_is_a_500_problem_without_a_trace():
    client = Client(raise_request_exception=False)
    response = client.post("/api/v1/explodes/", {"name": PATIENT_NAME}, content_type="application/json")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR"
    text = response.content.decode()
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert PATIENT_NAME not in text


def test_web_404_is_an_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Page not found" in response.content


@pytest.fixture
def log_output():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    handler.addFilter(PrivacyFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.mark.urls(__name__)
def test_personal_data_in_a_request_never_reaches_the_logs(log_output):
    client = Client(raise_request_exception=False)
    response = client.post(
        f"/api/v1/explodes/?name={PATIENT_NAME}",
        json.dumps({"name": PATIENT_NAME}),
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-0123456789",
    )
    assert response.status_code == 500
    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines, "the request was logged"
    assert PATIENT_NAME not in output
    assert "Chiamaka" not in output
    assert [line for line in lines if line.get("request_id") != "req-0123456789"] == []
    assert response["X-Request-ID"] == "req-0123456789"
    error = next(line for line in lines if line.get("exception_type"))
    assert error["exception_type"] == "builtins.RuntimeError"
    access = next(line for line in lines if line["event"] == "http.request")
    assert access["path"] == "/api/v1/explodes/"
    assert access["status"] == 500


@pytest.mark.parametrize("bad", ["has spaces in it", "x" * 65, "short", "<script>"])
def test_a_malformed_request_id_is_replaced(client, bad):
    response = client.get("/health/live", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32
