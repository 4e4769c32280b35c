"""Stream encryption (files): round trips at every size around the segment boundaries, ciphertext that
holds no plaintext, and a clear error for every kind of tampering: altered, truncated, extended,
reordered, another key, another context."""

import io
import secrets

import pytest

from phb.kernel import crypto

KEY = bytes(range(32))
CONTEXT = "clinical.document:0001"
CHUNK = 64  # small segments make the boundaries cheap to reach


def seal(data: bytes, *, key: bytes = KEY, context: str = CONTEXT, pieces: int = 1) -> bytes:
    size = max(1, len(data) // pieces)
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return b"".join(crypto.encrypt_stream(chunks, key=key, context=context, chunk_size=CHUNK))


def unseal(sealed: bytes, *, key: bytes = KEY, context: str = CONTEXT) -> bytes:
    return b"".join(crypto.decrypt_stream(io.BytesIO(sealed), key=key, context=context))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7, 1000])
@pytest.mark.parametrize("pieces", [1, 3, 1000])
def test_round_trip_at_every_boundary(size, pieces):
    data = secrets.token_bytes(size)
    sealed = seal(data, pieces=pieces)
    segments = max(1, -(-size // CHUNK))
    assert len(sealed) == 16 + size + 16 * segments
    assert unseal(sealed) == data


def test_the_ciphertext_holds_no_plaintext_and_differs_each_time():
    data = b"Discharge summary of a patient with a long history. " * 40
    first, second = seal(data), seal(data)
    assert b"Discharge" not in first
    assert first != second
    assert unseal(first) == unseal(second) == data


def test_the_default_segment_size_streams_a_large_value_piece_by_piece():
    data = secrets.token_bytes(3 * crypto.STREAM_CHUNK + 5)
    pieces = list(crypto.encrypt_stream([data[i : i + 1000] for i in range(0, len(data), 1000)], key=KEY, context="x"))
    assert max(len(p) for p in pieces) == crypto.STREAM_CHUNK + 16
    out = list(crypto.decrypt_stream(io.BytesIO(b"".join(pieces)), key=KEY, context="x"))
    assert [len(p) for p in out] == [crypto.STREAM_CHUNK] * 3 + [5]
    assert b"".join(out) == data


def _flip(sealed: bytes, at: int) -> bytes:
    return sealed[:at] + bytes([sealed[at] ^ 1]) + sealed[at + 1 :]


DATA = secrets.token_bytes(3 * CHUNK + 10)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: _flip(s, 20), id="altered first segment"),
        pytest.param(lambda s: _flip(s, len(s) - 1), id="altered tag of the last segment"),
        pytest.param(lambda s: _flip(s, 10), id="altered nonce prefix in the header"),
        pytest.param(lambda s: s[: 16 + 2 * (CHUNK + 16)], id="truncated at a segment boundary"),
        pytest.param(lambda s: s[:-5], id="truncated inside the last segment"),
        pytest.param(lambda s: s + b"\x00" * 3, id="extended"),
        pytest.param(
            lambda s: (
                s[:16]
                + s[16 + CHUNK + 16 : 16 + 2 * (CHUNK + 16)]
                + s[16 : 16 + CHUNK + 16]
                + s[16 + 2 * (CHUNK + 16) :]
            ),
            id="two segments swapped",
        ),
    ],
)
def test_tampering_is_an_error_not_garbage(tamper):
    with pytest.raises(crypto.DecryptionError):
        unseal(tamper(seal(DATA)))


def test_another_key_or_context_does_not_decrypt():
    sealed = seal(DATA)
    with pytest.raises(crypto.DecryptionError):
        unseal(sealed, key=crypto.new_data_key())
    with pytest.raises(crypto.DecryptionError):
        unseal(sealed, context="clinical.document:0002")


def test_a_truncated_stream_releases_no_plaintext_of_the_unauthenticated_part():
    sealed = seal(DATA)[:-20]
    out = crypto.decrypt_stream(io.BytesIO(sealed), key=KEY, context=CONTEXT)
    released = []
    with pytest.raises(crypto.DecryptionError):
        for piece in out:
            released.append(piece)
    assert b"".join(released) == DATA[: 3 * CHUNK]  # the segments that authenticated, nothing more


@pytest.mark.parametrize(
    "junk", [b"", b"PHBS1", b"%PDF-1.7 not a stream at all", b"PHBS1\x00\x00\x00\x00" + b"\x00" * 7]
)
def test_something_else_is_not_a_stream(junk):
    with pytest.raises(crypto.DecryptionError):
        unseal(junk)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        list(crypto.encrypt_stream([b"x"], key=b"short", context="x"))
    with pytest.raises(ValueError, match="chunk_size"):
        list(crypto.encrypt_stream([b"x"], key=KEY, context="x", chunk_size=0))
    assert len(crypto.new_data_key()) == 32
    assert crypto.new_data_key() != crypto.new_data_key()
