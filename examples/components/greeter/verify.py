"""verifyCredentials: the runtime calls it for a ``verifyCredentials`` request. Nothing in the platform
sends one yet (planned: when a user saves credentials, before any flow uses them)."""

from typing import Any


def verify(cfg: dict[str, Any]) -> dict[str, Any]:
    """A real component would call its service here; the example only checks the key's shape."""
    key = str(cfg.get("api_key") or "")
    if key.startswith("greet-"):
        return {"verified": True}
    return {"verified": False, "reason": "the API key must start with 'greet-'"}
