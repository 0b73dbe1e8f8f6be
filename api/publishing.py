"""A new active version exists: tell what runs. Every way a version becomes active (PUT /flows/{id},
POST /flows/{id}/publish, a rollback) ends here, so they all reach running flows alike.

Ordinary webhook flows need nothing: each message loads the active version. A running poller
takes the version for its next poll; a running real-time flow warms it up beside the old one and
switches without downtime. A switch between ordinary and real-time is a publish too: the flow
state row was already carried over in the transaction that stored the version
(FlowStates.carry_over), so here only the workflows are told: the real-time flow's workflow is
started (it queues messages while it warms up), or it drains what it accepted and stops while
new messages start ordinary runs.
"""

from api.flow_states import is_switch
from api.routes.pollers import publish_to_poller
from api.routes.realtime import publish_realtime, retire_realtime, start_realtime
from api.services import Services
from api.store import SaveOutcome
from flows.model import Flow


async def reach_what_runs(services: Services, outcome: SaveOutcome) -> None:
    """After a save that made a new active version (nothing to do for a first version or no change)."""
    if not outcome.changed or outcome.previous is None:
        return
    previous, new = outcome.previous.flow, outcome.stored.flow
    if is_switch(previous, new):
        await _switch_type(services, new)
        return
    await publish_to_poller(services, new)  # a running poller takes the new version
    await publish_realtime(services, new)  # a running real-time flow switches to it


async def _switch_type(services: Services, new: Flow) -> None:
    if services.flows.state(new.id) != "running":
        return  # it took no messages before the publish, and takes none after it
    if new.type == "realtime":
        await start_realtime(services, new)
    else:
        await retire_realtime(services, new.id)
