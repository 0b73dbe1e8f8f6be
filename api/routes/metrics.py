"""GET /metrics: the API's metrics in Prometheus' text format (api/metrics.py; the worker serves
its own on CONFLUX_METRICS_ADDRESS)."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.metrics import REGISTRY

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics() -> Response:
    """Messages accepted and refused per flow and reason, request-reply outcomes, intake latency."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
