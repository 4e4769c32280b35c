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
