"""Fixtures: the scfrt and embedded-bootstrap binaries, function packages for both Python routes,
and a fake SCF runtime API on 127.0.0.1:0 for the protocol-level cases scfrt cannot drive.

Environment:
  SCFRT_BIN              scfrt binary (default: built with cargo)
  SCF_PYTHON_BOOTSTRAP   the embedded-Python bootstrap (default: built with cargo)
  CARGO_TARGET_DIR       honoured when building them
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = Path(__file__).resolve().parent / "handlers"
ROUTES = ["wheel", "embedded"]
# Every subprocess and wait in this suite is bounded by these.
PROCESS_TIMEOUT = 60
BUILD_TIMEOUT = 900


def _cargo_binary(env_var: str, package: str, binary: str) -> Path:
    given = os.environ.get(env_var)
    if given:
        path = Path(given)
        assert path.is_file(), f"{env_var}={given} does not exist"
        return path
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", package], cwd=ROOT, check=True, timeout=BUILD_TIMEOUT
    )
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
    )
    path = Path(json.loads(meta.stdout)["target_directory"]) / "debug" / binary
    assert path.is_file(), f"cargo built {package} but {path} is missing"
    return path


@pytest.fixture(scope="session")
def scfrt_bin() -> Path:
    return _cargo_binary("SCFRT_BIN", "scfrt", "scfrt")


@pytest.fixture(scope="session")
def bootstrap_bin() -> Path:
    return _cargo_binary("SCF_PYTHON_BOOTSTRAP", "scf-bootstrap-python", "scf-python-bootstrap")


def make_package(dest: Path, route: str, bootstrap_bin: Path | None, source: Path = HANDLERS) -> Path:
    """A function package: the handlers of `source` (the test handlers by default) plus a
    `bootstrap` for `route`.

    wheel: a shell script running `python -m scfruntime "$_HANDLER"` with this interpreter (the
    venv with the extension installed); embedded: a copy of the embedded-Python bootstrap.
    """
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    boot = dest / "bootstrap"
    if route == "wheel":
        boot.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scfruntime "$_HANDLER"\n')
    else:
        assert bootstrap_bin is not None
        shutil.copy2(bootstrap_bin, boot)
    boot.chmod(0o755)
    return dest


@pytest.fixture(params=ROUTES)
def route(request) -> str:
    return request.param


@pytest.fixture
def package(route: str, tmp_path: Path, request) -> Path:
    boot = request.getfixturevalue("bootstrap_bin") if route == "embedded" else None
    return make_package(tmp_path / f"pkg-{route}", route, boot)


@dataclass
class Invoked:
    """What `scfrt invoke` printed: one Result per event, plus its exit status and stderr."""

    returncode: int
    results: list[dict]
    stderr: str

    def ret(self, i: int = 0):
        """The i-th response body, JSON-decoded."""
        return json.loads(self.results[i]["RetMsg"])

    def err(self, i: int = 0) -> dict:
        """The i-th error body, JSON-decoded."""
        return json.loads(self.results[i]["ErrMsg"])


@pytest.fixture
def invoke(scfrt_bin: Path):
    """Run `scfrt invoke <pkg> --handler H --event E...` and parse its Invoke JSON lines."""

    def run(pkg: Path, handler: str, *events: str, args: tuple[str, ...] = (), event_files=()):
        cmd = [str(scfrt_bin), "invoke", str(pkg), "--handler", handler, *args]
        for e in events:
            cmd += ["--event", e]
        for f in event_files:
            cmd += ["--event-file", str(f)]
        proc = subprocess.run(cmd, capture_output=True, timeout=PROCESS_TIMEOUT)
        lines = [ln for ln in proc.stdout.decode().splitlines() if ln.strip()]
        results = [json.loads(ln)["Response"]["Result"] for ln in lines]
        return Invoked(proc.returncode, results, proc.stderr.decode(errors="replace"))

    return run


# SCF's error body for an exception in user code (docs/python.md, "Handler error: the result"):
# these keys in this order, compact JSON.
ERROR_KEYS = ["errorCode", "errorMessage", "requestId", "stackTrace", "statusCode"]


def user_error(body: str | bytes, request_id: str) -> str:
    """Check that `body` is SCF's user-code error for `request_id`, byte for byte (key order,
    compact separators, UTF-8 as is, errorCode -1, statusCode 430, the fixed message); return its
    stackTrace, which is `traceback.format_exception`'s text without the final newline."""
    text = body.decode() if isinstance(body, bytes) else body
    err = json.loads(text)
    assert list(err) == ERROR_KEYS, text
    assert err["errorCode"] == -1 and err["statusCode"] == 430, text
    assert err["errorMessage"] == "user code exception caught", text
    assert err["requestId"] == request_id, text
    trace = err["stackTrace"]
    assert isinstance(trace, str) and not trace.endswith("\n"), text
    assert text == json.dumps(err, ensure_ascii=False, separators=(",", ":")), text
    return trace


