"""What a unit of work (an imported Bundle in one transaction) relies on: the tenant binding set once
per transaction and set again whenever a savepoint rolled back may have undone it; audit events of
writes inserted together before the commit; answers remembered only inside `memo.scope()`."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from phb.kernel import audit, memo, tenancy
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent

pytestmark = pytest.mark.django_db


class Undo(Exception):
    pass


def _setting() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('phb.organization_id', true), current_setting('phb.all_tenants', true)")
        return cursor.fetchone()


def _binds(queries) -> int:
    return sum("set_config('phb.organization_id'" in q["sql"] for q in queries.captured_queries)


def test_the_same_binding_is_set_once_per_transaction(org_a, org_b):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            with tenancy.bound(organization_id=org_a.id):
                assert _setting() == (str(org_a.id), "")
        assert _binds(queries) == 1
        with tenancy.bound(organization_id=org_b.id):
            assert _setting() == (str(org_b.id), "")
        with tenancy.bound(organization_id=org_a.id):
            assert _setting() == (str(org_a.id), "")
        assert _binds(queries) == 3
        with transaction.atomic(), tenancy.bound(organization_id=org_a.id):  # held from outside the savepoint
            assert _setting() == (str(org_a.id), "")
        assert _binds(queries) == 3


def test_a_binding_undone_by_a_savepoint_rollback_is_set_again(org_a):
    with transaction.atomic():
        with tenancy.bound(organization_id=None, all_tenants=True):
            assert _setting() == ("", "on")
        with pytest.raises(Undo), transaction.atomic():
            with tenancy.bound(organization_id=org_a.id):
                assert _setting() == (str(org_a.id), "")
            raise Undo
        assert _setting() == ("", "on")  # the rollback restored the binding set before the savepoint
        with tenancy.bound(organization_id=org_a.id):
            assert _setting() == (str(org_a.id), "")  # not taken for the one set inside it


def _events(action: str):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action=action)


def test_a_write_batch_inserts_its_events_together_before_the_commit(ctx_a):
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries, audit.write_batch():
            for number in range(5):
                audit.record(ctx_a, "test.thing.create", resource_id=str(number))
            audit.record(ctx_a, "test.thing.create", outcome="denied", read=True)  # written at once
            assert _events("test.thing.create").count() == 1
        inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "kernel_auditevent"')]
        assert len(inserts) == 2
    created = list(_events("test.thing.create").filter(outcome="success").order_by("occurred_at", "id"))
    assert [e.resource_id for e in created] == ["0", "1", "2", "3", "4"]


def test_a_write_batch_leaving_with_an_error_writes_nothing(ctx_a):
    with pytest.raises(Undo), transaction.atomic(), audit.write_batch():
        audit.record(ctx_a, "test.thing.create")
        raise Undo
    assert not _events("test.thing.create").exists()


def test_memo_remembers_only_inside_a_scope_and_never_a_none():
    calls: list[int] = []

    @memo.cached()
    def answer(x: int) -> int | None:
        calls.append(x)
        return None if x < 0 else x * 2

    assert answer(2) == answer(2) == 4
    assert len(calls) == 2  # no scope: asked every time
    with memo.scope():
        assert memo.active()
        assert answer(2) == answer(2) == 4
        assert answer(-1) is None
        assert answer(-1) is None
        with memo.scope():  # shares the outer one
            assert answer(2) == 4
    assert calls == [2, 2, 2, -1, -1]
    assert not memo.active()
