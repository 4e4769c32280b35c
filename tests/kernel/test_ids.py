import itertools
import time
import uuid

from phb.kernel.ids import parse_uuid, uuid7


def test_uuid7_has_version_7_and_the_rfc_variant():
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_is_strictly_increasing_in_a_tight_loop():
    ids = [uuid7() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(ids))


def test_uuid7_carries_the_current_time():
    ms = uuid7().int >> 80
    assert abs(ms - time.time() * 1000) < 1000


def test_parse_uuid_rejects_junk():
    assert parse_uuid("nope") is None
    assert parse_uuid(None) is None
    assert parse_uuid("01a20e29-fa91-7052-b9ca-3949621b439a") == uuid.UUID("01a20e29-fa91-7052-b9ca-3949621b439a")