def source_frame(path: Path, line: str, function: str) -> str:
    """The two lines a traceback prints for the statement `line` (unique in `path`, stripped) in
    `function`: `  File "<path>", line N, in <function>` and the statement itself. Statements
    given here fill their line, so Python prints no `^^^` markers under them."""
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    assert lines.count(line) == 1, (path, line)
    return f'  File "{path}", line {lines.index(line) + 1}, in {function}\n    {line}'


def json_dumps_trace(value) -> str:
    """The stackTrace SCF reports for a result json.dumps cannot encode: the traceback of
    `json.dumps(value, ensure_ascii=False)` from json.dumps's own frame down (the frame calling
    it is not part of it), as `traceback.format_exception` writes it, without the final newline.
    Computed with this interpreter: the stdlib's lines must be the bootstraps' Python's."""
    try:
        json.dumps(value, ensure_ascii=False)
    except TypeError as e:
        assert e.__traceback__ is not None
        e.__traceback__ = e.__traceback__.tb_next
        return "".join(traceback.format_exception(e)).rstrip("\n")
    raise AssertionError(f"json.dumps encoded {value!r}")


def log_body(res: dict) -> str:
    """What the function wrote during the invocation `res`: the Log between its `START` and
    `END` lines, asserting both are there (so that text is inside its own invocation)."""
    rid, log = res["FunctionRequestId"], res["Log"]
    start, end = f"START RequestId: {rid}\n", f"END RequestId: {rid}\n"
    assert log.startswith(start), log
    assert log.count(end) == 1, log
    body = log[len(start) : log.index(end)]
    assert body == "" or body.endswith("\n"), log
    return body


@dataclass
class Post:
    path: str
    body: bytes


@dataclass
class FakeRuntimeApi:
    """A fake SCF runtime API: `push` queues events; posts are recorded in `posts`."""

    server: ThreadingHTTPServer
    events: queue.Queue = field(default_factory=queue.Queue)
    posts: queue.Queue = field(default_factory=queue.Queue)
    polling: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    seq: int = 0

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCF_", "TENCENTCLOUD_"))}
        env.update(
            SCF_RUNTIME_API="127.0.0.1",
            SCF_RUNTIME_API_PORT=str(self.port),
            SCF_FUNCTIONNAME="fake-fn",
            SCF_FUNCTIONVERSION="$LATEST",
            SCF_NAMESPACE="default",
        )
        env.update(extra)
        return env

    def push(self, body: bytes, time_limit_ms: int = 3000) -> str:
        self.seq += 1
        rid = f"req-{self.seq}"
        self.events.put((rid, body, time_limit_ms))
        return rid

    def next_post(self, timeout: float = 10) -> Post:
        return self.posts.get(timeout=timeout)


@pytest.fixture
def fake_api():
    api_box: list[FakeRuntimeApi] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Head and body go out in two writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK (~40 ms per request).
        disable_nagle_algorithm = True

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _answer(self, status: int, body: bytes = b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            api = api_box[0]
            if self.path != "/runtime/invocation/next":
                return self._answer(404)
            api.polling.set()
            try:
                # Bounded: a test that never pushes an event ends its process another way.
                rid, body, limit = api.events.get(timeout=PROCESS_TIMEOUT)
            except queue.Empty:
                return self._answer(504)
            api.polling.clear()
            self._answer(
                200,
                body,
                [("request_id", rid), ("memory_limit_in_mb", "128"), ("time_limit_in_ms", str(limit))],
            )

        def do_POST(self):
            api = api_box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/runtime/init/ready":
                api.ready.set()
            elif self.path in ("/runtime/invocation/response", "/runtime/invocation/error"):
                api.posts.put(Post(self.path, body))
            else:
                return self._answer(404)
            self._answer(200)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    api = FakeRuntimeApi(server)
    api_box.append(api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


def free_port() -> int:
    """A port nothing listens on now (for an image-mode server started right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen | None = None, limit: float = PROCESS_TIMEOUT):
    """Block until 127.0.0.1:port accepts a connection, as SCF's health check does: bounded
    attempts 1 ms apart, doubling up to 50 ms; fails when `proc` exits or `limit` passes."""
    deadline = time.monotonic() + limit
    interval = 0.001
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            pass
        assert proc is None or proc.poll() is None, f"the bootstrap exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"nothing listens on {port} after {limit} s"
        time.sleep(interval)
        interval = min(interval * 2, 0.05)


def post_event(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST /event-invoke as SCF sends it; returns the answer's status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROCESS_TIMEOUT)
    try:
        conn.request("POST", "/event-invoke", body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()
