"""Liveness and readiness probes for load balancers and orchestrators. No data, no auth, no audit."""

from __future__ import annotations

import os
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def live(request: HttpRequest) -> JsonResponse:
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = "phb:health:ready"
    value = str(time.time_ns())
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    from celery import current_app

    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        # The embedded (filesystem) transport "connects" even when its folder is gone: check it too.
        if settings.CELERY_BROKER_URL.startswith("filesystem:"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
            if not os.access(folder, os.W_OK):
                raise RuntimeError("broker folder is not writable")


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


@require_GET
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    """Every dependency answers: 200; otherwise 503 naming the ones that failed."""
    results: dict[str, Any] = {}
    failed = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:
            failed.append(name)
            results[name] = {"status": "failed", "error": type(exc).__name__}
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
