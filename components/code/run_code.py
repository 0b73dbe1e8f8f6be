"""Code action: runs the user's Python as the body of ``run(msg, cfg, snapshot, emit)``.

What ``run`` returns or yields is emitted as for any component function: a value is one
message, each yielded item one message, ``None`` nothing; ``raise Rebound("...")`` retries later.
"""

from typing import Any

from user_code import UserCodeError, function_for


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> Any:
    code = cfg.get("code")
    if not isinstance(code, str) or not code.strip():
        raise UserCodeError("cfg 'code' is required: the body of run(msg, cfg, snapshot, emit), "
                            "e.g. return msg['body']")
    return function_for(code)(msg, cfg, snapshot, emit)
