"""verifyCredentials: a key is good when it starts with 'good-' (a real verifier would call its service)."""

from typing import Any


def verify(cfg: dict[str, Any]) -> dict[str, Any]:
    key = str(cfg.get("api_key") or "")
    if key.startswith("good-"):
        return {"verified": True}
    return {"verified": False, "reason": "the service refused the key: it must start with 'good-'"}
