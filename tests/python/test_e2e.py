"""Real handlers served through scfrt's runtime API, over both routes: `python -m scfruntime`
(the extension module from the wheel) and the embedded-Python bootstrap. Results must be
identical."""

from __future__ import annotations

import json

import pytest

CONTEXT_KEYS = {
    "request_id",
    "memory_limit_in_mb",
    "time_limit_in_ms",
    "function_name",
    "function_version",
    "namespace",
    "tencentcloud_region",
    "tencentcloud_appid",
    "tencentcloud_uin",
    "environment",
    "environ",
}


def test_echo_json_values_in_one_warm_process(invoke, package):
    events = ['{"a": 1, "b": [true, null]}', '[1, "x", 2.5]', '"just a string"', '{"u": "你好 мир"}', "42"]
    out = invoke(package, "index.echo", *events)
    assert out.returncode == 0, out.stderr
    assert len(out.results) == len(events)
    for ev, res in zip(events, out.results):
        assert res["InvokeResult"] == 0
        value = json.loads(ev)
        # A str return value is sent as is; anything else as json.dumps(ret, ensure_ascii=False):
        # UTF-8 unescaped, the built-in runtime's separators.
        expected = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        assert res["RetMsg"] == expected
    assert "你好 мир" in out.results[3]["RetMsg"]


def test_str_and_bytes_are_sent_as_is(invoke, package):
    s = invoke(package, "index.returns_str", "{}")
    b = invoke(package, "index.returns_utf8_bytes", "{}")
    u = invoke(package, "index.unicode", '{"k": "é"}')
    assert s.results[0]["RetMsg"] == "plain text, not JSON: 你好"
    assert b.results[0]["RetMsg"] == "bytes: 你好"
    assert u.results[0]["RetMsg"] == '{"text": "你好, мир", "event": {"k": "é"}}'


def test_context_keys_and_values(invoke, package):
    out = invoke(
        package,
        "index.context_view",
        "{}",
        args=("--timeout", "5", "--memory", "256", "--env", "GREETING=hi", "--env", "DB_HOST=db.local"),
    )
    assert out.returncode == 0, out.stderr
    view = out.ret()
    assert set(view["_json"]) == CONTEXT_KEYS
    assert view["_is_dict"] is True
    assert view["request_id"] == out.results[0]["FunctionRequestId"]
    assert view["memory_limit_in_mb"] == 256
    assert view["time_limit_in_ms"] == 5000
    assert 0 < view["_remaining"] <= 5000
    assert view["function_name"] == "scfrt-local"
    assert view["function_version"] == "$LATEST"
    assert view["namespace"] == "default"
    assert view["tencentcloud_region"] and view["tencentcloud_appid"] and view["tencentcloud_uin"]
    assert json.loads(view["environment"]) == {"GREETING": "hi", "DB_HOST": "db.local"}
    assert sorted(view["environ"].split(";")) == ["DB_HOST=db.local", "GREETING=hi"]


def test_remaining_time_decreases(invoke, package):
    out = invoke(package, "index.remaining", "{}", args=("--timeout", "3"))
    r = out.ret()
    assert r["limit"] == 3000
    assert 0 < r["second"] < r["first"] <= 3000
    assert r["first"] - r["second"] >= 40  # the handler slept 50 ms between the two reads


