"""Large payloads go to a content-addressed folder, and Temporal's history keeps only a claim.

A 10,000-record poll or a 1 MB webhook body would otherwise crowd the history toward its 50 MiB
limit (and a single payload past 2 MiB fails). This is Temporal's external-storage hook with a
local driver: every process that reads the history (worker, API) must see the same folder.
"""

import asyncio
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)


class PayloadStoreMissing(LookupError):
    """A claim whose file is gone (the blob folder was cleaned or is not shared)."""


class LocalFolderDriver(StorageDriver):
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def name(self) -> str:
        return "conflux-local"

    async def store(self, context: StorageDriverStoreContext, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        return await asyncio.to_thread(lambda: [self._store(payload) for payload in payloads])

    async def retrieve(self, context: StorageDriverRetrieveContext,
                       claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return await asyncio.to_thread(lambda: [self._retrieve(claim) for claim in claims])

    def _store(self, payload: Payload) -> StorageDriverClaim:
        data = payload.SerializeToString()
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, path)
        return StorageDriverClaim(claim_data={"key": key, "size": str(len(data))})

    def _retrieve(self, claim: StorageDriverClaim) -> Payload:
        key = claim.claim_data["key"]
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            raise PayloadStoreMissing(f"payload {key} is not in {self.folder}: the worker and the API must share "
                                      "CONFLUX_BLOB_DIR") from None
        payload = Payload()
        payload.ParseFromString(data)
        return payload

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / key
