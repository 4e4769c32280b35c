"""UUIDv7 primary keys: RFC 9562 layout, strictly increasing (also across threads and odd clocks), and
`parse_uuid` turning anything malformed into None."""

import itertools
import threading
import time
import uuid

import pytest

from phb.kernel import ids
from phb.kernel.ids import parse_uuid, uuid7


def millis(value: uuid.UUID) -> int:
    return value.int >> 80


def counter(value: uuid.UUID) -> int:
    return (value.int >> 64) & 0xFFF


def test_uuid7_has_version_7_and_the_rfc_variant():
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert (value.int >> 62) & 0b11 == 0b10


def test_uuid7_is_strictly_increasing_in_a_tight_loop():
    values = [uuid7() for _ in range(10_000)]
    assert all(a < b for a, b in itertools.pairwise(values))
    # ... as text too: ids are compared as strings by clients and by PostgreSQL's uuid ordering.
    texts = [str(v) for v in values]
    assert texts == sorted(texts)
    assert len(set(values)) == len(values)


def test_uuid7_carries_the_current_time():
    before = time.time() * 1000
    ms = millis(uuid7())
    after = time.time() * 1000
    assert abs(ms - time.time() * 1000) < 1000
    assert before - 1 <= ms <= after + 1


def test_ids_stay_ordered_when_the_clock_steps_back(monkeypatch):
    first = uuid7()
    # NTP corrections move the wall clock backwards; ids made after that must still sort later.
    monkeypatch.setattr(ids.time, "time_ns", lambda: (millis(first) - 5_000) * 1_000_000)
    later = [uuid7() for _ in range(100)]
    assert all(a < b for a, b in itertools.pairwise([first, *later]))


def test_ids_stay_ordered_when_one_millisecond_overflows_the_counter(monkeypatch):
    # A fixed millisecond in the past, with the generator's state put back afterwards (monkeypatch).
    monkeypatch.setattr(ids, "_last_ms", 0)
    monkeypatch.setattr(ids, "_seq", 0)
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_700_000_000_000 * 1_000_000)
    values = [uuid7() for _ in range(5_000)]  # more than the 12-bit counter holds
    assert all(a < b for a, b in itertools.pairwise(values))
    assert millis(values[-1]) > millis(values[0])  # borrowed the next millisecond rather than wrap
    assert all(v.version == 7 and v.variant == uuid.RFC_4122 for v in values)


def test_uuid7_is_ordered_within_each_thread_and_unique_across_threads():
    per_thread: dict[int, list[uuid.UUID]] = {}

    def work(n: int) -> None:
        per_thread[n] = [uuid7() for _ in range(20_000)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for values in per_thread.values():
        assert all(a < b for a, b in itertools.pairwise(values))
    everything = [v for values in per_thread.values() for v in values]
    assert len(set(everything)) == len(everything)
    # The (millisecond, counter) prefix is what orders ids made in the same millisecond: it is never shared.
    prefixes = [(millis(v), counter(v)) for v in everything]
    assert len(set(prefixes)) == len(prefixes)


@pytest.mark.parametrize(
    "junk",
    [
        "nope",
        "",
        "123",
        None,
        123,
        12.5,
        [],
        {},
        object(),
        "01a20e29-fa91-7052-b9ca-3949621b439",  # one digit short
        "01a20e29-fa91-7052-b9ca-3949621b439ab",  # one digit long
        "01a20e29-fa91-7052-b9ca-3949621b439g",  # not hexadecimal
        "../../etc/passwd",
        "' OR 1=1 --",
    ],
)
def test_parse_uuid_returns_none_for_junk(junk):
    assert parse_uuid(junk) is None


def test_parse_uuid_accepts_uuids_and_their_text():
    value = uuid.UUID("01a20e29-fa91-7052-b9ca-3949621b439a")
    assert parse_uuid(value) is value
    assert parse_uuid(str(value)) == value
    assert parse_uuid(str(value).upper()) == value
    assert parse_uuid(value.hex) == value
