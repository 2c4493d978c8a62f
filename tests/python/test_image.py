"""Python handlers as image-deployed functions (SCFRUNTIME_MODE=image): `scfrt invoke --image`
over both routes (`python -m scfruntime` from the wheel, and the embedded bootstrap), compared
with the same package and events through the runtime API; stop signals while the server waits;
`scfruntime.run` in this process against raw `POST /event-invoke` requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import scfruntime
from conftest import (
    PROCESS_TIMEOUT,
    ROOT,
    free_port,
    log_body,
    make_package,
    post_event,
    user_error,
    wait_listening,
)
from test_e2e import CONTEXT_KEYS, check_environment, index_fail_trace

IMAGE = ("--image",)
SIX_MB = 6 * 1024 * 1024
# The environment variables a code package has its metadata in, and the X-Scf-* header that
# carries each in image mode (core/src/metadata.rs, METADATA_FIELDS).
HEADER_OF_VARIABLE = {
    "SCF_FUNCTIONNAME": "X-Scf-Name",
    "SCF_FUNCTIONVERSION": "X-Scf-Version",
    "SCF_NAMESPACE": "X-Scf-Namespace",
    "TENCENTCLOUD_REGION": "X-Scf-Region",
    "TENCENTCLOUD_APPID": "X-Scf-Appid",
    "TENCENTCLOUD_UIN": "X-Scf-Uin",
    "TENCENTCLOUD_SECRETID": "X-Scf-Secret-Id",
    "TENCENTCLOUD_SECRETKEY": "X-Scf-Secret-Key",
    "TENCENTCLOUD_SESSIONTOKEN": "X-Scf-Session-Token",
    "TRIGGER_SRC": "X-Scf-Trigger-Src",
}


def _check_framing(res: dict, cold: bool) -> None:
    rid, log = res["FunctionRequestId"], res["Log"]
    assert log.startswith(f"START RequestId: {rid}\n"), log
    assert f"\nEND RequestId: {rid}\n" in log, log
    assert f"Report RequestId: {rid} Duration:" in log, log
    assert ("Init Report" in log) == cold, log


def test_echo_retmsg_is_identical_to_runtime_api_mode(invoke, package):
    events = [
        '{"hello": "wörld", "emoji": "🚀", "n": [1, 2.5, null, true]}',
        "{}",
        "[]",
        '"just a string"',
        "42",
        '{"nested": {"a": [{"b": -0.0}, 1e300]}}',
    ]
    runs = {"api": invoke(package, "index.echo", *events), "image": invoke(package, "index.echo", *events, args=IMAGE)}
    for mode, out in runs.items():
        assert out.returncode == 0, f"{mode}: {out.stderr}"
        assert len(out.results) == len(events), mode
        for i, (event, res) in enumerate(zip(events, out.results)):
            assert res["InvokeResult"] == 0, (mode, res)
            assert res["ErrMsg"] == "", mode
            # json.dumps(ret, ensure_ascii=False), a str included.
            assert res["RetMsg"] == json.dumps(json.loads(event), ensure_ascii=False), (mode, i)
            # One cold start, then the same warm instance answers.
            _check_framing(res, cold=i == 0)
    assert [r["RetMsg"] for r in runs["api"].results] == [r["RetMsg"] for r in runs["image"].results]
    assert runs["image"].results[3]["RetMsg"] == '"just a string"'

    # A str (JSON-quoted), UTF-8 bytes (sent as they are) and non-ASCII JSON, both ways alike.
    for handler in ["index.returns_str", "index.returns_utf8_bytes", "index.unicode"]:
        api = invoke(package, handler, '{"k": "é"}')
        image = invoke(package, handler, '{"k": "é"}', args=IMAGE)
        assert image.returncode == 0, image.stderr
        assert image.results[0]["RetMsg"] == api.results[0]["RetMsg"] != "", handler


def test_print_and_logging_appear_bare_inside_the_invocation(invoke, package):
    out = invoke(package, "index.talk", "{}", "{}", args=IMAGE)
    assert out.returncode == 0, out.stderr
    for res in out.results:
        # As through the runtime API: as written, in order, inside START..END; basicConfig's
        # format in index.py is ignored as SCF ignores it.
        assert log_body(res) == "hello from print\ntwo\nlines\nhello from logging\n"


def test_every_context_header_reaches_the_handler(invoke, package):
    args = (
        "--memory", "256", "--timeout", "7", "--function-name", "ctx-fn", "--trigger-src", "timer",
        "--env", "GREETING=hi", "--env", "DB_HOST=db.local",
    )  # fmt: skip
    image = invoke(package, "index.context_and_env", "{}", "{}", args=(*IMAGE, *args))
    assert image.returncode == 0, image.stderr
    api = invoke(package, "index.context_and_env", "{}", args=args)
    assert api.returncode == 0, api.stderr
    want_api = api.ret()

    for i, res in enumerate(image.results):
        view = image.ret(i)
        # The built-in runtime's keys in its order, no more; a dict that serialises as one.
        assert list(view["_json"]) == CONTEXT_KEYS
        assert view["_is_dict"] is True
        # X-Scf-Request-Id, X-Scf-Memory, X-Scf-Timeout.
        assert view["request_id"] == res["FunctionRequestId"]
        assert view["memory_limit_in_mb"] == 256
        assert view["time_limit_in_ms"] == 7000
        assert 0 < view["_remaining"] <= 7000
        # X-Scf-Name, -Version, -Namespace, -Region, -Appid, -Uin.
        assert view["function_name"] == "ctx-fn"
        assert view["function_version"] == "$LATEST"
        assert view["namespace"] == "default"
        for key in ["tencentcloud_region", "tencentcloud_appid", "tencentcloud_uin"]:
            assert view[key] and view[key] == want_api[key], key
        # The user's variables only: SCFRUNTIME_MODE and SCFRUNTIME_LISTEN are the runtime's.
        check_environment(view, {"GREETING": "hi", "DB_HOST": "db.local"})
        # The credentials and the trigger (X-Scf-Secret-Id, -Secret-Key, -Session-Token,
        # -Trigger-Src) have no context key: the handler finds them in os.environ, where a code
        # package has them. The image's process started with SCF's reduced set for images
        # (docs/environment.md): the identity, but no namespace, credentials or trigger.
        assert view["_env_at_import"] == {
            **dict.fromkeys(HEADER_OF_VARIABLE),
            "SCF_FUNCTIONNAME": "ctx-fn",
            "SCF_FUNCTIONVERSION": "$LATEST",
            "TENCENTCLOUD_REGION": want_api["tencentcloud_region"],
            "TENCENTCLOUD_APPID": want_api["tencentcloud_appid"],
            "TENCENTCLOUD_UIN": want_api["tencentcloud_uin"],
        }
        assert view["_env"] == want_api["_env"]
        assert all(view["_env"].values()), view["_env"]
        assert view["_env"]["TRIGGER_SRC"] == "timer"
        assert view["_env"]["SCF_FUNCTIONNAME"] == "ctx-fn"

    # The same context as through the runtime API, request id and remaining time aside.
    def same(view: dict) -> dict:
        drop = ("request_id", "_remaining", "_json", "_env_at_import")
        return {k: v for k, v in view.items() if k not in drop}

    assert same(image.ret(0)) == same(want_api)
    assert want_api["_env_at_import"] == want_api["_env"]


def test_exception_is_the_same_error_as_through_the_runtime_api(invoke, package):
    errors = []
    for args in [(), IMAGE]:
        out = invoke(package, "index.fail", "{}", args=args)
        assert out.returncode == 1, out.stderr
        res = out.results[0]
        assert res["InvokeResult"] == 430, res
        assert res["RetMsg"] == ""
        rid = res["FunctionRequestId"]
        trace = user_error(res["ErrMsg"], rid)
        assert trace == index_fail_trace(package)
        assert log_body(res) == trace + "\n"
        errors.append(res["ErrMsg"].replace(rid, "<id>"))
    assert errors[0] == errors[1]

    # The instance stays warm after an error, and a response over 6 MB is refused like an error.
    out = invoke(package, "index.maybe_fail", '{"fail": true}', '{"n": 1}', args=IMAGE)
    assert [r["InvokeResult"] for r in out.results] == [430, 0], out.stderr
    trace = user_error(out.results[0]["ErrMsg"], out.results[0]["FunctionRequestId"])
    assert trace.startswith("Traceback (most recent call last):\n")
    assert trace.endswith("\nValueError: asked to fail")
    assert out.ret(1) == {"ok": {"n": 1}}
    assert sum("Init Report" in r["Log"] for r in out.results) == 1
    out = invoke(package, "index.big_response", "{}", args=IMAGE)
    assert out.results[0]["InvokeResult"] == 430, out.results[0]
    assert out.err()["errorType"] == "ResponseTooLarge"
    # The handler's str of 6 MB + 1 characters, JSON-quoted: 2 bytes more.
    assert f"the response is {SIX_MB + 3} bytes" in out.err()["errorMessage"]


def test_events_over_six_mb_are_refused_by_the_server(invoke, package, tmp_path):
    # JSON strings: the quotes make the file 2 bytes longer than the string.
    over = tmp_path / "over.json"
    over.write_text('"' + "a" * (SIX_MB - 1) + '"')
    at_limit = tmp_path / "at-limit.json"
    at_limit.write_text('"' + "a" * (SIX_MB - 2) + '"')
    out = invoke(
        package,
        "index.echo_logged",
        args=(*IMAGE, "--timeout", "20", "--event-file", str(over), "--event", '{"after": 1}'),
    )
    assert len(out.results) == 2, out.stderr
    refused, after = out.results
    assert refused["InvokeResult"] == 406, refused
    assert refused["RetMsg"] == ""
    err = json.loads(refused["ErrMsg"])
    assert err["statusCode"] == 406
    for part in [
        "The size of request exceeds the upper limit (6MB)",
        f"refused the event ({SIX_MB + 1} bytes) with HTTP 413",
        f"over the limit of {SIX_MB} bytes (6 MB); it was not read",
    ]:
        assert part in err["errorMessage"], (part, err["errorMessage"])
    # The same instance, still warm, answers the next event.
    assert after["InvokeResult"] == 0 and json.loads(after["RetMsg"]) == {"after": 1}
    assert "Init Report" not in after["Log"] and "handled 12 bytes" in after["Log"]
    # The handler never saw it.
    assert "handled" not in refused["Log"], refused["Log"]

    # Exactly 6 MB reaches the handler; its str return value, JSON-quoted again, is the file's
    # text: 6 MB, at the response limit and not over it.
    out = invoke(package, "index.echo_logged", event_files=[at_limit], args=(*IMAGE, "--timeout", "20"))
    assert out.returncode == 0, out.stderr
    assert len(out.results[0]["RetMsg"]) == SIX_MB
    assert out.results[0]["RetMsg"] == at_limit.read_text()
    assert f"handled {SIX_MB} bytes" in out.results[0]["Log"]


BLOCKING_MODULE = '''
import os
import subprocess
import sys
import time

with open("pid", "w") as f:
    f.write(str(os.getpid()))
child = subprocess.Popen(["sleep", "300"])
with open("child", "w") as f:
    f.write(str(child.pid))
print("importing, never done; listen would be", os.environ["SCFRUNTIME_LISTEN"], flush=True)
time.sleep(300)


def main_handler(event, context):
    return "never"
'''


def _gone(pid: int) -> bool:
    """The process is gone (or a zombie left for its parent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].split()[0] in ("Z", "X")


