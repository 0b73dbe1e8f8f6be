"""Encryption keys: a ring of 256-bit AES-GCM keys, each with an id. The first key encrypts; every
key decrypts what it encrypted, so keys rotate by putting a new one first and dropping the old one
once nothing it encrypted is kept any more.

Where the ring comes from (``PlatformSettings``): ``CONFLUX_KEYS`` (``id:base64key`` entries,
comma-separated, the active one first) or else the key file ``CONFLUX_KEY_FILE`` (one ``id
base64key`` line per key, the active one first; ``#`` starts a comment). A missing key file is
created with one fresh key (mode 0600), so the local stack needs no set-up; in production, give
every API and worker process the same keys.

AES-GCM is an AEAD cipher: a blob that was changed, or is decrypted with other associated data
(what it belongs to, e.g. a credential's id), fails to decrypt instead of yielding garbage.
"""

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyRingError(Exception):
    """Base of the key ring's errors."""


class KeyRingInvalid(KeyRingError):
    """The keys given cannot be used; the message says where and how to fix them."""


class UnknownKey(KeyRingError):
    """Data was encrypted with a key this ring does not hold."""

    def __init__(self, key_id: str, known: list[str]) -> None:
        super().__init__(f"data was encrypted with key '{key_id}', which is not among the keys given "
                         f"({', '.join(known)}); add that key back to CONFLUX_KEYS or the key file")
        self.key_id = key_id


class DecryptFailed(KeyRingError):
    """The blob was changed, truncated, or belongs to something else (other associated data)."""


@dataclass(frozen=True)
class Sealed:
    """What ``KeyRing.encrypt`` gives: the key id and nonce + ciphertext + tag."""

    key_id: str
    blob: bytes


class KeyRing:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise KeyRingInvalid("no encryption key given: set CONFLUX_KEYS or CONFLUX_KEY_FILE")
        ids = [key_id for key_id, _ in keys]
        if len(set(ids)) != len(ids):
            raise KeyRingInvalid(f"key ids must be unique, got {', '.join(ids)}")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        self.active_id = ids[0]
        self.key_ids = ids

    def encrypt(self, plaintext: bytes, associated: bytes = b"") -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(self.active_id, nonce + self._keys[self.active_id].encrypt(nonce, plaintext, associated))

    def decrypt(self, sealed: Sealed, associated: bytes = b"") -> bytes:
        cipher = self._keys.get(sealed.key_id)
        if cipher is None:
            raise UnknownKey(sealed.key_id, self.key_ids)
        try:
            return cipher.decrypt(sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:], associated)
        except InvalidTag:
            raise DecryptFailed(f"data encrypted with key '{sealed.key_id}' does not decrypt: it was changed, "
                                "or it belongs to something else") from None


def parse_keys(text: str, where: str) -> list[tuple[str, bytes]]:
    """``id base64key`` lines (or ``id:base64key`` entries separated by commas), the active one first."""
    keys = []
    entries = [entry for line in text.splitlines() for entry in line.split("#", 1)[0].split(",")]
    for number, entry in enumerate((e.strip() for e in entries if e.strip()), start=1):
        key_id, _, encoded = entry.replace(":", " ", 1).partition(" ")
        if not KEY_ID_PATTERN.match(key_id):
            raise KeyRingInvalid(f"{where}, key {number}: the id {key_id!r} is not 1-64 letters, digits, '.', '_', '-'")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyRingInvalid(f"{where}, key '{key_id}': not {KEY_BYTES} bytes in base64; make one with "
                                 "python -m conflux.keys")
        keys.append((key_id, key))
    return keys


def new_key_line(key_id: str | None = None) -> str:
    return f"{key_id or 'k' + secrets.token_hex(4)} {base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def load_key_ring(keys: str | None, key_file: Path) -> KeyRing:
    """From ``keys`` (CONFLUX_KEYS) when set, else from ``key_file``, created with one key if missing."""
    if keys:
        return KeyRing(parse_keys(keys, "CONFLUX_KEYS"))
    key_file = Path(key_file)
    if not key_file.exists():
        _create_key_file(key_file)
    return KeyRing(parse_keys(key_file.read_text(), str(key_file)))


def _create_key_file(key_file: Path) -> None:
    """Written whole, then linked into place: when an API and a worker start together, one file wins
    and neither reads a half-written one."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    draft = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("# Conflux encryption keys: the first encrypts, all decrypt (docs/security.md)\n"
                  + new_key_line() + "\n")
    try:
        os.link(draft, key_file)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


if __name__ == "__main__":
    print(new_key_line())  # a new key line to put first in the key file (rotation: docs/security.md)
