"""Production mode refuses to start with missing secrets or debug on."""

import os
import subprocess
import sys

import pytest

SETUP = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'phb.config.settings'; django.setup()"


def start(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "PHB_ENV"}}
    clean.update(PHB_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", SETUP], env=clean, capture_output=True, text=True, timeout=60)


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
