"""Real handlers served through scfrt's runtime API, over both routes: `python -m scfruntime`
(the extension module from the wheel) and the embedded-Python bootstrap. Results must be
identical."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import json_dumps_trace, log_body, source_frame, user_error

# The keys of SCF's built-in runtime's context, in its order (docs/python.md, "context keys").
CONTEXT_KEYS = [
    "memory_limit_in_mb",
    "time_limit_in_ms",
    "request_id",
    "environment",
    "environ",
    "function_version",
    "function_name",
    "namespace",
    "tencentcloud_region",
    "tencentcloud_appid",
    "tencentcloud_uin",
]


def check_environment(view: dict, user: dict[str, str]) -> None:
    """context["environment"] is compact JSON of SCF_NAMESPACE first, then exactly the `user`
    variables (ASCII-escaped), and context["environ"] the same pairs, in the same order, as
    `K=V;K=V`. The user variables' order is the process environment's, which differs by route
    (a /bin/sh bootstrap re-orders its environment), so it is not fixed here."""
    pairs = json.loads(view["environment"], object_pairs_hook=list)
    assert pairs[0] == ("SCF_NAMESPACE", "default"), pairs
    assert dict(pairs[1:]) == user and len(pairs) == len(user) + 1, pairs
    assert view["environment"] == json.dumps(dict(pairs), separators=(",", ":"))
    assert view["environ"] == ";".join(f"{k}={v}" for k, v in pairs)


def test_echo_json_values_in_one_warm_process(invoke, package):
    events = ['{"a": 1, "b": [true, null]}', '[1, "x", 2.5]', '"just a string"', '{"u": "你好 мир"}', "42"]
    out = invoke(package, "index.echo", *events)
    assert out.returncode == 0, out.stderr
    assert len(out.results) == len(events)
    for ev, res in zip(events, out.results):
        assert res["InvokeResult"] == 0
        # Every return value, a str included, as json.dumps(ret, ensure_ascii=False): UTF-8
        # unescaped, the built-in runtime's separators.
        assert res["RetMsg"] == json.dumps(json.loads(ev), ensure_ascii=False)
    assert out.results[2]["RetMsg"] == '"just a string"'
    assert out.results[3]["RetMsg"] == '{"u": "你好 мир"}'


def test_str_is_json_quoted_and_bytes_are_sent_as_is(invoke, package):
    s = invoke(package, "index.returns_str", "{}")
    b = invoke(package, "index.returns_utf8_bytes", "{}")
    u = invoke(package, "index.unicode", '{"k": "é"}')
    assert s.results[0]["RetMsg"] == '"plain text, not JSON: 你好"'
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
    assert list(view["_json"]) == CONTEXT_KEYS
    assert list(view)[: len(CONTEXT_KEYS)] == CONTEXT_KEYS
    assert view["_is_dict"] is True
    assert view["request_id"] == out.results[0]["FunctionRequestId"]
    assert view["memory_limit_in_mb"] == 256
    assert view["time_limit_in_ms"] == 5000
    assert 0 < view["_remaining"] <= 5000
    assert view["function_name"] == "scfrt-local"
    assert view["function_version"] == "$LATEST"
    assert view["namespace"] == "default"
    assert view["tencentcloud_region"] and view["tencentcloud_appid"] and view["tencentcloud_uin"]
    check_environment(view, {"GREETING": "hi", "DB_HOST": "db.local"})
    assert {k: view[k] for k in CONTEXT_KEYS} == view["_json"]


def test_remaining_time_decreases(invoke, package):
    out = invoke(package, "index.remaining", "{}", args=("--timeout", "3"))
    r = out.ret()
    assert r["limit"] == 3000
    assert 0 < r["second"] < r["first"] <= 3000
    assert r["first"] - r["second"] >= 40  # the handler slept 50 ms between the two reads


def index_fail_trace(package: Path) -> str:
    """The stackTrace of index.fail in `package`: the chained KeyError, then the AppError raised
    from it, each with the frames it went through and no runtime frame."""
    index = Path(os.path.realpath(package)) / "index.py"
    return "\n".join(
        [
            "Traceback (most recent call last):",
            source_frame(index, "_inner()", "fail"),
            source_frame(index, 'raise KeyError("missing-key")', "_inner"),
            "KeyError: 'missing-key'",
            "",
            "The above exception was the direct cause of the following exception:",
            "",
            "Traceback (most recent call last):",
            source_frame(index, 'raise AppError("handler failed: 失败") from e', "fail"),
            "index.AppError: handler failed: 失败",
        ]
    )


def test_exception_becomes_scf_error_json_and_the_loop_goes_on(invoke, package):
    out = invoke(package, "index.fail", "{}")
    assert out.returncode == 1
    res = out.results[0]
    assert res["InvokeResult"] == 430 and res["RetMsg"] == ""
    trace = user_error(res["ErrMsg"], res["FunctionRequestId"])
    assert trace.startswith("Traceback (most recent call last):\n")
    assert "\nKeyError: 'missing-key'\n" in trace  # the chained cause
    assert "\nThe above exception was the direct cause of the following exception:\n" in trace
    assert trace.endswith("\nindex.AppError: handler failed: 失败")
    assert trace == index_fail_trace(package)
    # The traceback is in the log too: the handler printed nothing before it.
    assert log_body(res) == trace + "\n"

    warm = invoke(package, "index.maybe_fail", '{"fail": true}', '{"n": 1}')
    assert [r["InvokeResult"] for r in warm.results] == [430, 0]
    trace = user_error(warm.results[0]["ErrMsg"], warm.results[0]["FunctionRequestId"])
    index = Path(os.path.realpath(package)) / "index.py"
    assert trace == "\n".join(
        [
            "Traceback (most recent call last):",
            source_frame(index, 'raise ValueError("asked to fail")', "maybe_fail"),
            "ValueError: asked to fail",
        ]
    )
    assert warm.ret(1) == {"ok": {"n": 1}}


@pytest.mark.parametrize(
    "handler, value", [("index.unserialisable", {"s": {1, 2}}), ("index.returns_object", object())]
)
def test_unserialisable_return_value_is_json_dumps_type_error(invoke, package, handler, value):
    out = invoke(package, handler, "{}")
    res = out.results[0]
    assert res["InvokeResult"] == 430 and res["RetMsg"] == ""
    trace = user_error(res["ErrMsg"], res["FunctionRequestId"])
    type_name = type(value["s"] if isinstance(value, dict) else value).__name__
    assert trace.startswith("Traceback (most recent call last):\n")
    assert trace.endswith(f"\nTypeError: Object of type {type_name} is not JSON serializable")
    # json.dumps's own traceback, as the built-in runtime's json.dumps call raises it.
    assert trace == json_dumps_trace(value)
    assert log_body(res) == trace + "\n"


def test_six_megabyte_event(invoke, package, tmp_path):
    event = {"blob": "x" * (6 * 1000 * 1000 - 100)}
    f = tmp_path / "big.json"
    f.write_text(json.dumps(event))
    out = invoke(package, "index.size", event_files=[f], args=("--timeout", "20"))
    assert out.returncode == 0, out.stderr
    assert out.ret() == {"len": len(json.dumps(event)), "keys": 1}


def test_print_and_logging_appear_bare_inside_the_invocation(invoke, package):
    out = invoke(package, "index.talk", "{}", "{}")
    assert out.returncode == 0, out.stderr
    for res in out.results:
        # As written, no request-id prefix, in order, flushed before the post (so inside this
        # invocation's START..END frame). index.py's logging.basicConfig(format="%(levelname)s
        # %(message)s") does nothing: the root logger already has SCF's bare handler.
        assert log_body(res) == "hello from print\ntwo\nlines\nhello from logging\n"
        assert res["RetMsg"] == '"ok"'


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
    assert out.results[0]["RetMsg"] == f'{{"echo": {{"hello": "world"}}, "request_id": "{rid}"}}'
    # logger.warning, then print, both bare.
    assert log_body(out.results[0]) == f"echo for {rid}\nevent: {{'hello': 'world'}}\n"


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
    assert found.results[0]["RetMsg"] == '"layer"', found.results[0]
    off = invoke(package, "needs_layer.main_handler", "{}", args=("--env", "SCFRUNTIME_PYTHON_LAYER_PATH="))
    assert off.results[0]["InvokeResult"] != 0, off.results[0]
    assert "No module named 'only_in_layer'" in off.results[0]["Log"], off.results[0]


def test_example_apigw_python(invoke, route, tmp_path, request, scfrt_bin):
    """examples/apigw-python behind an API Gateway event made by `scfrt event apigw`: each route
    of its API answers the integrated response docs/events.md describes, on both routes."""
    import base64
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    pkg = tmp_path / "apigw-python"
    shutil.copytree(ROOT / "examples" / "apigw-python", pkg)
    args: tuple[str, ...] = ()
    if route == "wheel":
        args = ("--env", f"PYTHON={sys.executable}")
    else:
        shutil.copy2(request.getfixturevalue("bootstrap_bin"), pkg / "bootstrap")

    def event(*opts):
        out = subprocess.run([str(scfrt_bin), "event", "apigw", *opts],
                             capture_output=True, text=True, check=True)
        return out.stdout

    cases = [
        (("--path", "/hello", "--query", "name=Ada"), 200, {"message": "hello, Ada"}),
        (("--path", "/hello"), 200, {"message": "hello, world"}),
        (("--method", "DELETE", "--path", "/nowhere"), 404, {"error": "no route for DELETE /nowhere"}),
    ]
    for opts, status, body in cases:
        out = invoke(pkg, "index.main_handler", event(*opts), args=args)
        assert out.returncode == 0, out.stderr
        ret = json.loads(out.results[0]["RetMsg"])
        assert ret["statusCode"] == status, ret
        assert ret["headers"]["Content-Type"] == "application/json"
        assert json.loads(ret["body"]) == body
    out = invoke(pkg, "index.main_handler",
                 event("--method", "POST", "--path", "/echo", "--header", "Content-Type: text/plain",
                       "--body", "ping"), args=args)
    ret = json.loads(out.results[0]["RetMsg"])
    assert ret["statusCode"] == 200, ret
    text = base64.b64decode(ret["body"]).decode() if ret["isBase64Encoded"] else ret["body"]
    assert text == "ping"
    assert ret["headers"]["Content-Type"] == "text/plain"
