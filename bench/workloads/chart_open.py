"""W4: the chart of the heavy patient of tier data (`phb bench-data`: `HEAVY_PATIENT_ID`, 1,000 encounters
and 50,000 observations at tier M; without it, the patient of "bench-a" with the most observations),
opened by clinicians of the department that saw the patient (a care relationship), each signed in with
the second factor passed.

- `w4_chart_open`: server time. The chart page (summary sections, a year of heart rate, the first page of
  the timelines) through Django's test client in process (middleware, session, second factor, care
  relationship, audit, decryption, template): one clinician alone, and 20 clinicians at once (20
  threads, each its own doctor and database connection; one timed operation is the batch of 20 opens),
  against the chart's queries (`chart_summary.SUMMARY_SQL`) run back to back on one psycopg connection.
  Each open's latency is kept: the notes give p50/p95 alone and among 20, and p95 over the raw sum's
  median (issue targets: server p95 <= 150 ms and <= 3 x the raw query sum).
- `w4_chart_browser`: time to usable in a browser. Chromium (Playwright) opens the chart page from a real
  server (gunicorn serving `phb.config.wsgi` on a free loopback port, against the bench database, the
  static files collected as in production), signed in as one of the doctors (the session made server
  side, its cookie given to the browser): from the navigation's start to the first frame in which the
  summary's vital signs section is visible, measured in the page (`performance.now()` polled on animation
  frames). Reference in the same run, interleaved: the same page fetched over HTTP from the same server
  (server time plus the loopback). Target: browser p95 <= 1 s.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.runner import CheckFailed, Timed, Variant, Workload, percentile
from bench.workloads import chart_fixtures, chart_summary, http_load, tier_fixtures

ITERATION_DIVISOR = 30
CLINICIANS = 20
DOCTOR_EMAIL = "bench-chart-open-{i:02d}@{code}.bench.phb.example"
USABLE = '[data-testid="section-vitals"]'
MARKERS = ('data-testid="section-vitals"', 'data-testid="trend"', "chart-summary")
CHROMIUM = os.environ.get("PHB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Polled by the browser on each animation frame: the time since the navigation started, once the
# summary is laid out and visible.
_USABLE_JS = (
    "(sel) => { const e = document.querySelector(sel);"
    " if (!e) return false; const r = e.getBoundingClientRect();"
    " return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden' ? performance.now() : false; }"
)


def heavy_patient(dsn: str, organization_id: uuid.UUID) -> uuid.UUID:
    """The generator's heavy patient when it is there, else the organization's patient with the most
    observations."""
    import psycopg

    try:
        from phb.demo.benchdata import HEAVY_PATIENT_ID
    except ImportError:  # a checkout without the generator: the busiest patient stands in
        HEAVY_PATIENT_ID = None
    with psycopg.connect(dsn) as conn:
        if HEAVY_PATIENT_ID is not None:
            found = conn.execute(
                "SELECT 1 FROM clinical_observation WHERE organization_id = %s AND patient_id = %s LIMIT 1",
                [organization_id, HEAVY_PATIENT_ID],
            ).fetchone()
            if found:
                return HEAVY_PATIENT_ID
        row = conn.execute(
            "SELECT patient_id FROM clinical_observation WHERE organization_id = %s "
            "GROUP BY patient_id ORDER BY count(*) DESC, patient_id LIMIT 1",
            [organization_id],
        ).fetchone()
    if row is None:
        raise tier_fixtures.NotGenerated("bench-a has no observations: fill it with `phb bench-data` first")
    return row[0]


def _care_department(dsn: str, organization_id: uuid.UUID, patient_id: uuid.UUID) -> uuid.UUID:
    """The department of most of the patient's encounters here: its doctors have a care relationship."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT department_id FROM clinical_encounter WHERE organization_id = %s AND patient_id = %s "
            "AND department_id IS NOT NULL GROUP BY department_id ORDER BY count(*) DESC, department_id LIMIT 1",
            [organization_id, patient_id],
        ).fetchone()
    if row is None:
        raise tier_fixtures.NotGenerated(
            f"patient {patient_id} has no encounter in a department of bench-a: no clinician has a care "
            "relationship (fill the database with `phb bench-data`)"
        )
    return row[0]