def test_an_import_that_never_finishes_is_an_init_timeout_and_is_killed(invoke, package):
    (package / "blocks.py").write_text(BLOCKING_MODULE)
    # Short against the import's 300 s; long enough for Python to reach the import, whose output
    # names the address the server would have listened on.
    out = invoke(package, "blocks.main_handler", "{}", args=(*IMAGE, "--init-timeout", "3"))
    assert out.returncode == 1, out.stderr
    res = out.results[0]
    assert res["InvokeResult"] == 450, res
    marker = "importing, never done; listen would be "
    listen = next((ln[len(marker) :] for ln in res["Log"].splitlines() if ln.startswith(marker)), None)
    assert listen is not None, res["Log"]
    assert listen.startswith("127.0.0.1:"), listen
    port = listen.rsplit(":", 1)[1]
    assert json.loads(res["ErrMsg"])["errorMessage"] == (
        f"The request timed out in 3000ms. Please confirm your http server have enabled listening on port "
        f"{port} (scfrt set SCFRUNTIME_LISTEN={listen}; on SCF it is 9000)."
    )
    # The interpreter and the child it started were killed with the process group.
    for name in ["pid", "child"]:
        pid = int((package / name).read_text())
        assert _gone(pid), f"{name} {pid} still runs"


@pytest.mark.parametrize("route", ["wheel", "embedded"])
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_stop_signal_while_waiting_exits_within_a_second(tmp_path: Path, request, route, signum, code):
    boot = request.getfixturevalue("bootstrap_bin") if route == "embedded" else None
    pkg = make_package(tmp_path / "pkg", route, boot)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "_HANDLER": "index.echo",
        "SCFRUNTIME_MODE": "image",
        "SCFRUNTIME_LISTEN": f"127.0.0.1:{port}",
    }
    proc = subprocess.Popen(
        [str(pkg / "bootstrap")], cwd=pkg, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_listening(port, proc)
        # One event first: the process is warm and waiting for the next one afterwards.
        headers = {"X-Scf-Request-Id": "warm-1", "X-Scf-Memory": "128", "X-Scf-Timeout": "3000"}
        assert post_event(port, b'{"warm": true}', headers) == (200, b'{"warm": true}')
        sent = time.monotonic()
        proc.send_signal(signum)
        rc = proc.wait(timeout=PROCESS_TIMEOUT)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=PROCESS_TIMEOUT)
        out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    print(f"{route} {signal.Signals(signum).name}: exit {rc} after {elapsed * 1000:.1f} ms")
    assert rc == code, err.decode(errors="replace")
    assert elapsed < 1
    assert b"Traceback" not in err, err.decode(errors="replace")
    with pytest.raises(ConnectionRefusedError):
        post_event(port, b"{}", headers)


