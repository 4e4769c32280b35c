"""Bad input anywhere in the API gets a clear 4xx problem, never a 500: every route, several callers,
several kinds of junk."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory, staff_member, verified_client

pytestmark = pytest.mark.django_db
JUNK = [
    None,
    {},
    {"email": "x"},
    {"id": "../../etc"},
    {"code": "' OR 1=1 --", "justified": "maybe"},
    {"patient_id": "not-a-uuid", "reason": ["a", "list"]},
    {"refresh": 12345},
    "[1, 2",
]


def api_paths():
    out = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                path = prefix + str(p.pattern)
                if path.startswith("api/v1/"):
                    out.append("/" + path.replace("<str:", "<").split("<")[0] + ("junk-id/" if "<" in path else ""))

    walk(get_resolver().url_patterns, "")
    return sorted(set(out))


@pytest.fixture
def callers(org_a):
    doctor, _ = staff_member(org_a, "doctor")
    admin, _ = staff_member(org_a, "hospital_admin")
    patient = APIClient()
    patient.force_login(UserFactory())
    return {
        "anonymous": APIClient(),
        "patient": patient,
        "doctor": verified_client(doctor),
        "admin": verified_client(admin),
    }


def test_the_walk_covers_the_api():
    paths = api_paths()
    assert "/api/v1/organizations/" in paths
    assert "/api/v1/auth/token/" in paths
    assert len(paths) >= 15


def test_no_route_answers_junk_with_a_server_error(callers):
    failures = []
    for path in api_paths():
        for name, client in callers.items():
            for body in JUNK:
                for method in ("get", "post", "put", "delete"):
                    if method == "get":
                        response = client.get(path, {"page": "x", "page_size": "-1", "q": str(body)})
                    elif isinstance(body, str):
                        response = getattr(client, method)(path, body, content_type="application/json")
                    else:
                        response = getattr(client, method)(path, body, format="json")
                    if response.status_code >= 500:
                        failures.append((method, path, name, body, response.status_code))
                    elif response.status_code >= 400:
                        assert response["Content-Type"] == "application/problem+json", (method, path, name)
    assert failures == []
