"""Protocol-level cases scfrt cannot drive: exact bytes on the wire, events that are not JSON,
`scfruntime.run` in this process, and stop signals during the long poll."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import scfruntime
from conftest import PROCESS_TIMEOUT, make_package, user_error

RESPONSE = "/runtime/invocation/response"
ERROR = "/runtime/invocation/error"


@pytest.fixture
def in_process_env(fake_api, monkeypatch):
    for k, v in fake_api.env().items():
        monkeypatch.setenv(k, v)
    return fake_api


def test_run_in_process_event_kinds_and_exact_bytes(in_process_env):
    api = in_process_env
    seen = []

    def handler(event, context):
        seen.append(event)
        kind = event.get("kind") if isinstance(event, dict) else None
        if kind == "bytes":
            return b"\x00\xffraw"
        if kind == "unicode":
            return {"t": "你好"}
        return None

    api.push(b"not json {")
    api.push(b"\xff\xfe\x00binary")
    api.push(b'{"kind": "bytes"}')
    api.push(b'{"kind": "unicode"}')
    api.push(b"")
    scfruntime.run(handler, max_invocations=5)

    assert seen[:2] == ["not json {", b"\xff\xfe\x00binary"]
    assert seen[4] == ""
    posts = [api.next_post() for _ in range(5)]
    assert [p.path for p in posts] == [RESPONSE] * 5
    assert posts[0].body == b"null"
    assert posts[2].body == b"\x00\xffraw"
    assert posts[3].body == '{"t": "你好"}'.encode()
    assert api.ready.is_set()


def test_run_in_process_error_body_and_streams_restored(in_process_env, capfd):
    api = in_process_env
    stdout_before = sys.stdout

    def handler(event, context):
        print("before the failure")
        raise RuntimeError(f"boom {context['request_id']}")

    rid = api.push(b"{}")
    scfruntime.run(handler, max_invocations=1)
    post = api.next_post()
    assert post.path == ERROR
    trace = user_error(post.body, rid)
    # SCF's error body: the handler's frame only (run, its caller, adds none), the last line
    # the exception.
    assert trace == "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "{__file__}", line {handler.__code__.co_firstlineno + 2}, in handler',
            "    raise RuntimeError(f\"boom {context['request_id']}\")",
            f"RuntimeError: boom {rid}",
        ]
    )
    # The traceback also went to stderr, for the log; what the handler printed to stdout.
    out, err = capfd.readouterr()
    assert out == "before the failure\n"
    assert err == trace + "\n"
    assert sys.stdout is stdout_before


def test_config_error_is_a_scfruntime_error(monkeypatch):
    monkeypatch.delenv("SCF_RUNTIME_API", raising=False)
    with pytest.raises(scfruntime.ConfigError, match="SCF_RUNTIME_API") as info:
        scfruntime.run(lambda e, c: e, max_invocations=1)
    assert isinstance(info.value, scfruntime.ScfRuntimeError)


def test_oversized_response_is_reported_not_sent(in_process_env):
    api = in_process_env
    api.push(b"{}")
    scfruntime.run(lambda e, c: b"x" * (6 * 1024 * 1024 + 1), max_invocations=1)
    post = api.next_post()
    assert post.path == ERROR
    assert json.loads(post.body)["errorType"] == "ResponseTooLarge"


@pytest.mark.parametrize("route", ["wheel", "embedded"])
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_stop_signal_during_long_poll_exits_within_a_second(
    fake_api, tmp_path: Path, request, route, signum, code
):
    boot = request.getfixturevalue("bootstrap_bin") if route == "embedded" else None
    pkg = make_package(tmp_path / "pkg", route, boot)
    env = fake_api.env(_HANDLER="index.echo")
    proc = subprocess.Popen(
        [str(pkg / "bootstrap")], cwd=pkg, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # One event first, so the process is warm and back in the long poll afterwards.
        fake_api.push(b'{"warm": true}')
        assert fake_api.next_post(timeout=PROCESS_TIMEOUT).body == b'{"warm": true}'
        assert fake_api.polling.wait(timeout=PROCESS_TIMEOUT), "the runtime never polled again"
        sent = time.monotonic()
        proc.send_signal(signum)
        rc = proc.wait(timeout=1)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=PROCESS_TIMEOUT)
        out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    print(f"{route} {signal.Signals(signum).name}: exit {rc} after {elapsed * 1000:.1f} ms")
    assert rc == code, err.decode(errors="replace")
    assert elapsed < 1
    assert b"Traceback" not in err


def test_python_m_reports_import_error_without_runtime_api(tmp_path: Path):
    pkg = make_package(tmp_path / "pkg", "wheel", None)
    env = {"PATH": "/usr/bin:/bin"}
    for spec, status in [("broken.main_handler", 443), ("index.nope", 437)]:
        proc = subprocess.run(
            [sys.executable, "-m", "scfruntime", spec],
            cwd=pkg,
            env=env,
            capture_output=True,
            timeout=PROCESS_TIMEOUT,
        )
        assert proc.returncode == 1
        assert f"scfruntime: [{status}]".encode() in proc.stderr


def test_python_m_usage_error(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "scfruntime"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert proc.returncode == 2
    assert b"_HANDLER is not set" in proc.stderr


@pytest.mark.parametrize("route", ["wheel", "embedded"])
def test_sigterm_while_ready_is_retried_exits_within_a_second(tmp_path: Path, request, route):
    import socket

    boot = request.getfixturevalue("bootstrap_bin") if route == "embedded" else None
    pkg = make_package(tmp_path / "pkg", route, boot)
    with socket.socket() as s:  # a port nobody listens on: ready is retried for a minute
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "SCF_RUNTIME_API": "127.0.0.1", "SCF_RUNTIME_API_PORT": str(port)}
    env["_HANDLER"] = "index.echo"
    proc = subprocess.Popen([str(pkg / "bootstrap")], cwd=pkg, env=env, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # bounded: the first retry is logged within milliseconds
        assert b"/runtime/init/ready attempt 1 failed" in line, line
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=1)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=PROCESS_TIMEOUT)
    assert rc == 0 and elapsed < 1
