"""GET /healthz: 200 when Temporal answers and the database reads, 503 saying which does not."""

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.errors import TemporalUnavailable
from api.services import Services, ServicesDep

router = APIRouter(tags=["health"])
PROBE_TIMEOUT = timedelta(seconds=3)


@router.get("/healthz")
async def healthz(services: ServicesDep) -> JSONResponse:
    checks = {"temporal": await _temporal(services), "db": await _db(services)}
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if healthy else "unhealthy", **checks}, status_code=200 if healthy else 503)


async def _temporal(services: Services) -> str:
    try:
        client = await services.client()
        serving = await client.service_client.check_health(timeout=PROBE_TIMEOUT)
    except TemporalUnavailable as exc:
        return f"Temporal at {services.settings.temporal_address} is not reachable: {exc.reason}"
    except Exception as exc:  # any transport failure means "not reachable"; say which
        return f"Temporal at {services.settings.temporal_address} does not answer: {exc}"
    return "ok" if serving else f"Temporal at {services.settings.temporal_address} answers but is not serving"


async def _db(services: Services) -> str:
    try:
        await asyncio.to_thread(services.store.ping)
    except Exception as exc:  # sqlite3.Error, or the file/folder gone: report, do not crash the probe
        return f"database {services.settings.db_path} cannot be read: {exc}"
    return "ok"