def test_exception_becomes_error_json_and_the_loop_goes_on(invoke, package):
    out = invoke(package, "index.fail", "{}")
    assert out.returncode == 1
    res = out.results[0]
    assert res["InvokeResult"] != 0 and res["RetMsg"] == ""
    err = out.err()
    assert list(err) == ["errorType", "errorMessage", "stackTrace", "requestId"]
    assert err["errorType"] == "index.AppError"
    assert err["errorMessage"] == "handler failed: 失败"
    assert err["requestId"] == res["FunctionRequestId"]
    trace = err["stackTrace"]
    assert trace[0] == "Traceback (most recent call last):"
    assert "KeyError: 'missing-key'" in trace  # the chained cause
    assert any("direct cause" in line for line in trace)
    assert trace[-1] == "index.AppError: handler failed: 失败"
    assert any('in _inner' in line for line in trace)
    # The frames the exception itself was raised through, not only its cause's.
    assert any(line.strip().startswith('File "') and line.endswith(", in fail") for line in trace), trace

    warm = invoke(package, "index.maybe_fail", '{"fail": true}', '{"n": 1}')
    assert [r["InvokeResult"] == 0 for r in warm.results] == [False, True]
    assert warm.err(0)["errorType"] == "ValueError"
    assert warm.ret(1) == {"ok": {"n": 1}}


@pytest.mark.parametrize(
    "handler, type_name", [("index.unserialisable", "set"), ("index.returns_object", "object")]
)
def test_unserialisable_return_value_names_its_type(invoke, package, handler, type_name):
    out = invoke(package, handler, "{}")
    err = out.err()
    assert out.results[0]["InvokeResult"] != 0
    assert err["errorType"] == "TypeError"
    assert f"Object of type {type_name} is not JSON serializable" in err["errorMessage"]
    assert "cannot be serialised to JSON" in err["errorMessage"]


def test_six_megabyte_event(invoke, package, tmp_path):
    event = {"blob": "x" * (6 * 1000 * 1000 - 100)}
    f = tmp_path / "big.json"
    f.write_text(json.dumps(event))
    out = invoke(package, "index.size", event_files=[f], args=("--timeout", "20"))
    assert out.returncode == 0, out.stderr
    assert out.ret() == {"len": len(json.dumps(event)), "keys": 1}


def test_print_and_logging_carry_the_request_id(invoke, package):
    out = invoke(package, "index.talk", "{}", "{}")
    assert out.returncode == 0, out.stderr
    for res in out.results:
        rid, log = res["FunctionRequestId"], res["Log"]
        assert f"{rid}\thello from print\n" in log
        assert f"{rid}\ttwo\n{rid}\tlines\n" in log
        assert f"{rid}\tINFO hello from logging\n" in log
        # Flushed before the post: the output is inside this invocation's START..END frame.
        assert log.index(f"{rid}\thello from print") < log.index(f"END RequestId: {rid}")


@pytest.mark.parametrize("spec", ["index.main_handler", "sub/mod.handler", "sub.mod.handler"])
def test_handler_spellings(invoke, package, spec):
    out = invoke(package, spec, '{"k": 1}')
    assert out.returncode == 0, out.stderr
    assert out.results[0]["InvokeResult"] == 0


@pytest.mark.parametrize(
    "spec, status, wording",
    [
        ("broken.main_handler", 443, "No module named 'this_module_does_not_exist'"),
        ("syntax_error.main_handler", 443, "SyntaxError"),
        ("index.no_such_function", 437, "module 'index' has no function 'no_such_function'"),
        ("nomodule.main_handler", 437, "no module 'nomodule'"),
        ("index.not_callable", 437, "is not a function"),
        ("index", 437, "not of the form 'file.function'"),
    ],
)
def test_handler_load_failures_are_reported_and_exit_non_zero(invoke, package, spec, status, wording):
    out = invoke(package, spec, "{}")
    assert out.returncode == 1
    res = out.results[0]
    assert res["InvokeResult"] != 0
    assert f"scfruntime: [{status}]" in res["Log"]
    assert wording in res["Log"]
    assert "exit code 1" in res["ErrMsg"]


