"""verifyCredentials: the runtime calls it for a ``verifyCredentials`` request, which the platform sends
when a credential is saved (POST /credentials), before any flow uses it."""

from typing import Any


def verify(cfg: dict[str, Any]) -> dict[str, Any]:
    """A real component would call its service here; the example only checks the key's shape."""
    key = str(cfg.get("api_key") or "")
    if key.startswith("greet-"):
        return {"verified": True}
    return {"verified": False, "reason": "the API key must start with 'greet-'"}
