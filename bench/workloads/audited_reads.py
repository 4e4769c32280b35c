"""Audited reads at 16 concurrent clients: reading one tenant row through the ORM and recording the read
in the audit trail, against the same reads without auditing (issue target: at least half the throughput).

One timed operation is a batch of 16 clients x 25 reads in parallel threads (each with its own database
connection); µs/op is per batch, so the ratio is directly the throughput ratio.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.runner import CheckFailed, Variant, Workload

CLIENTS = 16
READS_PER_CLIENT = 25
ITERATION_DIVISOR = 30


def build(dsn: str) -> list[Workload]:
    from phb.kernel import audit
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization
    from phb.organizations.models import Department
    from phb.organizations.services import departments_ensure_standard

    system = Ctx.system(reason="bench fixtures")
    org = Organization.objects.for_platform(system).get(code="bench-00500")
    departments_ensure_standard(ctx=system.for_organization(org.id))
    reader = Ctx(actor_id=uuid.uuid4(), organization_id=org.id, roles=frozenset({"doctor"}), ip="127.0.0.1")
    ids = list(Department.objects.for_tenant(reader).values_list("id", flat=True))
    pool = ThreadPoolExecutor(max_workers=CLIENTS)

    def client(audited: bool) -> int:
        found = 0
        for i in range(READS_PER_CLIENT):
            department = Department.objects.for_tenant(reader).get(id=ids[i % len(ids)])
            if audited:
                audit.record(reader, "organizations.department.read", target=department, read=True)
            found += 1
        return found

    def batch(audited: bool) -> Any:
        return sum(pool.map(lambda _: client(audited), range(CLIENTS)))

    def check(total: int) -> None:
        if total != CLIENTS * READS_PER_CLIENT:
            raise CheckFailed(f"{total} reads instead of {CLIENTS * READS_PER_CLIENT}")

    def teardown() -> None:
        pool.shutdown()

    return [
        Workload(
            name="audited_reads",
            description=f"{CLIENTS} concurrent clients reading tenant rows, with and without read auditing",
            reference=Variant("a. reads, no audit", lambda: batch(False), check),
            variants=[Variant("b. reads + audit.record(read=True)", lambda: batch(True), check)],
            teardown=teardown,
        )
    ]
