"""The ``component_call`` activity: one service call (verifyCredentials, getMetaModel, selectModel)
in a fresh container of the component, with the credential decrypted here and nowhere else.

What goes wrong is answered, not raised: the API route waiting for it turns each kind into its own
status (the component's verdict or error, a container that could not run, a credential that
cannot be read), and there is nothing to retry for a caller who is waiting.
"""

import asyncio
from collections.abc import Mapping
from typing import Any

from temporalio import activity

from catalog.components import ComponentInfo
from conflux.credential_store import CredentialMissing, CredentialStore, laid_over
from conflux.keys import KeyRingError
from steps.errors import StepFailure
from steps.pool import WarmPool
from steps.protocol import StepRequest
from steps.spec import ContainerSpec
from workflows.component_call import ComponentAnswer, ComponentCall


class ComponentCallActivities:
    def __init__(self, pool: WarmPool, catalog: Mapping[str, ComponentInfo], credentials: CredentialStore) -> None:
        self.pool = pool
        self.catalog = catalog
        self.credentials = credentials

    @activity.defn(name="component_call")
    async def component_call(self, call: ComponentCall) -> ComponentAnswer:
        component = self.catalog.get(call.component)
        if component is None:
            known = ", ".join(sorted(self.catalog)) or "none"
            return ComponentAnswer(error=f"this worker has no component '{call.component}' (it has: {known}); give "
                                         "the worker and the API the same CONFLUX_COMPONENT_DIRS",
                                   error_kind="container")
        try:
            cfg = await asyncio.to_thread(self._config, call)
        except (CredentialMissing, KeyRingError) as problem:
            return ComponentAnswer(error=str(problem), error_kind="credential")
        request = StepRequest(id=call.type, type=call.type, function=call.function, method=call.method, cfg=cfg)
        try:
            [outcome] = await self.pool.run_fresh(self._spec(component, call), [request], call.timeout,
                                                  origin=f"component/{component.name}", standby=0)
        except StepFailure as failure:
            return ComponentAnswer(error=f"component '{component.name}': {failure}", error_kind="container")
        if outcome.error is not None or outcome.rebound is not None:
            error = outcome.error or outcome.rebound
            assert error is not None
            return ComponentAnswer(error=f"{error.name}: {error.message}", error_kind="component")
        return ComponentAnswer(result=outcome.result)

    def _config(self, call: ComponentCall) -> dict[str, Any]:
        """The step's config with the credential's fields laid over it, as a step's container gets it."""
        if call.sealed is not None:
            fields = self.credentials.open_sealed(call.sealed)
        elif call.credential is not None:
            fields = self.credentials.fields(call.credential)
        else:
            fields = {}
        return laid_over(call.config, fields)

    @staticmethod
    def _spec(component: ComponentInfo, call: ComponentCall) -> ContainerSpec:
        return ContainerSpec(image=component.image, component_dir=component.directory,
                             network="host" if call.network else "none",
                             labels={"conflux.component-call": call.type},
                             name_hint=f"{call.type} of component '{component.name}'")
