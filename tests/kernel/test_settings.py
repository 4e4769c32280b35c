"""Production mode refuses to start with missing secrets or debug on."""

import json
import os
import subprocess
import sys

import pytest

SETUP = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'phb.config.settings'; django.setup()"


def start(tmp_path, code=SETUP, **env):
    drop = {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "PHB_ENV", "PHB_TESTING", "PHB_KEYRING", "PHB_KEYRING_JSON"}
    drop |= {"AUDIT_RETENTION_YEARS", "STATIC_ROOT", "DATABASE_URL", "DATABASE_OWNER_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in drop}
    clean.update(PHB_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "phb.example.org", "DEBUG": "true"}, "DEBUG"),
    ],
)
def test_production_refuses_to_start_without(tmp_path, env, named):
    result = start(tmp_path, PHB_ENV="production", **env)
    assert result.returncode != 0
    assert named in result.stderr


def test_production_refuses_to_start_without_a_key_ring(tmp_path):
    result = start(tmp_path, PHB_ENV="production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="phb.example.org")
    assert result.returncode != 0
    assert "key ring" in result.stderr


def test_production_starts_when_configured(tmp_path):
    from phb.kernel.crypto import KeyRing

    result = start(
        tmp_path,
        PHB_ENV="production",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="phb.example.org",
        PHB_KEYRING_JSON=KeyRing.generate().to_json(),
    )
    assert result.returncode == 0, result.stderr


def test_a_local_run_generates_its_secret_once(tmp_path):
    assert start(tmp_path).returncode == 0
    first = (tmp_path / "secret_key").read_text()
    assert start(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == first
    assert len(first) >= 50


# --- further cases --------------------------------------------------------------------------------------
PRODUCTION = {"PHB_ENV": "production", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "phb.example.org"}


def production_keyring() -> str:
    from phb.kernel.crypto import KeyRing

    return KeyRing.generate().to_json()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),  # set but empty is missing
        ({"SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"DEBUG": "true"}, "DEBUG"),  # debug is refused before anything else is even looked at
        ({"SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "phb.example.org", "DEBUG": "1"}, "DEBUG"),
    ],
)
def test_production_refuses_empty_or_unsafe_values(tmp_path, env, named):
    result = start(tmp_path, PHB_ENV="production", **env)
    assert result.returncode != 0
    assert named in result.stderr
    assert "PHB_ENV=production" in result.stderr


def test_production_never_generates_local_secrets(tmp_path):
    var = tmp_path / "var"
    refused = start(var, PHB_ENV="production", SECRET_KEY="s" * 50)
    assert refused.returncode != 0
    assert "s" * 50 not in refused.stderr  # the refusal does not print the secret it was given
    started = start(
        var,
        **PRODUCTION,
        PHB_KEYRING_JSON=production_keyring(),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://phb@db.example.org/phb",
    )
    assert started.returncode == 0, started.stderr
    assert not var.exists()  # no secret_key, key ring, database or static folder made on a production host


def test_production_settings_are_hardened(tmp_path):
    probe = (
        SETUP
        + "; import json; from django.conf import settings as s; print(json.dumps({"
        + "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'secret': s.SECRET_KEY, 'secure_cookies':"
        + " [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE], 'ssl_redirect': s.SECURE_SSL_REDIRECT,"
        + " 'hsts': s.SECURE_HSTS_SECONDS, 'storage': s.STORAGES['staticfiles']['BACKEND'],"
        + " 'finders': s.WHITENOISE_USE_FINDERS, 'hashers': s.PASSWORD_HASHERS[0]}))"
    )
    result = start(tmp_path, code=probe, **PRODUCTION, PHB_KEYRING_JSON=production_keyring())
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    assert values["hosts"] == ["phb.example.org"]  # no test host slipped in
    assert values["secret"] == "s" * 50
    assert values["secure_cookies"] == [True, True]
    assert values["ssl_redirect"] is True
    assert values["hsts"] >= 31536000
    assert values["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert values["finders"] is False
    assert values["hashers"] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.parametrize(
    ("env", "named"), [({"PHB_ENV": "staging"}, "PHB_ENV"), ({"AUDIT_RETENTION_YEARS": "5"}, "AUDIT_RETENTION_YEARS")]
)
def test_other_unsafe_configurations_refuse_to_start(tmp_path, env, named):
    result = start(tmp_path, **env)
    assert result.returncode != 0
    assert named in result.stderr


APP_URL = "postgres://phb_app:secret@db.internal:5432/phb"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_OWNER_URL": "postgres://phb_owner:secret@db.internal:5432/phb"}, "postgres:// URLs"),
        ({"DATABASE_URL": APP_URL, "DATABASE_OWNER_URL": "postgres://phb_owner:s@db.internal/other"}, "same database"),
        ({"DATABASE_URL": APP_URL, "DATABASE_OWNER_URL": "postgres://phb_app:other@db.internal/phb"}, "another role"),
        (
            {"DATABASE_URL": "postgres://db.internal/phb", "DATABASE_OWNER_URL": "postgres://o:s@db.internal/phb"},
            "name",
        ),
    ],
)
def test_an_owner_url_that_separates_nothing_refuses_to_start(tmp_path, env, named):
    result = start(tmp_path, **env)
    assert result.returncode != 0
    assert "DATABASE_OWNER_URL" in result.stderr
    assert named in result.stderr


def test_the_owner_url_may_reach_the_database_by_another_host(tmp_path):
    code = SETUP + "; from django.conf import settings as s; print(s.DATABASE_OWNER['USER'], s.DATABASE_OWNER['PORT'])"
    owner = "postgres://phb_owner:secret@db-primary.internal:5433/phb"
    result = start(tmp_path, code, DATABASE_URL=APP_URL, DATABASE_OWNER_URL=owner)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["phb_owner", "5433"]