def ensure_doctors(site: tier_fixtures.Site, department_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    """`n` doctors of the department (users, active memberships), made once, moved to the department
    when the data was generated again."""
    from django.db import transaction

    from phb.accounts.models import Membership, User

    system = tier_fixtures._system()
    ids = []
    with transaction.atomic():
        memberships = Membership.objects.for_system(system)
        for i in range(n):
            email = DOCTOR_EMAIL.format(i=i, code=site.code)
            user, _ = User.objects.get_or_create(email=email, defaults={"full_name": f"Bench Clinician {i:02d}"})
            membership = memberships.filter(organization_id=site.organization_id, user_id=user.id).first()
            if membership is None:
                memberships.create(
                    organization_id=site.organization_id, user_id=user.id, roles=["doctor"], department_id=department_id
                )
            elif membership.department_id != department_id or not membership.is_active:
                memberships.filter(id=membership.id).update(department_id=department_id, is_active=True)
            ids.append(user.id)
    return ids


class Server:
    """PHB under the benchmarks' gunicorn (`http_load.Server`), connected as the application role, with
    its static files collected for the browser; started on first use."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.static = tempfile.TemporaryDirectory(prefix="phb-bench-static-")
        self.server: http_load.Server | None = None

    @property
    def port(self) -> int:
        return self.server.port if self.server else 0

    def env(self) -> dict[str, str]:
        return {
            "STATIC_ROOT": self.static.name,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DATABASE_URL": tier_fixtures.application_dsn(self.dsn),
        }

    def start(self) -> None:
        if self.server is not None:
            return
        subprocess.run(
            [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"],
            env={**os.environ, **self.env()}, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        self.server = http_load.Server("phb.config.wsgi:application", self.env(), "/fhir/r4/metadata")

    def get(self, path: str, cookie: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.static.cleanup()


class Browser:
    """Chromium through Playwright, all of it on one thread of its own (Playwright's sync API runs an
    event loop in its thread; the bench's ORM work stays on the others)."""

    def __init__(self) -> None:
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="w4-browser")
        self.state: dict[str, Any] = {}

    def _start(self, base_url: str, cookie: dict[str, str]) -> None:
        from playwright.sync_api import sync_playwright

        if not os.path.exists(CHROMIUM):
            raise CheckFailed(f"no Chromium at {CHROMIUM} (set PHB_CHROMIUM)")
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{**cookie, "url": base_url}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        self.state.update(playwright=playwright, browser=browser, page=page)

    def _open(self, path: str) -> tuple[float, str, dict[str, float]]:
        page = self.state["page"]
        page.goto(path, wait_until="commit")
        usable = page.wait_for_function(_USABLE_JS, arg=USABLE, polling="raf").json_value()
        timings = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');"
            " return {status: n ? n.responseStatus || 0 : 0, ttfb: n ? n.responseStart : 0,"
            " dcl: n ? n.domContentLoadedEventEnd : 0, fcp: p ? p.startTime : 0}; }"
        )
        return float(usable), page.content(), timings

    def start(self, base_url: str, cookie: dict[str, str]) -> None:
        self.thread.submit(self._start, base_url, cookie).result()

    def open(self, path: str) -> tuple[float, str, dict[str, float]]:
        return self.thread.submit(self._open, path).result()

    def stop(self) -> None:
        def close() -> None:
            if "browser" in self.state:
                self.state["browser"].close()
                self.state["playwright"].stop()

        self.thread.submit(close).result()
        self.thread.shutdown()


def _check_html(html: str, what: str) -> None:
    for marker in MARKERS:
        if marker not in html:
            raise CheckFailed(f"{what} lacks {marker!r}")


