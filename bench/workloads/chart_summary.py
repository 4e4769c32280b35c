"""The clinician's chart of a patient with a long record (`chart_fixtures`: 1,000 encounters, 50,000
observations, 200 diagnoses, 500 notes). Issue targets: the chart page under 300 ms median server time
with a bounded number of queries, the vitals trend of a year under 100 ms.

- `chart_summary`: the whole chart page (summary sections, a year of heart rate drawn as SVG, the first
  page of three timelines) rendered by the view through Django's test client (middleware, session,
  second factor and step-up checks, the care relationship, the audit record, decryption, the template),
  against the raw SQL reading the same rows through psycopg. The check counts the page's queries.
- `chart_vitals_trend`: a year of heart rate (about 2,400 values) through the audited selector
  (`chart.vitals_trend`: access check, audit record, read, the drawing) and through the trend view,
  against the raw SQL of the same read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import chart_fixtures

ITERATION_DIVISOR = 15
MAX_QUERIES = 20  # data queries: not counting the transaction and tenancy-binding statements around them
_FRAMING = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "SET LOCAL", "SELECT set_config(")


def data_queries(captured: list[dict[str, Any]]) -> int:
    return sum(1 for q in captured if not q["sql"].lstrip().startswith(_FRAMING))


SUMMARY_SQL = [
    # the care relationship
    "SELECT department_id FROM accounts_membership WHERE organization_id = %(org)s AND user_id = %(doctor)s "
    "AND is_active LIMIT 1",
    "SELECT 1 FROM clinical_encounter WHERE organization_id = %(org)s AND patient_id = %(patient)s "
    "AND (attending_id = %(doctor)s OR department_id = %(department)s) LIMIT 1",
    # the header and the sections
    "SELECT id, given_name, family_name, birth_date, sex, merged_into_id FROM patients_patient WHERE id = %(patient)s",
    "SELECT id, raised_at, findings, escalated_at, recipient_id FROM clinical_criticalalert "
    "WHERE organization_id = %(org)s AND patient_id = %(patient)s AND status = 'open' "
    "ORDER BY raised_at DESC, id DESC LIMIT 10",
    "SELECT id, system, code, display, category, severity, onset_date, recorded_at FROM clinical_diagnosis "
    "WHERE organization_id = %(org)s AND patient_id = %(patient)s AND clinical_status = 'active' "
    "ORDER BY recorded_at DESC, id DESC LIMIT 50",
    "SELECT o.* FROM clinical_observation o WHERE o.organization_id = %(org)s AND o.vital_set_id = ("
    " SELECT id FROM clinical_vitalsignsset WHERE organization_id = %(org)s AND patient_id = %(patient)s"
    " ORDER BY effective_at DESC, id DESC LIMIT 1)",
    "SELECT e.id, e.status, e.encounter_class, e.started_at, e.ended_at, d.name, u.full_name FROM clinical_encounter e"
    " JOIN organizations_department d ON d.id = e.department_id LEFT JOIN accounts_user u ON u.id = e.attending_id"
    " WHERE e.organization_id = %(org)s AND e.patient_id = %(patient)s"
    " ORDER BY e.started_at DESC, e.created_at DESC LIMIT 5",
    # the trend: a year of heart rate
    "SELECT code, effective_at, value_numeric, interpretation FROM clinical_observation "
    "WHERE organization_id = %(org)s AND patient_id = %(patient)s AND code IN ('8867-4') "
    "AND effective_at >= %(start)s AND effective_at <= %(end)s AND value_numeric IS NOT NULL ORDER BY effective_at",
    # the first page of each timeline
    "SELECT e.*, d.*, u.* FROM clinical_encounter e JOIN organizations_department d ON d.id = e.department_id"
    " LEFT JOIN accounts_user u ON u.id = e.attending_id WHERE e.organization_id = %(org)s"
    " AND e.patient_id = %(patient)s ORDER BY e.started_at DESC, e.created_at DESC LIMIT 21",
    "SELECT n.*, u.* FROM clinical_clinicalnote n JOIN accounts_user u ON u.id = n.author_id"
    " WHERE n.organization_id = %(org)s AND n.patient_id = %(patient)s"
    " AND (n.status = 'signed' OR n.author_id = %(doctor)s) AND n.kind <> 'addendum'"
    " ORDER BY n.created_at DESC, n.id DESC LIMIT 21",
    "SELECT g.*, u.* FROM clinical_diagnosis g JOIN accounts_user u ON u.id = g.diagnosed_by_id"
    " WHERE g.organization_id = %(org)s AND g.patient_id = %(patient)s AND g.clinical_status <> 'entered_in_error'"
    " ORDER BY g.recorded_at DESC, g.id DESC LIMIT 21",
]
TREND_SQL = SUMMARY_SQL[7]


def _client(fixture: chart_fixtures.Fixture) -> Any:
    from django.test import Client
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from phb.accounts.models import User
    from phb.accounts.step_up import SESSION_KEY

    user = User.objects.get(id=fixture.doctor_id)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[SESSION_KEY] = (timezone.now() + dt.timedelta(hours=12)).isoformat()
    session.save()
    return client


def build(dsn: str) -> list[Workload]:
    import psycopg
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from phb.clinical import chart

    # The page links its stylesheet; the bench runs without `collectstatic`'s manifest.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()
    fixture = chart_fixtures.ensure_chart(dsn)
    client = _client(fixture)
    ctx = fixture.ctx()
    conn = psycopg.connect(dsn, autocommit=True)
    page_url = f"/staff/clinical/patients/{fixture.patient_id}/"
    trend_url = f"{page_url}trend/?vital=heart_rate&period=365"

    def params() -> dict[str, Any]:
        end = timezone.now()
        return {
            "org": fixture.organization_id,
            "doctor": fixture.doctor_id,
            "department": fixture.department_id,
            "patient": fixture.patient_id,
            "start": end - dt.timedelta(days=365),
            "end": end,
        }

    def raw_summary() -> int:
        rows = 0
        p = params()
        with conn.cursor() as cur:
            for sql in SUMMARY_SQL:
                cur.execute(sql, p)
                rows += len(cur.fetchall())
        return rows

    def raw_trend() -> int:
        with conn.cursor() as cur:
            cur.execute(TREND_SQL, params())
            return len(cur.fetchall())

    def page() -> Any:
        return client.get(page_url)

    def trend_view() -> Any:
        return client.get(trend_url)

    def selector() -> Any:
        return chart.vitals_trend(ctx=ctx, patient_id=fixture.patient_id, vital="heart_rate", days=365)

    expected_points = raw_trend()
    if expected_points < 2000:
        raise CheckFailed(f"a year holds {expected_points} heart rates")

    def check_raw_summary(rows: int) -> None:
        if rows < expected_points + 60:
            raise CheckFailed(f"the raw reads returned {rows} rows")

    def check_raw_trend(rows: int) -> None:
        if rows != expected_points:
            raise CheckFailed(f"{rows} heart rates instead of {expected_points}")

    def check_page(response: Any) -> None:
        if response.status_code != 200:
            raise CheckFailed(f"the chart answered {response.status_code}")
        html = response.content.decode()
        for marker in ('data-testid="section-vitals"', "NEWS2", "<polyline", "I10", "Older"):
            if marker not in html:
                raise CheckFailed(f"the chart lacks {marker!r}")
        with CaptureQueriesContext(connection) as queries:
            client.get(page_url)
        count = data_queries(queries.captured_queries)
        if count > MAX_QUERIES:
            raise CheckFailed(f"the chart page ran {count} queries (at most {MAX_QUERIES})")
        counted["page"] = count

    def check_trend(trend: Any) -> None:
        if trend.count != expected_points or not trend.series[0].svg_points:
            raise CheckFailed(f"the trend drew {trend.count} of {expected_points} values")

    def check_trend_view(response: Any) -> None:
        if response.status_code != 200 or "<polyline" not in response.content.decode():
            raise CheckFailed(f"the trend view answered {response.status_code}")

    counted: dict[str, int] = {}
    check_page(page())  # counts the queries now, for the description
    return [
        Workload(
            name="chart_summary",
            description=(
                f"the chart page of a patient with {chart_fixtures.ENCOUNTERS:,} encounters, "
                f"{chart_fixtures.OBSERVATIONS:,} observations, {chart_fixtures.DIAGNOSES} diagnoses and "
                f"{chart_fixtures.NOTES} notes ({counted['page']} data queries, bound {MAX_QUERIES})"
            ),
            reference=Variant("a. raw SQL of the same reads (11 queries)", raw_summary, check_raw_summary),
            variants=[Variant("b. chart page (view through the test client)", page, check_page)],
        ),
        Workload(
            name="chart_vitals_trend",
            description=f"a year of heart rate ({expected_points:,} values) of the same patient, drawn as SVG",
            reference=Variant("a. raw SQL of the same read", raw_trend, check_raw_trend),
            variants=[
                Variant("b. chart.vitals_trend (audited selector, drawing)", selector, check_trend),
                Variant("c. trend view (through the test client)", trend_view, check_trend_view),
            ],
            teardown=conn.close,
        ),
    ]
