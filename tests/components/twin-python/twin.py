"""The Python twin of tests/components/twin-node: the same behaviour, written the Conflux way."""

from conflux_runtime import Rebound


def callback(msg, cfg, snapshot, emit):
    name = msg["body"]["name"]
    emit.data({"greeting": f"Hello, {name[:1].upper()}{name[1:]}"}, headers={"x-style": "callback"})


def promise(msg, cfg, snapshot, emit):
    emit.log.info(f"adding {msg['body']['a']} and {msg['body']['b']}")
    return {"sum": msg["body"]["a"] + msg["body"]["b"], "unit": cfg.get("unit") or "none"}


def many(msg):
    count = msg["body"].get("count") or 3
    for index in range(count):
        yield {"index": index, "of": count}


def rebound(msg):
    raise Rebound(f"target is down for {msg['body']['order']}")


def fail(msg):
    raise ValueError(f"cannot handle order {msg['body']['order']}")


def snapshot(msg, cfg, snapshot, emit):
    polls = snapshot.get("polls", 0) + 1
    if msg["body"].get("reset"):
        emit.snapshot({"polls": 0, "resetAt": msg["body"]["reset"]})
    else:
        emit.update_snapshot({"polls": polls, "last": msg["body"].get("since")})
    return {"previous": snapshot.get("last"), "polls": polls}


_state = {"startups": 0, "inits": 0, "calls": 0, "connection": None}


def hooks(msg, cfg):
    """Node's startup and init hooks, done the Python way: module state set up on the first call."""
    if _state["connection"] is None:
        _state["startups"] += 1
        _state["inits"] += 1
        _state["connection"] = {"name": cfg.get("name"), "opened": _state["inits"]}
    _state["calls"] += 1
    return {"connection": _state["connection"], "startups": _state["startups"], "calls": _state["calls"]}


def reply(msg, cfg, snapshot, emit):
    emit.update_keys({"access_token": f"token-{msg['body']['user']}"})
    emit.http_reply(201, {"created": msg["body"]["user"]}, {"x-twin": "yes"})
    return {"replied": True}


def passthrough(msg, cfg, snapshot, emit):
    return {
        "fromHook": msg["passthrough"]["hook"],
        "hookHeader": (msg.get("passthroughHeaders") or {}).get("hook", {}).get("x-source"),
        "region": emit.flow_variables.get("region"),
    }
