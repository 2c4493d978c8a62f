"""Tencent Cloud SCF custom runtime for Python handlers, over a Rust transport.

Serve a handler written for SCF's built-in Python runtime::

    import scfruntime

    def main_handler(event, context):
        return {"hello": event.get("name"), "request_id": context["request_id"]}

    scfruntime.run(main_handler)

or, without a line of glue, ``python -m scfruntime index.main_handler``.
"""

from scfruntime._scfruntime import (
    ConfigError,
    Context,
    HandlerImportError,
    HandlerNotFoundError,
    RuntimeApiError,
    ScfRuntimeError,
    __version__,
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
    "load_handler",
    "main",
    "run",
]