def build(dsn: str) -> list[Workload]:
    import psycopg
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    site = tier_fixtures.site(tier_fixtures.HOME)
    patient_id = heavy_patient(dsn, site.organization_id)
    department_id = _care_department(dsn, site.organization_id, patient_id)
    doctors = ensure_doctors(site, department_id, CLINICIANS)
    fixtures = [chart_fixtures.Fixture(site.organization_id, department_id, d, patient_id) for d in doctors]
    page_url = f"/staff/clinical/patients/{patient_id}/"

    # The in-process page links its stylesheet; the test client runs without `collectstatic`'s manifest.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()
    pool = ThreadPoolExecutor(max_workers=CLINICIANS, thread_name_prefix="w4-clinician")
    # one signed-in client per clinician, each made on the thread that will use it (its own connection)
    free = list(range(CLINICIANS))
    local = threading.local()
    lock = threading.Lock()

    def sign_in() -> int:
        with lock:
            i = free.pop()
        local.client = chart_summary._client(fixtures[i])
        return i

    barrier = threading.Barrier(CLINICIANS)

    def each_thread_signs_in() -> int:
        i = sign_in()
        barrier.wait(timeout=120)  # keeps every thread busy until all have one: one client per thread
        return i

    signed = sorted(pool.map(lambda _: each_thread_signs_in(), range(CLINICIANS)))
    if signed != list(range(CLINICIANS)):
        raise CheckFailed(f"signed in {signed}")
    alone_client = chart_summary._client(fixtures[0])
    latencies: dict[str, list[float]] = {"alone": [], "among": [], "raw": []}

    conn = psycopg.connect(dsn, autocommit=True)

    def params() -> dict[str, Any]:
        end = timezone.now()
        return {
            "org": site.organization_id,
            "doctor": doctors[0],
            "department": department_id,
            "patient": patient_id,
            "start": end - dt.timedelta(days=365),
            "end": end,
        }

    def raw_summary() -> int:
        start = time.perf_counter_ns()
        rows = 0
        p = params()
        with conn.cursor() as cur:
            for sql in chart_summary.SUMMARY_SQL:
                cur.execute(sql, p)
                rows += len(cur.fetchall())
        latencies["raw"].append((time.perf_counter_ns() - start) / 1000)
        return rows

    def check_raw(rows: int) -> None:
        if rows < 3:
            raise CheckFailed(f"the raw reads returned {rows} rows")

    def alone() -> Any:
        start = time.perf_counter_ns()
        response = alone_client.get(page_url)
        latencies["alone"].append((time.perf_counter_ns() - start) / 1000)
        return response

    def one_open() -> Any:
        start = time.perf_counter_ns()
        response = local.client.get(page_url)
        took = (time.perf_counter_ns() - start) / 1000
        with lock:
            latencies["among"].append(took)
        return response

    def together() -> list[Any]:
        return list(pool.map(lambda _: one_open(), range(CLINICIANS)))

    def check_page(response: Any) -> None:
        if response.status_code != 200:
            raise CheckFailed(f"the chart answered {response.status_code}")
        _check_html(response.content.decode(), "the chart")

    def check_all(responses: list[Any]) -> None:
        if len(responses) != CLINICIANS:
            raise CheckFailed(f"{len(responses)} answers")
        for r in responses:
            check_page(r)

    check_page(alone())
    with CaptureQueriesContext(connection) as queries:
        alone_client.get(page_url)
    data_queries = chart_summary.data_queries(queries.captured_queries)

    def server_notes() -> list[str]:
        raw = statistics_median(latencies["raw"])
        out = []
        for key, label in (("alone", "one clinician alone"), ("among", f"among {CLINICIANS} at once")):
            values = sorted(latencies[key])
            if values:
                p95 = percentile(values, 95)
                out.append(
                    f"W4 chart open, {label}: p50 {percentile(values, 50) / 1000:.1f} ms, p95 {p95 / 1000:.1f} ms "
                    f"over {len(values)} opens (warm-up included); p95 / raw query sum median ({raw / 1000:.1f} ms) = {p95 / raw:.1f} x "
                    "(targets: p95 <= 150 ms, <= 3 x)"
                )
        return out

    def close_clinicians() -> None:
        """Each clinician's thread closes its database connection (the server's connections are shared
        with other clients), then the pool ends."""
        closing = threading.Barrier(CLINICIANS)

        def close() -> None:
            closing.wait(timeout=60)
            connection.close()

        list(pool.map(lambda _: close(), range(CLINICIANS)))
        pool.shutdown()
        conn.close()

    server = Workload(
        name="w4_chart_open",
        description=(
            f"W4: chart page of the heavy patient ({data_queries} data queries), server time in process, "
            f"against its {len(chart_summary.SUMMARY_SQL)} queries back to back on one connection"
        ),
        reference=Variant("a. raw SQL of the chart's reads, back to back", raw_summary, check_raw),
        variants=[
            Variant("b. chart page, one clinician alone", alone, check_page),
            Variant(f"c. chart page, {CLINICIANS} clinicians at once (op = {CLINICIANS} opens)", together, check_all),
        ],
        teardown=close_clinicians,
        notes=server_notes,
    )

    # --- the browser --------------------------------------------------------------------------------
    http_server = Server(dsn)
    browser = Browser()
    cookie_name = settings.SESSION_COOKIE_NAME
    session_key = alone_client.cookies[cookie_name].value
    browser_timings: list[dict[str, float]] = []
    started: list[bool] = []

    def ensure_started() -> None:
        if not started:
            http_server.start()
            browser.start(f"http://127.0.0.1:{http_server.port}", {"name": cookie_name, "value": session_key})
            started.append(True)

    def over_http() -> tuple[int, str]:
        ensure_started()
        return http_server.get(page_url, f"{cookie_name}={session_key}")

    def check_http(answer: tuple[int, str]) -> None:
        status, html = answer
        if status != 200:
            raise CheckFailed(f"the server answered {status}")
        _check_html(html, "the served chart")

    def in_browser() -> Timed:
        ensure_started()
        usable_ms, html, timings = browser.open(page_url)
        browser_timings.append({**timings, "usable": usable_ms})
        return Timed(answer=(timings, html), elapsed_us=usable_ms * 1000)

    def check_browser(answer: tuple[dict[str, float], str]) -> None:
        timings, html = answer
        if timings.get("status") not in (0, 200):
            raise CheckFailed(f"the browser got {timings.get('status')}")
        _check_html(html, "the page in the browser")

    def browser_notes() -> list[str]:
        if not browser_timings:
            return []
        out = []
        for key, label in (
            ("usable", "time to usable"),
            ("ttfb", "first byte"),
            ("fcp", "first contentful paint"),
            ("dcl", "DOMContentLoaded"),
        ):
            values = sorted(t[key] for t in browser_timings if t.get(key))
            if values:
                out.append(
                    f"W4 browser {label}: p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms "
                    f"over {len(values)} loads (warm-up included)" + (" (target p95 <= 1 s)" if key == "usable" else "")
                )
        return out

    def stop_browser() -> None:
        browser.stop()
        http_server.stop()

    in_the_browser = Workload(
        name="w4_chart_browser",
        description=(
            f"W4: chart of the heavy patient in Chromium from gunicorn ({http_load.WORKERS} workers), navigation start "
            "to the summary visible, against the same page over HTTP from the same server"
        ),
        reference=Variant("a. the page over HTTP (server time + loopback)", over_http, check_http),
        variants=[Variant("b. Chromium: navigation start to summary visible", in_browser, check_browser)],
        teardown=stop_browser,
        notes=browser_notes,
    )
    return [server, in_the_browser]


def statistics_median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")
