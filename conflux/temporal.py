"""How every Conflux process talks to Temporal: pydantic payloads, encrypted, large ones stored by claim.

The SDK runs the codec before external storage (``DataConverter.encode``: convert, codec, store), so
what reaches the blob folder is already encrypted and Temporal's history keeps only a claim to it.
Failures carry their message and stack trace as an encoded attribute, so the codec covers those too.
"""

import asyncio
import dataclasses
import logging
import time

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, ExternalStorage
from temporalio.runtime import Runtime

from conflux.keys import load_key_ring
from conflux.payload_codec import EncryptionCodec
from conflux.payload_store import LocalFolderDriver
from conflux.settings import PlatformSettings
from conflux.tracing import temporal_interceptors

log = logging.getLogger("conflux.temporal")
CONNECT_PATIENCE_SECONDS = 300.0


def encryption_codec(settings: PlatformSettings) -> EncryptionCodec:
    return EncryptionCodec(load_key_ring(settings.keys, settings.key_file))


def data_converter(settings: PlatformSettings, *, encrypted: bool = True,
                   codec: EncryptionCodec | None = None) -> DataConverter:
    """``codec``: one the caller holds already (its key ring read once), else one from the settings;
    ``encrypted=False`` only for measuring what the codec costs (bench/codec.py)."""
    storage = ExternalStorage(drivers=[LocalFolderDriver(settings.blob_dir)],
                              payload_size_threshold=settings.blob_threshold_bytes)
    if not encrypted:
        return dataclasses.replace(pydantic_data_converter, external_storage=storage)
    return dataclasses.replace(pydantic_data_converter, external_storage=storage,
                               payload_codec=codec or encryption_codec(settings),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


async def connect(settings: PlatformSettings, runtime: Runtime | None = None, *, encrypted: bool = True,
                  codec: EncryptionCodec | None = None) -> Client:
    """``runtime``: the SDK's (telemetry) runtime, None for its default; ``codec`` and ``encrypted``
    as for ``data_converter``. With tracing on (conflux/tracing.py), the client and every worker
    on it trace through Temporal's OpenTelemetry interceptor."""
    converter = data_converter(settings, encrypted=encrypted, codec=codec)
    return await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                data_converter=converter, runtime=runtime, interceptors=temporal_interceptors())


async def connect_patiently(settings: PlatformSettings, runtime: Runtime | None = None, *,
                            patience: float = CONNECT_PATIENCE_SECONDS, pause: float = 1.0) -> Client:
    """``connect``, tried again every ``pause`` seconds for up to ``patience`` while the server does
    not answer: a worker started (or restarted after a crash) while Temporal itself restarts, or
    before it is up, waits for it instead of exiting. Once connected, the SDK reconnects by itself."""
    give_up = time.monotonic() + patience
    while True:
        try:
            return await connect(settings, runtime)
        except RuntimeError as exc:  # the SDK's "Failed client connect: ..." with the transport's reason
            if time.monotonic() + pause > give_up:
                raise RuntimeError(f"Temporal at {settings.temporal_address} did not answer within {patience:g} s "
                                   f"(is it running? CONFLUX_TEMPORAL_ADDRESS): {exc}") from None
            log.warning("Temporal at %s does not answer yet; trying again in %g s: %s",
                        settings.temporal_address, pause, exc)
            await asyncio.sleep(pause)
