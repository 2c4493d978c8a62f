"""Stubs of the extension module ``scfruntime._scfruntime`` (hand-maintained; checked with
``python -m mypy.stubtest scfruntime._scfruntime``)."""

from typing import Any, Callable, final

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

__version__: str

class ScfRuntimeError(Exception):
    """Base class of every error scfruntime raises."""

class ConfigError(ScfRuntimeError):
    """The SCF environment is missing or malformed (SCF_RUNTIME_API, SCF_RUNTIME_API_PORT,
    SCFRUNTIME_MODE, SCFRUNTIME_LISTEN), or image mode cannot listen on its address."""

class RuntimeApiError(ScfRuntimeError):
    """The runtime API could not be reached or refused a call (ready or next), or image mode's
    event server stopped."""

class HandlerImportError(ScfRuntimeError):
    """Importing the handler's module failed (SCF status 443, user code error)."""

class HandlerNotFoundError(ScfRuntimeError):
    """The handler's module or function does not exist (SCF status 437, handler not found)."""

@final
class Context(dict[str, Any]):
    """The handler's ``context``: a dict with the keys of SCF's built-in Python runtime, in its
    order (``memory_limit_in_mb``, ``time_limit_in_ms``, ``request_id``, ``environment``,
    ``environ``, ``function_version``, ``function_name``, ``namespace``,
    ``tencentcloud_region``, ``tencentcloud_appid``, ``tencentcloud_uin``); it prints and
    serialises as that dict."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left until the invocation's deadline; 0 once it has passed."""

def run(handler: Callable[[Any, Context], object], *, max_invocations: int | None = None) -> None:
    """Serve ``handler(event, context)`` through the SCF runtime API named by the environment,
    or with ``SCFRUNTIME_MODE=image`` as an image-deployed function (``POST /event-invoke`` on
    ``SCFRUNTIME_LISTEN``, default ``0.0.0.0:9000``).

    Raises ConfigError, RuntimeApiError, and KeyboardInterrupt / SystemExit(0) on SIGINT /
    SIGTERM."""

def decode_event(body: bytes) -> Any:
    """The event a handler receives for the request body ``body``: what ``json.loads`` gives
    (decoded in Rust), the ``str`` when the body is UTF-8 but not JSON, else the ``bytes``."""

def encode_result(value: object) -> bytes:
    """The response body ``run`` posts for a handler's return value, as SCF's built-in runtime
    sends it: ``json.dumps(value, ensure_ascii=False)`` (encoded in Rust) after a top-level
    ``Decimal`` became its ``str``, so a ``str`` comes back JSON-quoted; ``bytes`` and
    ``bytearray`` as they are. Raises what ``json.dumps`` raises (TypeError, ValueError for a
    circular reference), UnicodeEncodeError for text that is not valid Unicode."""

def load_handler(spec: str) -> Callable[..., Any]:
    """Import the handler ``file.function`` (also ``dir/file.function``, ``dir.file.function``)
    from the current directory, the string read as every scfruntime bootstrap reads ``_HANDLER``
    (docs/handler.md: nothing trimmed or stripped, ASCII names). Raises HandlerImportError or
    HandlerNotFoundError."""

def main(argv: list[str] | None = None) -> int:
    """``python -m scfruntime [--max-invocations N] [HANDLER]``; returns the exit status."""