@pytest.fixture
def image_env(monkeypatch):
    """This process set up for image mode on a free port, without runtime-API variables."""
    for name in list(os.environ):
        if name.startswith(("SCF_", "TENCENTCLOUD_")) or name == "TRIGGER_SRC":
            monkeypatch.delenv(name)
    port = free_port()
    monkeypatch.setenv("SCFRUNTIME_MODE", "image")
    monkeypatch.setenv("SCFRUNTIME_LISTEN", f"127.0.0.1:{port}")
    return port


def _serve_in_background(port: int, events: list[tuple[bytes, dict[str, str]]]):
    """Post `events` one after another once `port` listens; the answers land in the list."""
    answers: list = []

    def client():
        try:
            wait_listening(port)
            for body, headers in events:
                answers.append(post_event(port, body, headers))
        except BaseException as e:  # reported by the test
            answers.append(e)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    return thread, answers


def test_run_in_process_takes_each_events_metadata(image_env, monkeypatch):
    port = image_env
    monkeypatch.setenv("TENCENTCLOUD_REGION", "region-of-the-image")  # the image's own ENV
    base = {"X-Scf-Memory": "64", "X-Scf-Timeout": "1500"}
    first = {
        **base,
        "X-Scf-Request-Id": "r-1",
        **{h: f"{h.lower()}-1" for h in HEADER_OF_VARIABLE.values()},
    }
    # Rotated credentials; no region, token or trigger this time.
    second = {**base, "X-Scf-Request-Id": "r-2", "X-Scf-Secret-Id": "AKID-2", "X-Scf-Secret-Key": "key-2"}
    seen = []

    def handler(event, context):
        seen.append((event, dict(context), {v: os.environ.get(v) for v in HEADER_OF_VARIABLE}))
        return {"n": event["n"]}

    thread, answers = _serve_in_background(port, [(b'{"n": 1}', first), (b'{"n": 2}', second)])
    scfruntime.run(handler, max_invocations=2)
    thread.join(timeout=PROCESS_TIMEOUT)
    assert answers == [(200, b'{"n": 1}'), (200, b'{"n": 2}')]

    (_, ctx1, env1), (_, ctx2, env2) = seen
    assert list(ctx1) == CONTEXT_KEYS
    assert (ctx1["request_id"], ctx1["memory_limit_in_mb"], ctx1["time_limit_in_ms"]) == ("r-1", 64, 1500)
    assert ctx1["function_name"] == "x-scf-name-1"
    assert ctx1["tencentcloud_region"] == "x-scf-region-1"
    assert env1 == {v: f"{h.lower()}-1" for v, h in HEADER_OF_VARIABLE.items()}
    # A header the event lacks: the image's own value, or nothing.
    assert ctx2["request_id"] == "r-2"
    assert ctx2["function_name"] == "" and ctx2["tencentcloud_region"] == "region-of-the-image"
    assert env2["TENCENTCLOUD_SECRETID"] == "AKID-2" and env2["TENCENTCLOUD_SECRETKEY"] == "key-2"
    assert env2["TENCENTCLOUD_REGION"] == "region-of-the-image"
    assert env2["TENCENTCLOUD_SESSIONTOKEN"] is None and env2["TRIGGER_SRC"] is None
    # run gave the environment back and stopped listening.
    assert os.environ.get("TENCENTCLOUD_SECRETID") is None
    assert os.environ["TENCENTCLOUD_REGION"] == "region-of-the-image"
    with pytest.raises(ConnectionRefusedError):
        post_event(port, b"{}", first)


