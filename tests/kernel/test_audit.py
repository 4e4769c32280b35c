"""The audit trail: what an event keeps, sealing into a hash chain, and tampering found by verify."""

import datetime as dt
import os
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.models import AuditChainLink, AuditEvent

SYSTEM = Ctx.system(reason="test")


def later(minutes: int = 5) -> dt.datetime:
    """Past the sealing grace period. Computed when called: a constant taken at import goes stale in a
    suite that runs longer than the grace period, and sealing then skips the test's events."""
    return timezone.now() + dt.timedelta(minutes=minutes)


def events():
    return AuditEvent.objects.for_system(SYSTEM)


def behind_the_back(sql, params=()):
    """Change the database as an attacker with database access would: as a superuser, triggers off."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    import psycopg

    db = connection.settings_dict
    superuser = os.environ.get("PHB_TEST_DB_SUPERUSER", "postgres")
    with psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=superuser,
        dbname=db["NAME"],
        autocommit=True,
    ) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql.replace("%s", "%s"), params)


def pk(value):
    return AuditEvent._meta.pk.get_db_prep_value(value, connection)


def make_events(n, org):
    ctx = Ctx(
        actor_id=uuid.uuid4(),
        organization_id=org.id,
        roles=frozenset({"doctor"}),
        ip="10.0.0.9",
        user_agent="test-agent",
    )
    for i in range(n):
        audit.record(
            ctx,
            "clinical.note.read",
            patient_id=uuid.uuid4(),
            resource_type="clinical.Note",
            resource_id=f"note-{i}",
            read=True,
        )
    return list(events().order_by("occurred_at", "id"))


@pytest.mark.django_db
def test_an_event_keeps_who_what_when_where_and_why(org_a):
    ctx = Ctx(
        actor_id=uuid.uuid4(),
        organization_id=org_a.id,
        roles=frozenset({"nurse", "doctor"}),
        ip="192.0.2.7",
        user_agent="Firefox",
        purpose_of_use="ETREAT",
    )
    patient = uuid.uuid4()
    audit.record(
        ctx,
        "clinical.chart.open",
        patient_id=patient,
        resource_type="patients.Patient",
        resource_id=patient,
        reason="cardiac arrest",
        outcome="success",
    )
    event = events().get()
    assert (event.actor_id, event.roles, event.organization_id, event.patient_id) == (
        ctx.actor_id,
        "doctor,nurse",
        org_a.id,
        patient,
    )
    assert (event.action, event.outcome, event.purpose_of_use, event.ip, event.user_agent) == (
        "clinical.chart.open",
        "success",
        "ETREAT",
        "192.0.2.7",
        "Firefox",
    )
    assert event.request_id == ctx.request_id
    assert event.reason == "cardiac arrest"


@pytest.mark.django_db
def test_audit_events_cannot_be_queried_unscoped():
    from phb.kernel.tenancy import UnscopedQuery

    with pytest.raises(UnscopedQuery):
        list(AuditEvent.objects.all())


@pytest.mark.django_db
def test_sealing_chains_settled_events_and_verify_finds_it_intact(org_a):
    make_events(5, org_a)
    assert audit.seal() == 0  # too recent: transactions may still be in flight
    assert audit.seal(now=later()) == 5
    assert audit.seal(now=later()) == 0
    make_events(2, org_a)
    assert audit.seal(now=later(6)) == 2
    assert list(AuditChainLink.objects.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 4, 5, 6, 7]
    assert audit.verify() == []


@pytest.mark.django_db(transaction=True)
def test_verify_names_an_altered_a_deleted_and_an_inserted_event(org_a):
    rows = make_events(6, org_a)
    audit.seal(now=later())
    altered, deleted = rows[1], rows[3]
    behind_the_back("UPDATE kernel_auditevent SET action = 'clinical.note.nothing' WHERE id = %s", [pk(altered.id)])
    behind_the_back("DELETE FROM kernel_auditevent WHERE id = %s", [pk(deleted.id)])
    inserted = uuid.uuid4()
    behind_the_back(
        "INSERT INTO kernel_auditevent (id, occurred_at, actor_kind, roles, action, resource_type, resource_id, "
        "outcome, purpose_of_use, user_agent, request_id, reason, detail) "
        "VALUES (%s, %s, 'user', '', 'clinical.note.read', '', '', 'success', 'TREAT', '', '', '', '{}')",
        [pk(inserted), rows[0].occurred_at],
    )
    problems = audit.verify()
    assert [(p.kind, p.event_id) for p in problems] == [
        ("altered", str(altered.id)),
        ("deleted", str(deleted.id)),
        ("inserted", str(inserted)),
    ]
    assert problems[0].position == 2
    with pytest.raises(CommandError, match="3 problems"):
        call_command("audit", "verify")


@pytest.mark.django_db(transaction=True)
def test_verify_finds_a_rewritten_chain_link(org_a):
    make_events(3, org_a)
    audit.seal(now=later())
    behind_the_back("UPDATE kernel_auditchainlink SET chain_hash = %s WHERE position = 2", ["f" * 64])
    kinds = [(p.kind, p.position) for p in audit.verify()]
    assert ("broken_link", 2) in kinds  # link 2 itself no longer follows from link 1
    assert ("broken_link", 3) in kinds  # and link 3 no longer follows from link 2


@pytest.mark.django_db
def test_the_verify_command_reports_an_intact_chain(org_a, capsys):
    make_events(2, org_a)
    call_command("audit", "seal")
    audit.seal(now=later())
    call_command("audit", "verify")
    assert "audit chain intact" in capsys.readouterr().out


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_application_cannot_change_or_delete_audit_rows(org_a):
    row = make_events(1, org_a)[0]
    for sql in (
        "UPDATE kernel_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM kernel_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [row.id])
    assert events().filter(id=row.id, action="clinical.note.read").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_read_is_audited_without_waiting_for_a_disk_sync(org_a):
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # the session default stays durable
    make_events(1, org_a)
    assert events().filter(action="clinical.note.read").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_read_batch_commits_without_waiting_for_a_disk_sync_and_binds_once(org_a):
    from django.test.utils import CaptureQueriesContext

    from phb.kernel import tenancy

    with CaptureQueriesContext(connection) as queries, audit.read_batch():
        with tenancy.bound(organization_id=org_a.id), connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "off"
        make_events(2, org_a)
    # The commit mode went with the tenant binding: one statement for both.
    settings = [q["sql"] for q in queries.captured_queries if "set_config" in q["sql"] or "SET " in q["sql"]]
    assert len(settings) == 1
    assert "phb.organization_id" in settings[0]
    assert "'synchronous_commit', 'off'" in settings[0]
    assert events().filter(action="clinical.note.read").count() == 2


@pytest.mark.django_db
def test_security_events_flow_into_the_audit_trail(client):
    client.post("/accounts/sign-in/", {"email": "nobody@example.org", "password": "wrong-password-1"})
    event = events().get(action="accounts.sign_in.failure")
    assert event.outcome == "failure"
    assert event.ip == "127.0.0.1"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_audit_table_is_partitioned_by_month(org_a):
    from phb.kernel import db

    assert audit.ensure_partitions(months_ahead=audit.PARTITION_MONTHS_AHEAD) == []  # `phb migrate` made them
    created = audit.ensure_partitions(months_ahead=audit.PARTITION_MONTHS_AHEAD + 2)
    assert len(created) == 2
    make_events(2, org_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'kernel_auditevent'")
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT count(*) FROM ONLY kernel_auditevent_default")
        assert cursor.fetchone()[0] == 0  # this month's rows went to this month's partition
        cursor.execute(f"SELECT count(*) FROM kernel_auditevent_{timezone.now():%Y_%m}")
        assert cursor.fetchone()[0] == 2
    assert db.ensure_month_partitions(connection, "kernel_auditevent", months_ahead=0) == []


def test_retention_may_not_be_shortened_below_six_years(tmp_path):
    import subprocess
    import sys

    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'phb.config.settings'; django.setup()"
    env = {**os.environ, "PHB_VAR_DIR": str(tmp_path), "AUDIT_RETENTION_YEARS": "5"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "AUDIT_RETENTION_YEARS" in result.stderr


def test_the_retention_cutoff_is_at_least_six_years_back():
    assert timezone.now() - audit.retention_cutoff() >= dt.timedelta(days=6 * 365)


@pytest.mark.django_db
def test_a_refusal_inside_a_service_transaction_is_recorded_once_the_transaction_has_rolled_back():
    from phb.kernel.errors import NotFound

    marker = str(uuid.uuid4())
    with pytest.raises(NotFound), audit.atomic():
        audit.record(SYSTEM, "kernel.test.write", resource_id=marker)  # rolled back with the block
        with audit.atomic():  # a nested service: the refusal survives both rollbacks
            raise audit.denied(SYSTEM, "kernel.test.refused", NotFound("no"), resource_id=marker)
    kept = list(events().filter(resource_id=marker).values_list("action", "outcome"))
    assert kept == [("kernel.test.refused", "denied")]
    assert not events().filter(action="kernel.test.write", resource_id=marker).exists()


@pytest.mark.django_db
def test_a_refusal_raised_outside_any_service_transaction_is_recorded_once():
    from phb.kernel.errors import NotFound

    marker = str(uuid.uuid4())
    with pytest.raises(NotFound):
        with audit.atomic():
            pass
        raise audit.denied(SYSTEM, "kernel.test.refused", NotFound("no"), resource_id=marker)
    assert events().filter(resource_id=marker).count() == 1
