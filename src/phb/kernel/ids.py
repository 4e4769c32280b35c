"""Time-ordered UUIDs (RFC 9562 version 7) for primary keys.

Version 7 ids sort by creation time, so B-tree indexes on them stay append-mostly (unlike uuid4) while
ids remain unguessable and globally unique across organizations and servers.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7() -> uuid.UUID:
    """A new UUIDv7: 48-bit Unix milliseconds, 12-bit counter (monotonic within a millisecond), random."""
    global _last_ms, _seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _seq = ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            # Same (or a backwards-stepping) millisecond: keep order by counting up.
            _seq += 1
            if _seq > 0xFFF:
                _last_ms, _seq = _last_ms + 1, 0
            ms = _last_ms
        seq = _seq  # read under the lock: another thread may move the counter once it is released
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | seq << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)


def parse_uuid(value: object) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one (a malformed id is "not found", never a 500)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