def test_run_in_process_error_answer_and_bad_requests(image_env):
    port = image_env
    headers = {"X-Scf-Request-Id": "r-err", "X-Scf-Memory": "128", "X-Scf-Timeout": "3000"}

    def handler(event, context):
        raise RuntimeError(f"boom {context['request_id']}")

    bad = {k: v for k, v in headers.items() if k != "X-Scf-Memory"}
    thread, answers = _serve_in_background(port, [(b"{}", bad), (b"{}", headers)])
    scfruntime.run(handler, max_invocations=1)
    thread.join(timeout=PROCESS_TIMEOUT)
    (status_bad, body_bad), (status, body) = answers
    # A request without X-Scf-Memory never reaches the handler: 400 naming the header.
    assert status_bad == 400 and b"X-Scf-Memory" in body_bad
    assert status == 500
    trace = user_error(body, "r-err")
    # The handler's frame only: run (the caller) adds none.
    assert trace == "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "{__file__}", line {handler.__code__.co_firstlineno + 1}, in handler',
            "    raise RuntimeError(f\"boom {context['request_id']}\")",
            "RuntimeError: boom r-err",
        ]
    )


def test_run_in_process_stops_the_server_when_the_handler_interrupts(image_env):
    port = image_env
    headers = {"X-Scf-Request-Id": "r-int", "X-Scf-Memory": "128", "X-Scf-Timeout": "3000"}

    def handler(event, context):
        raise KeyboardInterrupt

    thread, answers = _serve_in_background(port, [(b"{}", headers)])
    with pytest.raises(KeyboardInterrupt):
        scfruntime.run(handler)
    thread.join(timeout=PROCESS_TIMEOUT)
    # The event was answered as failed before run raised, and nothing listens any more.
    (status, body), = answers
    assert status == 500
    assert user_error(body, "r-int").endswith("\nKeyboardInterrupt")
    with pytest.raises(ConnectionRefusedError):
        post_event(port, b"{}", headers)


