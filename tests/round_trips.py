"""What a unit of work costs the database: every statement sent, and the transactions they ran in.

`CaptureQueriesContext` sees the statements but not the BEGIN and COMMIT around them: a query made
outside a transaction runs in one of its own (on PostgreSQL, in one with its tenancy binding, see
`kernel.tenancy`). Used by tests that pin a page's or a write's cost, run with
`django_db(transaction=True)` so that the code under test opens its own transactions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection


@dataclass
class RoundTrips:
    statements: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # sent with no transaction open: one each
    commits: int = 0
    rollbacks: int = 0

    @property
    def transactions(self) -> int:
        return self.commits + self.rollbacks + len(self.outside)

    @property
    def total(self) -> int:
        """Every message to the server: the statements, and a BEGIN and a COMMIT (or ROLLBACK) for each
        transaction opened."""
        return len(self.statements) + 2 * (self.commits + self.rollbacks)

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.statements if s.lstrip().startswith(prefix))


@contextlib.contextmanager
def round_trips() -> Iterator[RoundTrips]:
    seen = RoundTrips()

    def execute(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.statements.append(sql)
        if not connection.in_atomic_block:
            seen.outside.append(sql)
        return execute(sql, params, many, context)

    commit, rollback = connection.commit, connection.rollback

    def counted_commit() -> None:
        seen.commits += 1
        commit()

    def counted_rollback() -> None:
        seen.rollbacks += 1
        rollback()

    connection.commit, connection.rollback = counted_commit, counted_rollback  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(execute):
            yield seen
    finally:
        del connection.commit, connection.rollback
