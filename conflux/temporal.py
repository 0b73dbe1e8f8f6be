"""How every Conflux process talks to Temporal: pydantic payloads, large ones stored by claim."""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, ExternalStorage
from temporalio.runtime import Runtime

from conflux.payload_store import LocalFolderDriver
from conflux.settings import PlatformSettings


def data_converter(settings: PlatformSettings) -> DataConverter:
    storage = ExternalStorage(drivers=[LocalFolderDriver(settings.blob_dir)],
                              payload_size_threshold=settings.blob_threshold_bytes)
    return dataclasses.replace(pydantic_data_converter, external_storage=storage)


async def connect(settings: PlatformSettings, runtime: Runtime | None = None) -> Client:
    """``runtime``: the SDK's (telemetry) runtime, None for its default."""
    return await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                data_converter=data_converter(settings), runtime=runtime)
