"""Tencent Cloud SCF custom runtime for Python handlers, over a Rust transport.

Serve a handler written for SCF's built-in Python runtime::

    import scfruntime

    def main_handler(event, context):
        return {"hello": event.get("name"), "request_id": context["request_id"]}

    scfruntime.run(main_handler)

or, without a line of glue, ``python -m scfruntime index.main_handler``.

``decode_event(body)`` and ``encode_result(value)`` are the two conversions ``run`` applies
(JSON in Rust, with ``json.loads`` / ``json.dumps(value, ensure_ascii=False)`` semantics), for
testing a handler with exactly the event it will receive and the bytes it will send.
"""

from scfruntime._scfruntime import (
    ConfigError,
    Context,
    HandlerImportError,
    HandlerNotFoundError,
    RuntimeApiError,
    ScfRuntimeError,
    __version__,
    decode_event,
    encode_result,
    load_handler,
    main,
    run,
)

__all__ = [
    "ConfigError",
    "Context",
    "HandlerImportError",
    "HandlerNotFoundError",
    "RuntimeApiError",
    "ScfRuntimeError",
    "__version__",
    "decode_event",
    "encode_result",
    "load_handler",
    "main",
    "run",
]
