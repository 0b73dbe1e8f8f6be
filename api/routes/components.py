"""What a step's configuration form needs from its component: the JSON Schemas of a function's input
and output for that configuration (``getMetaModel``), and a select field's options (``selectModel``).
Both are asked of the component's own code in its container, through a worker
(api/component_calls.py), with a stored credential's fields laid over the configuration."""

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from api.component_calls import ComponentRefused, call_component
from api.credential_lookup import stored_credential
from api.errors import ApiError
from api.responses import CamelModel
from api.services import Services, ServicesDep
from catalog.components import ComponentInfo
from flows.model import ID_PATTERN
from workflows.component_call import ComponentCall, ServiceCall

router = APIRouter(tags=["components"])
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown component, function, field or credential"},
    422: {"description": "the component's code failed for this configuration"},
    504: {"description": "no worker answered in time"},
}


class StepConfiguration(CamelModel):
    function: str = Field(description="the trigger or action of the component")
    config: dict[str, Any] = Field(default_factory=dict, description="the step's config as a flow would give it")
    credential: str | None = Field(default=None, pattern=ID_PATTERN, description=(
        "a stored credential of this component: its fields are laid over config, as for a step"))
    network: bool = Field(default=False, description="run the container with host networking, as a step may")


class SelectField(StepConfiguration):
    field: str = Field(description="the select field (its 'model' names the options or the function giving them)")


class SelectOptions(CamelModel):
    options: Any = Field(description="value -> label, as the component gave them")


@router.post("/components/{name}/metamodel", responses=ANSWERS)
async def meta_model(name: str, body: StepConfiguration, services: ServicesDep) -> Any:
    """``{"in": schema, "out": schema}``: the component's ``get_meta_model(cfg)`` if its module has one,
    else the descriptor's ``metadata``."""
    component = await _checked(services, name, body)
    return await _ask(services, component, "getMetaModel", body)


@router.post("/components/{name}/select-model", response_model=SelectOptions, responses=ANSWERS)
async def select_model(name: str, body: SelectField, services: ServicesDep) -> SelectOptions:
    """A field whose ``model`` is the options themselves is answered from the descriptor; one naming a
    function is asked of the component."""
    component = await _checked(services, name, body)
    spec = (component.function_spec(body.function).get("fields") or {}).get(body.field)
    if not isinstance(spec, dict) or spec.get("model") is None:
        selects = [field for field, definition in (component.function_spec(body.function).get("fields") or {}).items()
                   if isinstance(definition, dict) and definition.get("model") is not None]
        raise ApiError(404, f"'{name}/{body.function}' has no select field '{body.field}' (fields with a model: "
                            f"{', '.join(selects) or 'none'})")
    model = spec["model"]
    if isinstance(model, dict):
        return SelectOptions(options=model)
    return SelectOptions(options=await _ask(services, component, "selectModel", body, method=str(model)))


async def _ask(services: Services, component: ComponentInfo, kind: ServiceCall, body: StepConfiguration,
               method: str | None = None) -> Any:
    call = ComponentCall(component=component.name, type=kind, function=body.function, method=method,
                         config=body.config, credential=body.credential, network=body.network)
    try:
        return await call_component(services, call)
    except ComponentRefused as error:
        raise ApiError(422, f"component '{component.name}' answered {kind} for '{body.function}' with an error: "
                            f"{error}") from None


async def _checked(services: Services, name: str, body: StepConfiguration) -> ComponentInfo:
    """The component, once the function and the credential are known to fit it."""
    component = services.catalog.get(name)
    if component is None:
        raise ApiError(404, f"there is no component '{name}' (components: {', '.join(sorted(services.catalog))})")
    try:
        component.function_spec(body.function)
    except KeyError as unknown:
        raise ApiError(404, str(unknown.args[0])) from None
    if body.credential is not None:
        info = await stored_credential(services, body.credential)
        if info.component != name:
            raise ApiError(422, f"credential '{body.credential}' belongs to component '{info.component}', not "
                                f"'{name}'")
    return component
