"""Field encryption: AES-256-GCM with a versioned key ring, and keyed blind indexes for exact lookups.

A ciphertext is stored as text: `phb1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`. The key id says
which key of the ring decrypts it, so keys rotate without downtime: `phb keys rotate` adds a key and
makes it the one new values use, `phb keys reencrypt` moves old rows in small batches (resumable,
compare-and-set, safe while PHB serves), and `phb keys retire` drops a key no ciphertext uses any more.
The model and field name are authenticated with each value, so a ciphertext copied into another
column does not decrypt. A missing or wrong key is an error naming the key id, never garbage.

The key ring is JSON, from PHB_KEYRING_JSON or the file PHB_KEYRING (local runs generate one):
    {"active": "k2", "keys": {"k1": "<32 bytes, base64>", "k2": "..."}, "blind_index_key": "<32 bytes>"}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models

PREFIX = "phb1"
_NONCE = 12


class KeyRingError(RuntimeError):
    """The key ring is missing, malformed, or lacks a key a ciphertext names."""


class DecryptionError(RuntimeError):
    """A ciphertext did not authenticate under the key it names (wrong key, or altered data)."""


@dataclass(frozen=True)
class KeyRing:
    active: str
    keys: dict[str, bytes]
    blind_index_key: bytes

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        try:
            data = json.loads(text)
            keys = {kid: base64.b64decode(v) for kid, v in data["keys"].items()}
            ring = cls(active=data["active"], keys=keys, blind_index_key=base64.b64decode(data["blind_index_key"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyRingError(f"the key ring is malformed ({type(exc).__name__})") from exc
        if ring.active not in ring.keys:
            raise KeyRingError(f"the active key {ring.active!r} is not in the key ring")
        bad = [kid for kid, key in ring.keys.items() if len(key) != 32]
        if bad or len(ring.blind_index_key) != 32:
            raise KeyRingError(f"keys must be 32 bytes (AES-256): {', '.join(bad) or 'blind_index_key'}")
        if any(":" in kid for kid in ring.keys):
            raise KeyRingError("key ids may not contain ':'")
        return ring

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active,
                "keys": {kid: base64.b64encode(k).decode() for kid, k in self.keys.items()},
                "blind_index_key": base64.b64encode(self.blind_index_key).decode(),
            },
            indent=2,
        )

    @classmethod
    def generate(cls) -> KeyRing:
        return cls(active="k1", keys={"k1": secrets.token_bytes(32)}, blind_index_key=secrets.token_bytes(32))

    def with_new_active_key(self) -> KeyRing:
        number = 1 + max((int(k[1:]) for k in self.keys if k[1:].isdigit()), default=0)
        kid = f"k{number}"
        return KeyRing(
            active=kid, keys={**self.keys, kid: secrets.token_bytes(32)}, blind_index_key=self.blind_index_key
        )

    def without(self, kid: str) -> KeyRing:
        if kid == self.active:
            raise KeyRingError(f"key {kid} is the active key and cannot be retired")
        if kid not in self.keys:
            raise KeyRingError(f"key {kid} is not in the key ring")
        return KeyRing(
            active=self.active,
            keys={k: v for k, v in self.keys.items() if k != kid},
            blind_index_key=self.blind_index_key,
        )


_lock = threading.RLock()  # re-entrant: loading may generate and save a local ring
_ring: KeyRing | None = None


def keyring() -> KeyRing:
    """The key ring in use (loaded once per process; generated into ./var/ for a local run)."""
    global _ring
    with _lock:
        if _ring is None:
            _ring = _load()
        return _ring


def reset_keyring() -> None:
    """Forget the loaded ring (after a rotation, or when a test swaps rings)."""
    global _ring
    with _lock:
        _ring = None


def _load() -> KeyRing:
    if settings.KEYRING_JSON:
        return KeyRing.from_json(settings.KEYRING_JSON)
    path = Path(settings.KEYRING_PATH)
    if not path.exists():
        if settings.PRODUCTION:
            raise KeyRingError(f"no key ring at {path}")
        save_keyring(KeyRing.generate(), path)
    return KeyRing.from_json(path.read_text())


def save_keyring(ring: KeyRing, path: Path | None = None) -> None:
    """Write the ring atomically (readable by the owner only)."""
    path = Path(path or settings.KEYRING_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(ring.to_json())
    os.replace(tmp, path)
    reset_keyring()


def key_id_of(ciphertext: str) -> str | None:
    parts = ciphertext.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def encrypt(plaintext: str, *, context: str) -> str:
    ring = keyring()
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{ring.active}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(ciphertext: str, *, context: str) -> str:
    kid = key_id_of(ciphertext)
    if kid is None:
        raise DecryptionError("the value is not a PHB ciphertext")
    key = keyring().keys.get(kid)
    if key is None:
        raise KeyRingError(f"key {kid} is not in the key ring: restore it from the key backup")
    try:
        raw = base64.b64decode(ciphertext.split(":", 2)[2], validate=True)
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError(f"a value encrypted under key {kid} did not authenticate (wrong key or altered)") from exc


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed HMAC-SHA256 of a normalized identifier, for exact lookups without decrypting.

    `purpose` separates indexes ("patients.nin" and "patients.passport" never collide)."""
    normalized = unicodedata.normalize("NFKC", value).strip().upper().replace(" ", "").replace("-", "")
    return hmac.new(keyring().blind_index_key, f"{purpose}\x00{normalized}".encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------------
# Model fields
# --------------------------------------------------------------------------------------------------


class EncryptedTextField(models.TextField):
    """Text encrypted at rest. Only `isnull` lookups work on it: search by a blind index instead."""

    def contribute_to_class(self, cls: Any, name: str, *args: Any, **kwargs: Any) -> None:
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.crypto_context = f"{cls._meta.label_lower}.{name}"

    def _serialize(self, value: Any) -> str:
        return str(value)

    def _deserialize(self, value: str) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt(self._serialize(value), context=self.crypto_context)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return self._deserialize(decrypt(value, context=self.crypto_context))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise TypeError(f"{self.crypto_context} is encrypted: only isnull lookups are possible")
        return super().get_lookup(lookup_name)


class EncryptedJSONField(EncryptedTextField):
    """JSON encrypted at rest (structured free text: symptoms, women's-health entries)."""

    def _serialize(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def _deserialize(self, value: str) -> Any:
        return json.loads(value)

    def to_python(self, value: Any) -> Any:
        return value


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    from django.apps import apps

    return [(m, f) for m in apps.get_models() for f in m._meta.concrete_fields if isinstance(f, EncryptedTextField)]


# --------------------------------------------------------------------------------------------------
# Streams: files and other large values, encrypted and decrypted chunk by chunk
# --------------------------------------------------------------------------------------------------
# A file is sealed with its own random 256-bit data key (kept by its owner in an encrypted column, so
# `phb keys reencrypt` moves it to a new ring key and `phb keys retire` sees it in use, without the file
# ever being rewritten). The format is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
# "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015), as in Tink's
# streaming AEAD: a 16-byte header `PHBS1 ‖ chunk size (4 bytes) ‖ nonce prefix (7 random bytes)`, then
# AES-256-GCM segments of `chunk size` plaintext bytes (the last one shorter, possibly empty for an empty
# value), segment i under the nonce `prefix ‖ i (4 bytes) ‖ 1 if last else 0`, each authenticating the
# context and the header. Segments cannot be reordered, dropped, truncated or moved to another file or
# context without failing; no plaintext is released before its segment has authenticated.

STREAM_MAGIC = b"PHBS1"
STREAM_CHUNK = 64 * 1024
_STREAM_PREFIX = 7
_STREAM_HEADER = len(STREAM_MAGIC) + 4 + _STREAM_PREFIX
_STREAM_TAG = 16
_STREAM_MAX_CHUNK = 16 * 1024 * 1024
_STREAM_MAX_SEGMENTS = 2**32


def new_data_key() -> bytes:
    """A fresh random AES-256 key for one file."""
    return secrets.token_bytes(32)


def _segment_nonce(prefix: bytes, index: int, *, last: bool) -> bytes:
    if index >= _STREAM_MAX_SEGMENTS:
        raise ValueError("the value is too long for one stream")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _stream_aad(context: str, header: bytes) -> bytes:
    return context.encode() + b"\x00" + header


def encrypt_stream(
    chunks: Iterable[bytes], *, key: bytes, context: str, chunk_size: int = STREAM_CHUNK
) -> Iterator[bytes]:
    """The ciphertext of the concatenated `chunks`, produced piece by piece (header first) with at most
    about one `chunk_size` of plaintext held in memory. `context` is authenticated (bind a file to its
    owner: "clinical.document:<id>")."""
    if len(key) != 32:
        raise ValueError("a data key is 32 bytes (AES-256)")
    if not 0 < chunk_size <= _STREAM_MAX_CHUNK:
        raise ValueError(f"chunk_size must be between 1 and {_STREAM_MAX_CHUNK}")
    prefix = secrets.token_bytes(_STREAM_PREFIX)
    header = STREAM_MAGIC + chunk_size.to_bytes(4, "big") + prefix
    aad, aead = _stream_aad(context, header), AESGCM(key)
    yield header
    buffer, index = bytearray(), 0
    for chunk in chunks:
        buffer += chunk
        # A full segment leaves only while more data follows it: the last segment is sealed as last.
        while len(buffer) > chunk_size:
            yield aead.encrypt(_segment_nonce(prefix, index, last=False), bytes(buffer[:chunk_size]), aad)
            del buffer[:chunk_size]
            index += 1
    yield aead.encrypt(_segment_nonce(prefix, index, last=True), bytes(buffer), aad)


def _read_exactly(source: Any, size: int) -> bytes:
    """Up to `size` bytes, fewer only at the end of `source` (a stream may return short reads)."""
    out = bytearray()
    while len(out) < size:
        piece = source.read(size - len(out))
        if not piece:
            break
        out += piece
    return bytes(out)


def decrypt_stream(source: Any, *, key: bytes, context: str) -> Iterator[bytes]:
    """The plaintext of a stream made by `encrypt_stream`, read from the binary file-like `source`, one
    authenticated segment at a time. Raises DecryptionError on anything altered, truncated, extended,
    or sealed under another key or context."""
    header = _read_exactly(source, _STREAM_HEADER)
    if len(header) != _STREAM_HEADER or not header.startswith(STREAM_MAGIC):
        raise DecryptionError("the value is not a PHB encrypted stream")
    chunk_size = int.from_bytes(header[len(STREAM_MAGIC) : len(STREAM_MAGIC) + 4], "big")
    if not 0 < chunk_size <= _STREAM_MAX_CHUNK:
        raise DecryptionError("the stream's header is not valid")
    prefix, aad, aead = header[-_STREAM_PREFIX:], _stream_aad(context, header), AESGCM(key)
    segment = chunk_size + _STREAM_TAG

    def open_segment(sealed: bytes, index: int, *, last: bool) -> bytes:
        try:
            return aead.decrypt(_segment_nonce(prefix, index, last=last), sealed, aad)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(
                f"segment {index} of a stream did not authenticate (wrong key or context, altered or truncated)"
            ) from exc

    current, index = _read_exactly(source, segment), 0
    while True:
        if len(current) < segment:  # a short segment can only be the last one
            yield open_segment(current, index, last=True)
            return
        following = _read_exactly(source, segment)
        if not following:
            yield open_segment(current, index, last=True)
            return
        yield open_segment(current, index, last=False)
        current, index = following, index + 1
