"""Every payload Conflux gives Temporal is encrypted (AES-GCM, conflux/keys.py), so Temporal's
database, its exports and the blob folder hold no message in plaintext; the API's codec endpoint
decrypts them again for the Temporal UI and CLI.

An encrypted payload is the whole original payload (its metadata and data) sealed, with the key id
beside it in the metadata, so any key of the ring reads it and keys rotate. A payload without the
``binary/encrypted`` encoding was written before the codec existed and passes through as it is:
workflows that were running then go on.
"""

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from conflux.keys import KeyRing, Sealed

ENCODING = b"binary/encrypted"
KEY_ID_FIELD = "encryption-key-id"
# Binds a blob to this use: a sealed credential pasted into a history does not decrypt as a payload.
ASSOCIATED = b"conflux/temporal-payload"


class PayloadNotDecodable(ValueError):
    """An encrypted payload without its key id (written by something else, or damaged)."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        sealed = self.ring.encrypt(payload.SerializeToString(), ASSOCIATED)
        return Payload(metadata={"encoding": ENCODING, KEY_ID_FIELD: sealed.key_id.encode()}, data=sealed.blob)

    def open(self, payload: Payload) -> Payload:
        """Decrypted, or the payload itself when it is not encrypted (written before the codec)."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_FIELD)
        if not key_id:
            raise PayloadNotDecodable(f"an encrypted payload has no '{KEY_ID_FIELD}' in its metadata; "
                                      "it was not written by Conflux's codec")
        plain = Payload()
        plain.ParseFromString(self.ring.decrypt(Sealed(key_id.decode(), payload.data), ASSOCIATED))
        return plain
