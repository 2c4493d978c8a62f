"""Handlers the pytest suite serves; each is written for SCF's built-in Python runtime."""

import json
import logging
import os
import time

logger = logging.getLogger("handlers")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

# Where a code package finds its metadata and temporary role credentials; image mode puts each
# event's X-Scf-* values there too.
METADATA_VARIABLES = [
    "SCF_FUNCTIONNAME",
    "SCF_FUNCTIONVERSION",
    "SCF_NAMESPACE",
    "TENCENTCLOUD_REGION",
    "TENCENTCLOUD_APPID",
    "TENCENTCLOUD_UIN",
    "TENCENTCLOUD_SECRETID",
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
    "TRIGGER_SRC",
]
ENV_AT_IMPORT = {name: os.environ.get(name) for name in METADATA_VARIABLES}


def echo(event, context):
    return event


def main_handler(event, context):
    return {"event": event, "request_id": context["request_id"]}


def event_type(event, context):
    return {"type": type(event).__name__, "value": event if not isinstance(event, bytes) else list(event)}


def context_view(event, context):
    view = {k: context[k] for k in context}
    view["_is_dict"] = isinstance(context, dict)
    view["_remaining"] = context.get_remaining_time_in_millis()
    view["_json"] = json.loads(json.dumps(context))
    return view


def context_and_env(event, context):
    """The context (as context_view) plus the metadata variables now and at import."""
    view = context_view(event, context)
    view["_env"] = {name: os.environ.get(name) for name in METADATA_VARIABLES}
    view["_env_at_import"] = ENV_AT_IMPORT
    return view


def echo_logged(event, context):
    print(f"handled {len(json.dumps(event))} bytes")
    return event


def big_response(event, context):
    return "x" * (6 * 1024 * 1024 + 1)


def remaining(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()
    return {"first": first, "second": second, "limit": context["time_limit_in_ms"]}


class AppError(Exception):
    """A user exception with a module-qualified name."""


def _inner():
    raise KeyError("missing-key")


def fail(event, context):
    try:
        _inner()
    except KeyError as e:
        raise AppError("handler failed: 失败") from e


def unserialisable(event, context):
    return {"s": {1, 2}}


def returns_object(event, context):
    return object()


def returns_str(event, context):
    return "plain text, not JSON: 你好"


def returns_bytes(event, context):
    return b"\x00\xffraw"


def unicode(event, context):
    return {"text": "你好, мир", "event": event}


def talk(event, context):
    print("hello from print")
    print("two\nlines")
    logger.info("hello from logging")
    return "ok"


def size(event, context):
    return {"len": len(json.dumps(event)), "keys": len(event)}


def slow(event, context):
    time.sleep(float(event.get("seconds", 1)))
    return "late"


not_callable = 42


def maybe_fail(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": event}


def returns_utf8_bytes(event, context):
    return "bytes: 你好".encode()
