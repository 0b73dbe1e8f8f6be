"""Sends the credential's key and the body to ``cfg.url`` (the test's server sees what the container got);
the output names no key, so nothing of the credential is in a run's result."""

import json
import urllib.request
from typing import Any

REFRESHED = "good-refreshed-"


def send(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> dict[str, Any]:
    payload = {"api_key": cfg.get("api_key"), "account": cfg.get("account"), "body": msg.get("body")}
    request = urllib.request.Request(cfg["url"], data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        status = response.status
    key = str(cfg.get("api_key") or "")
    if cfg.get("refresh") and not key.startswith(REFRESHED):
        emit.update_keys({"api_key": REFRESHED + key.removeprefix("good-")})  # e.g. an OAuth token refreshed
    return {"sent": status}


def regions(cfg: dict[str, Any]) -> dict[str, str]:
    """Options only a verified key may see: the select model needs the credential."""
    if not str(cfg.get("api_key") or "").startswith("good-"):
        raise ValueError("the regions need the credential's api_key")
    return {"eu": "Europe", "us": "United States"}


def get_meta_model(cfg: dict[str, Any]) -> dict[str, Any]:
    if not cfg.get("api_key"):
        raise ValueError("the metadata needs the credential's api_key")
    region = cfg.get("region") or "eu"
    return {"in": {"type": "object"},
            "out": {"type": "object", "title": f"sent to {region}", "properties": {"sent": {"type": "integer"}}}}