def test_example_python_echo(invoke, route, tmp_path, request):
    """examples/python-echo as shipped (wheel route) and with the embedded bootstrap."""
    import shutil
    import sys

    from conftest import ROOT

    pkg = tmp_path / "python-echo"
    shutil.copytree(ROOT / "examples" / "python-echo", pkg)
    args: tuple[str, ...] = ()
    if route == "wheel":
        args = ("--env", f"PYTHON={sys.executable}")
    else:
        shutil.copy2(request.getfixturevalue("bootstrap_bin"), pkg / "bootstrap")
    out = invoke(pkg, "index.main_handler", '{"hello": "world"}', args=args)
    assert out.returncode == 0, out.stderr
    rid = out.results[0]["FunctionRequestId"]
    assert out.ret() == {"echo": {"hello": "world"}, "request_id": rid}
    assert f"{rid}\tevent: {{'hello': 'world'}}\n" in out.results[0]["Log"]
    assert f"{rid}\techo for {rid}\n" in out.results[0]["Log"]


LAYERS_HANDLER = """
import os, sys
import layered, only_b, shadowed

def main_handler(event, context):
    def at(p):
        return sys.path.index(p) if p in sys.path else None
    code = 0 if sys.path[0] in ("", os.getcwd()) else None
    return {
        "layered": layered.WHERE, "only_b": only_b.WHERE, "shadowed": shadowed.WHERE,
        "code": code, "a": at(event["a"]), "b": at(event["b"]), "missing": at(event["missing"]),
        "a_count": sys.path.count(event["a"]),
    }
"""


def test_layer_directories_follow_the_code_directory(invoke, package, tmp_path):
    """SCF unpacks layers under /opt: both routes put SCFRUNTIME_PYTHON_LAYER_PATH's directories
    (default /opt/python:/opt) on sys.path right after the code directory, in order, skipping
    missing ones; the code directory wins over a layer, the first layer over the next."""
    a, b, missing = tmp_path / "layer-a", tmp_path / "layer-b", tmp_path / "no-such-layer"
    for d, files in {
        a: {"layered.py": "WHERE = 'a'\n", "shadowed.py": "WHERE = 'a'\n"},
        b: {"layered.py": "WHERE = 'b'\n", "only_b.py": "WHERE = 'b'\n"},
    }.items():
        d.mkdir()
        for name, text in files.items():
            (d / name).write_text(text)
    (package / "shadowed.py").write_text("WHERE = 'code'\n")
    (package / "uses_layers.py").write_text(LAYERS_HANDLER)
    layer_path = f"{a}::{missing}:{b}:{a}"
    event = json.dumps({"a": str(a), "b": str(b), "missing": str(missing)})
    out = invoke(
        package,
        "uses_layers.main_handler",
        event,
        args=("--env", f"SCFRUNTIME_PYTHON_LAYER_PATH={layer_path}"),
    )
    assert out.returncode == 0, out.stderr
    assert out.results[0]["InvokeResult"] == 0, out.results[0]
    assert out.ret() == {
        "layered": "a",
        "only_b": "b",
        "shadowed": "code",
        "code": 0,
        "a": 1,
        "b": 2,
        "missing": None,
        "a_count": 1,
    }


def test_an_empty_layer_path_adds_no_directory(invoke, package, tmp_path):
    """SCFRUNTIME_PYTHON_LAYER_PATH= (empty) turns the layer directories off: a module only a
    layer has is then not found, and the handler's import error says so."""
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "only_in_layer.py").write_text("WHERE = 'layer'\n")
    (package / "needs_layer.py").write_text("import only_in_layer\n\ndef main_handler(event, context):\n    return only_in_layer.WHERE\n")
    found = invoke(package, "needs_layer.main_handler", "{}", args=("--env", f"SCFRUNTIME_PYTHON_LAYER_PATH={layer}"))
    assert found.results[0]["RetMsg"] == "layer", found.results[0]
    off = invoke(package, "needs_layer.main_handler", "{}", args=("--env", "SCFRUNTIME_PYTHON_LAYER_PATH="))
    assert off.results[0]["InvokeResult"] != 0, off.results[0]
    assert "No module named 'only_in_layer'" in off.results[0]["Log"], off.results[0]
