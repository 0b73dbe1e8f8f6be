"""The 'greet' action, its select model and its dynamic metadata.

The runtime finds ``languages`` (named by the field's ``model``) and ``get_meta_model`` in the
module of the action's ``main``, i.e. here.
"""

from typing import Any

from greetings import GREETINGS

from conflux_runtime import Rebound


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> dict[str, Any]:
    language = cfg.get("language") or "en"
    if language not in GREETINGS:
        raise ValueError(f"cfg 'language' is {language!r}; choose one of {', '.join(GREETINGS)}")
    body = msg.get("body") or {}
    name = body.get("name") if isinstance(body, dict) else None
    if not name:
        raise ValueError("the message body has no 'name' to greet, e.g. {\"name\": \"Ada\"}")
    if name == "later":
        raise Rebound("asked to try again later", delay=5)
    emit.log.info("greeting", language=language)
    return {"greeting": f"{GREETINGS[language][1]}, {name}{cfg.get('punctuation', '!')}", "language": language}


def languages(cfg: dict[str, Any]) -> dict[str, str]:
    """selectModel for the 'language' field: value -> label."""
    return {code: label for code, (label, _) in GREETINGS.items()}


def get_meta_model(cfg: dict[str, Any]) -> dict[str, Any]:
    """getMetaModel: the output schema names the configured language."""
    language = cfg.get("language") or "en"
    return {
        "in": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "out": {
            "type": "object",
            "properties": {"greeting": {"type": "string"}, "language": {"const": language}},
            "required": ["greeting", "language"],
        },
    }
