"""Health probes: /health/live says the process answers; /health/ready checks the database, the cache and
the broker, and answers 503 naming whichever is unreachable (real unreachable addresses, no mocks)."""

import pytest
from celery import current_app

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://:hunter2-broker-secret@127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def broker(monkeypatch):
    """Point the Celery app the readiness probe uses at another broker for one test, then put it back."""
    assert current_app.main == "phb"
    # Celery prefers these variables to its configuration: make sure the configuration is what counts.
    for name in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)
    conf = current_app.conf
    saved = {key: conf.get(key) for key in ("broker_url", "broker_transport_options")}

    def reset_pool() -> None:
        if current_app._pool is not None:
            current_app._pool.force_close_all()
            current_app._pool = None

    def point(url: str, **transport_options) -> None:
        reset_pool()
        conf.broker_url = url
        conf.broker_transport_options = transport_options or saved["broker_transport_options"]
        assert current_app.conf.broker_write_url == url

    yield point
    reset_pool()
    for key, value in saved.items():
        conf[key] = value


@pytest.fixture
def unreachable_cache(settings):
    """The default cache pointed at a Redis nobody listens on. Changing CACHES through the `settings`
    fixture makes Django close and forget its cache connections (django.test.signals), both now and
    when the fixture restores the setting after the test."""

    def point() -> None:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://:hunter2-cache-secret@127.0.0.1:1/0",
            }
        }

    return point


def assert_not_cacheable(response):
    cache_control = response["Cache-Control"]
    assert "no-cache" in cache_control
    assert "no-store" in cache_control


def test_live_is_ok_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert_not_cacheable(response)
    assert "Set-Cookie" not in response.headers  # no session for a probe


def test_ready_checks_the_database_the_cache_and_the_broker(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert "failed" not in body
    assert set(body["checks"]) == {"database", "cache", "broker"}
    for name, check in body["checks"].items():
        assert check["status"] == "ok", name
        assert isinstance(check["ms"], int | float)
        assert check["ms"] >= 0
    assert_not_cacheable(response)


def test_ready_is_503_naming_an_unreachable_cache(client, unreachable_cache):
    from django.core.cache import caches

    unreachable_cache()
    assert caches["default"].__class__.__name__ == "RedisCache"  # the probe really talks to the dead Redis
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["cache"]
    assert body["checks"]["cache"]["status"] == "failed"
    assert body["checks"]["cache"]["error"]  # the kind of error, for the operator
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"
    assert_not_cacheable(response)
    assert "hunter2" not in response.content.decode()  # no address or password in a public answer
    assert "127.0.0.1" not in response.content.decode()


def test_ready_is_503_naming_an_unreachable_broker(client, broker):
    broker(UNREACHABLE_REDIS)
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["status"] == "failed"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert "hunter2" not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


def test_ready_names_every_dependency_that_is_down(client, broker, unreachable_cache):
    broker(UNREACHABLE_REDIS)
    unreachable_cache()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache", "broker"]


def test_ready_recovers_when_the_dependency_comes_back(client, broker, settings):
    original_caches = settings.CACHES
    original_broker = current_app.conf.broker_url
    broker(UNREACHABLE_REDIS)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    assert client.get("/health/ready").status_code == 503
    broker(original_broker)
    settings.CACHES = original_caches
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()


def test_the_embedded_broker_is_failed_when_its_folder_is_gone(client, broker, settings, tmp_path):
    # The filesystem transport "connects" whatever its folder; the probe checks the folder itself.
    missing = tmp_path / "no-such-broker-folder"
    options = {"data_folder_in": str(missing), "data_folder_out": str(missing)}
    settings.CELERY_BROKER_URL = "filesystem://localhost/"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    broker("filesystem://localhost/", **options)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]

    missing.mkdir()
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize("url", ["/health/live", "/health/ready"])
def test_probes_answer_only_get_and_other_methods_are_problems(client, url):
    response = client.post(url)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response["Allow"]
