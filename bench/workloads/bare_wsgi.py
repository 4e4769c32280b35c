"""The bare reference application of the FHIR read workload: a WSGI callable, no framework, that runs the
same row fetch PHB's `GET /fhir/r4/<Type>/<id>` runs (the SQL the ORM emits for it, handed over in
BENCH_BARE_QUERIES) through psycopg and answers the row as a JSON body. No authentication, no audit, no
mapping: what is left of a FHIR read once everything PHB adds is taken away.

BENCH_BARE_QUERIES is JSON: {"dsn": ..., "queries": {"Patient": [sql, params], ...}}, where the one null
among `params` stands for the id in the path. One connection per server thread, kept open.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import threading
import uuid
from typing import Any

import psycopg

_CONFIG = json.loads(os.environ.get("BENCH_BARE_QUERIES", '{"dsn": "", "queries": {}}'))
_local = threading.local()


def _connection() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(_CONFIG["dsn"], autocommit=True)
    return conn


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal | bytes | memoryview):
        return str(value)
    raise TypeError(type(value).__name__)


def _answer(start_response: Any, status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "application/fhir+json; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    if parts == ["health"]:
        return _answer(start_response, "200 OK", b"{}")
    if len(parts) != 4 or parts[:2] != ["fhir", "r4"] or parts[2] not in _CONFIG["queries"]:
        return _answer(start_response, "404 Not Found", b"{}")
    resource_type, resource_id = parts[2], parts[3]
    sql, params = _CONFIG["queries"][resource_type]
    with _connection().cursor() as cursor:
        cursor.execute(sql, [resource_id if p is None else p for p in params])
        row = cursor.fetchone()
        if row is None:
            return _answer(start_response, "404 Not Found", b"{}")
        body = {"resourceType": resource_type, **{c.name: v for c, v in zip(cursor.description, row, strict=True)}}
    body["id"] = resource_id
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_default)
    return _answer(start_response, "200 OK", text.encode())
