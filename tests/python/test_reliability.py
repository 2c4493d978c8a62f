"""Handler faults of Python functions under `scfrt invoke`, through both routes (the wheel and the
embedded bootstrap): an infinite loop (433, killed, the next event cold-starts), a handler
closing stdout/stderr, a handler printing 100 MB. Exceptions are covered in test_e2e.py; the
transport fault matrix and the soak of the Python binding run in tests/reliability (Rust)."""

from __future__ import annotations

from pathlib import Path

HANDLERS = '''
import os
import sys


def spin(event, context):
    while True:
        pass


_closed = False


def close_stdio(event, context):
    # Once: closing them again would raise EBADF in the handler itself, as in any Python.
    global _closed
    if not _closed:
        sys.stdout.flush()
        sys.stderr.flush()
        os.close(1)
        os.close(2)
        _closed = True
    return event


def flood(event, context):
    line = "x" * 4095
    for _ in range(100 * 256):  # 100 MiB
        print(line)
    return "flooded"


def echo(event, context):
    return event
'''


def _pkg(package: Path) -> Path:
    (package / "rel.py").write_text(HANDLERS)
    return package


def test_infinite_loop_is_433_and_the_next_event_cold_starts(invoke, package):
    r = invoke(_pkg(package), "rel.spin", '{"i":0}', '{"i":1}', args=("--timeout", "1"))
    assert len(r.results) == 2, r.stderr
    assert r.results[0]["InvokeResult"] == 433, r.results[0]
    assert r.results[1]["InvokeResult"] == 433, r.results[1]
    # Each event ran in its own instance: the looping one was killed and replaced.
    assert "Init Report" in r.results[1]["Log"], r.results[1]["Log"]


def test_closing_stdout_and_stderr_keeps_the_instance_serving(invoke, package):
    r = invoke(_pkg(package), "rel.close_stdio", '{"i":0}', '{"i":1}', '{"i":2}')
    assert [x["InvokeResult"] for x in r.results] == [0, 0, 0], r.stderr
    assert [r.ret(i) for i in range(3)] == [{"i": 0}, {"i": 1}, {"i": 2}]
    # One warm instance answered all three.
    assert sum("Init Report" in x["Log"] for x in r.results) == 1


def test_printing_100_mb_is_capped_in_the_log(invoke, package):
    r = invoke(_pkg(package), "rel.flood", '{"i":0}', args=("--timeout", "120"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.results[0]["RetMsg"] == '"flooded"'  # a str is json.dumps'd
    assert len(r.results[0]["Log"]) <= 4096
