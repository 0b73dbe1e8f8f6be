"""A step's credential inside its activity: decrypted right before the container gets it, and what
the component refreshed (``updateKeys``) sealed and stored again. Workflows carry only the
credential's id, so its fields never enter Temporal's history (docs/security.md)."""

import asyncio
import logging
import sqlite3
from typing import Any

from conflux.credential_store import CredentialMissing, CredentialStore
from conflux.keys import KeyRingError
from flows.model import Step
from flows.router_config import step_config

log = logging.getLogger("conflux.credentials")


class CredentialUnavailable(Exception):
    """The step's credential cannot be read: deleted, or sealed under a key the ring lacks."""


class StepCredentials:
    def __init__(self, store: CredentialStore) -> None:
        self.store = store

    async def config(self, step: Step) -> dict[str, Any]:
        """The step's ``config`` (a router's with its branch conditions) with its credential's fields
        laid over it (a name in both: the credential's, so a definition cannot stand in for what the
        credential's owner stored)."""
        if step.credential is None:
            return step_config(step)
        try:
            fields = await asyncio.to_thread(self.store.fields, step.credential)
        except (CredentialMissing, KeyRingError) as problem:
            raise CredentialUnavailable(f"step '{step.id}': credential '{step.credential}': {problem}") from None
        return {**step_config(step), **fields}

    async def keep(self, step: Step, keys: dict[str, Any] | None) -> None:
        """Store what the component refreshed. The step's work stands either way: a failure here is
        logged, not the step's (its effects happened; running it again would repeat them)."""
        if not keys:
            return
        if step.credential is None:
            log.warning("step '%s' (%s) emitted updateKeys but names no credential: the keys were dropped",
                        step.id, step.component)
            return
        try:
            await asyncio.to_thread(self.store.update_fields, step.credential, keys)
        except (CredentialMissing, KeyRingError, sqlite3.Error) as problem:
            log.error("step '%s': the keys it refreshed were not stored: %s", step.id, problem)
