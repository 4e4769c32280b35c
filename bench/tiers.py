"""Template databases of the benchmark data tiers (`phb bench-data`), cloned before each write workload.

    python -m bench.tiers --tier S [--patients N] [--rebuild]     # prints the clone's URL and the report

`ensure_template(url, tier)` builds `<db>_tmpl_<tier>` (or `<db>_tmpl_<tier>_<N>` for `--patients N`)
beside the database of BENCH_DATABASE_URL once: created, migrated and filled by `phb bench-data` in a
child process (PHB's settings are read once per process, and the bench's own process points at the bench
database). The template carries a fingerprint in its comment (`COMMENT ON DATABASE`): the generator's
version and source, the tier, the number of patients and the migrations; a template whose fingerprint
differs is dropped and built again. The comment also holds the generation report (seconds, database
size, each table's rows and bytes), which `template_report()` returns for the bench report.

`clone(url, tier)` then makes `<db>_<tier>` a fresh copy (`CREATE DATABASE ... TEMPLATE`, a file copy:
seconds, where generating takes minutes) and returns its URL: a write workload runs on the clone and
leaves the template as it was. The data set is encrypted under the bench's fixed key ring
(`bench.__main__._bench_keyring`), so the process that reads a clone must use the same ring
(`setup_django` sets it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo, sql

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "phb"
MARK = "phb-bench-data"


def _dbname(url: str) -> str:
    name = conninfo.conninfo_to_dict(url).get("dbname")
    if not name:
        raise ValueError("the database URL names no database")
    return str(name)


def _with_db(url: str, name: str) -> str:
    """`url` (postgresql://...) naming the database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _maintenance(url: str) -> psycopg.Connection:
    return psycopg.connect(_with_db(url, "postgres"), autocommit=True, connect_timeout=5)


def template_name(url: str, tier: str, patients: int | None = None) -> str:
    suffix = f"_{patients}" if patients is not None else ""
    return f"{_dbname(url)}_tmpl_{tier.lower()}{suffix}"


def clone_name(url: str, tier: str, patients: int | None = None) -> str:
    suffix = f"_{patients}" if patients is not None else ""
    return f"{_dbname(url)}_{tier.lower()}{suffix}"


def fingerprint(tier: str, patients: int | None = None) -> str:
    """What decides the template's content: the generator (version and source), the tier and size,
    and every migration (a new or changed migration means a new schema)."""
    h = hashlib.sha256(f"{tier.upper()}:{patients}".encode())
    generator = SRC / "demo" / "benchdata.py"
    h.update(generator.read_bytes())
    for path in sorted(SRC.glob("*/migrations/*.py")):
        h.update(str(path.relative_to(SRC)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:32]


def _comment(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
    ).fetchone()
    if row is None:
        return None
    return row[0] or ""


def template_report(url: str, tier: str, patients: int | None = None) -> dict[str, Any] | None:
    """The generation report stored with the template (None when there is no current template)."""
    with _maintenance(url) as conn:
        comment = _comment(conn, template_name(url, tier, patients))
    if not comment or not comment.startswith(f"{MARK} {fingerprint(tier, patients)} "):
        return None
    return json.loads(comment.split(" ", 2)[2])


def ensure_template(
    url: str, tier: str = "S", *, patients: int | None = None, rebuild: bool = False, data_dir: Path | None = None
) -> dict[str, Any]:
    """The template database of `tier` beside `url`'s, built when missing or out of date. Returns its
    generation report."""
    name = template_name(url, tier, patients)
    current = fingerprint(tier, patients)
    with _maintenance(url) as conn:
        comment = _comment(conn, name)
        if comment is not None and comment.startswith(f"{MARK} {current} ") and not rebuild:
            return json.loads(comment.split(" ", 2)[2])
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = _with_db(url, name)
    report = _build(target, tier, patients, data_dir)
    with _maintenance(url) as conn:
        text = f"{MARK} {current} {json.dumps(report, separators=(',', ':'))}"
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(text)))
    return report


def _build(target: str, tier: str, patients: int | None, data_dir: Path | None) -> dict[str, Any]:
    from bench.__main__ import _bench_keyring

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_OWNER_URL"}
    env.update(
        DATABASE_URL=target,
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="phb.config.settings",
        PHB_KEYRING_JSON=_bench_keyring(),
    )
    env.setdefault("LOG_LEVEL", "WARNING")
    manage = [sys.executable, "-m", "phb.manage"]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True, stdout=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [*manage, "bench_data", "--tier", tier, "--report", str(out)]
        if patients is not None:
            command += ["--patients", str(patients)]
        if data_dir is not None:
            command += ["--data", str(data_dir)]
        subprocess.run(command, env=env, check=True, stdout=sys.stderr)
        report = json.loads(out.read_text())
    # As autovacuum leaves a database in service: statistics current, the visibility map set (without it
    # no index-only scan skips the table).
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return report


def clone(
    url: str, tier: str = "S", *, patients: int | None = None, rebuild: bool = False
) -> tuple[str, dict[str, Any]]:
    """A fresh copy of the tier's template (built first when needed): (its URL, the generation report)."""
    report = ensure_template(url, tier, patients=patients, rebuild=rebuild)
    name, template = clone_name(url, tier, patients), template_name(url, tier, patients)
    with _maintenance(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        # A file copy: much faster than the default WAL-logged copy for a large template.
        strategy = sql.SQL(" STRATEGY FILE_COPY") if conn.info.server_version >= 150000 else sql.SQL("")
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(sql.Identifier(name), sql.Identifier(template), strategy)
        )
    return _with_db(url, name), report


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import DEFAULT_URL

    parser = argparse.ArgumentParser(prog="python -m bench.tiers", description=__doc__.splitlines()[0])
    parser.add_argument("--tier", default="S", choices=["S", "M", "s", "m"])
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--rebuild", action="store_true", help="build the template again even when current")
    parser.add_argument("--no-clone", action="store_true", help="only make sure the template is current")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if args.no_clone:
        report = ensure_template(url, args.tier.upper(), patients=args.patients, rebuild=args.rebuild)
        print(json.dumps(report, indent=2))
        return 0
    target, report = clone(url, args.tier.upper(), patients=args.patients, rebuild=args.rebuild)
    print(json.dumps({"database": _dbname(target), "report": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