def test_image_mode_configuration_errors_are_config_errors(image_env, monkeypatch):
    port = image_env
    for name, value, wording in [
        ("SCFRUNTIME_LISTEN", "localhost:9000", 'SCFRUNTIME_LISTEN="localhost:9000" is invalid'),
        ("SCFRUNTIME_MODE", "images", 'SCFRUNTIME_MODE="images" is invalid'),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(scfruntime.ConfigError, match=wording):
            scfruntime.run(lambda e, c: e, max_invocations=1)
        monkeypatch.setenv(name, {"SCFRUNTIME_LISTEN": f"127.0.0.1:{port}", "SCFRUNTIME_MODE": "image"}[name])
    # The address is taken: the error names it and the variable that changes it.
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(scfruntime.ConfigError, match=f"cannot listen on 127.0.0.1:{port}.*SCFRUNTIME_LISTEN"):
            scfruntime.run(lambda e, c: e, max_invocations=1)


def test_python_m_usage_names_image_mode(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "scfruntime", "--help"], cwd=tmp_path, capture_output=True, timeout=PROCESS_TIMEOUT
    )
    assert proc.returncode == 0
    assert b"SCFRUNTIME_MODE=image" in proc.stdout


def test_the_dockerfile_example_matches_the_tree():
    """examples/image-python/Dockerfile is not built here (no Docker engine), but what it names
    must exist: the handler it serves, the switch, the address and port, the entry point."""
    dockerfile = (ROOT / "examples" / "image-python" / "Dockerfile").read_text()
    lines = [ln.strip() for ln in dockerfile.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) == 2 and froms[0].endswith(" AS build"), froms
    assert "ENV SCFRUNTIME_MODE=image" in lines
    assert "ENV SCFRUNTIME_LISTEN=0.0.0.0:9000" in lines
    assert "ENV _HANDLER=index.main_handler" in lines
    assert "EXPOSE 9000" in lines
    assert 'CMD ["python", "-m", "scfruntime", "index.main_handler"]' in lines
    # The handler it copies is examples/python-echo's, and it has that function.
    assert "COPY examples/python-echo/index.py /var/user/index.py" in lines
    assert "def main_handler(event, context):" in (ROOT / "examples/python-echo/index.py").read_text()
    # The wheel is built from bindings/python with maturin, for the runtime stage's Python.
    assert "bindings/python/Cargo.toml" in dockerfile and (ROOT / "bindings/python/pyproject.toml").is_file()
    assert any(ln.startswith("FROM python:3.11") for ln in froms)
    assert "target/" in (ROOT / ".dockerignore").read_text().split()


def test_example_python_echo_as_an_image(invoke, route, tmp_path, request):
    """examples/python-echo, as the Dockerfile serves it, under scfrt invoke --image."""
    import shutil

    pkg = tmp_path / "python-echo"
    shutil.copytree(ROOT / "examples" / "python-echo", pkg)
    args: tuple[str, ...] = IMAGE
    if route == "wheel":
        args += ("--env", f"PYTHON={sys.executable}")
    else:
        shutil.copy2(request.getfixturevalue("bootstrap_bin"), pkg / "bootstrap")
    out = invoke(pkg, "index.main_handler", '{"hello": "world"}', args=args)
    assert out.returncode == 0, out.stderr
    rid = out.results[0]["FunctionRequestId"]
    assert out.ret() == {"echo": {"hello": "world"}, "request_id": rid}
    assert log_body(out.results[0]) == f"echo for {rid}\nevent: {{'hello': 'world'}}\n"
