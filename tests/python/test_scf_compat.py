"""The SCF compatibility corpus: handlers in the shapes of Tencent's public Python demos and
documentation (tests/python/compat/), each run through `scfrt invoke` on both routes (the wheel's
`python -m scfruntime` and the embedded bootstrap), with RetMsg, ErrMsg and the Log compared byte
for byte with what SCF's built-in Python runtime produces for it.

The expected values follow the built-in runtime's algorithm (docs/python.md, source BOOT):
`ret = handler(event, context)`; a top-level `Decimal` becomes `str`; then
`json.dumps(ret, ensure_ascii=False)`; an exception (the handler's or json.dumps's) is answered
`{"errorCode":-1,"errorMessage":"user code exception caught","requestId":...,"stackTrace":...,
"statusCode":430}`; the root logger is at DEBUG with a bare `StreamHandler(sys.stdout)`; output
reaches the log as written. Each case says in a comment why its value is SCF's.

Cases (module.function), and the docs/python.md rows they cover:
  1. context_demo.main_handler: print(context), isinstance, json.dumps, keys
     - `context` type; `context` keys, in order; `context["environment"]`; `context["environ"]`
  2. log_root.main_handler: the root logger and `logging.warning` without set-up - Logging set-up
  3. log_named.main_handler: getLogger(__name__) debug/info/warning/error - Logging set-up
  4. log_basicconfig.main_handler: basicConfig(level=WARNING, format=...) at import is a no-op
     - Logging set-up
  5. hello.main_handler / chinese / escapes: str results, JSON-quoted - Result encoding; print
  6. returns.a_dict / a_list / floats / scalars: json.dumps byte for byte - Result encoding
  7. returns.decimal_top / decimal_nested / a_set: top-level Decimal is its str, nested Decimal
     or a set fails in json.dumps - Result encoding; A result that cannot be encoded
  8. returns.none / no_return: `null` - Result encoding
  9. errors_demo.main_handler / chained / during_handling: SCF's error body, the traceback in
     the log after the handler's output (the order checked on one pipe, against the fake
     runtime API) - Handler error: the result, chained exceptions, the log
 10. env_demo.main_handler: SCF_NAMESPACE, a user variable, TENCENTCLOUD_REGION - Environment
 11. apigw_demo.main_handler: API gateway event in, integration response out - `event`; Result
     encoding
 12. ckafka_demo, cmq_demo, cos_demo, timer_demo (main_handler): trigger events, iterated and
     printed - `event`; print
 13. main_guard.main_handler: the `if __name__ == "__main__":` block does not run - Module loading
 14. warm_demo.main_handler: a print at import is in the first invocation's log only; globals
     survive to the next invocation of the warm instance - Module loading; Reload
 15. timeout_demo.main_handler: what a handler printed before it timed out is in the log
     - `print`, stdout, stderr; Timeouts
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import PROCESS_TIMEOUT, json_dumps_trace, log_body, make_package, source_frame, user_error

COMPAT = Path(__file__).resolve().parent / "compat"
# What scfrt sets for every local function (cli/emulator/src/lib.rs: REGION, PLACEHOLDER_APPID,
# PLACEHOLDER_UIN); the runtime reads them as it reads the platform's.
REGION, APPID, UIN = "ap-guangzhou", "1250000000", "100000000001"


@pytest.fixture
def compat(route: str, tmp_path: Path, request) -> Path:
    """A function package of the corpus with the bootstrap of `route`."""
    boot = request.getfixturevalue("bootstrap_bin") if route == "embedded" else None
    return make_package(tmp_path / f"compat-{route}", route, boot, source=COMPAT)


def succeeded(out, count: int = 1) -> list[dict]:
    """The results of an invoke whose `count` invocations all succeeded."""
    assert out.returncode == 0, out.stderr
    assert len(out.results) == count, out.stderr
    for res in out.results:
        assert res["InvokeResult"] == 0 and res["ErrMsg"] == "", res
    return out.results


def failed(out) -> tuple[dict, str]:
    """The result of an invoke whose one invocation failed in user code, and its stackTrace."""
    assert out.returncode == 1, out.stderr
    assert len(out.results) == 1, out.stderr
    res = out.results[0]
    assert res["InvokeResult"] == 430 and res["RetMsg"] == "", res
    return res, user_error(res["ErrMsg"], res["FunctionRequestId"])


def module(package: Path, name: str) -> Path:
    """The handler file as the function imports it (its path in tracebacks)."""
    return Path(os.path.realpath(package)) / f"{name}.py"


# -- 1. context ---------------------------------------------------------------------------------


def test_context_prints_and_serialises_as_scfs_dict(invoke, compat):
    args = ("--memory", "256", "--timeout", "5", "--function-name", "compat-fn", "--env", "GREETING=héllo")
    [res] = succeeded(invoke(compat, "context_demo.main_handler", "{}", args=args))
    rid = res["FunctionRequestId"]
    # SCF's context: a plain dict, keys in this order; environment is compact JSON of
    # SCF_NAMESPACE then the user's variables, ASCII-escaped; environ the same as K=V;K=V.
    context = {
        "memory_limit_in_mb": 256,
        "time_limit_in_ms": 5000,
        "request_id": rid,
        "environment": '{"SCF_NAMESPACE":"default","GREETING":"h\\u00e9llo"}',
        "environ": "SCF_NAMESPACE=default;GREETING=héllo",
        "function_version": "$LATEST",
        "function_name": "compat-fn",
        "namespace": "default",
        "tencentcloud_region": REGION,
        "tencentcloud_appid": APPID,
        "tencentcloud_uin": UIN,
    }
    # print(context) prints the dict's repr, keys in that order.
    assert log_body(res) == repr(context) + "\n"
    assert log_body(res).startswith("{'memory_limit_in_mb': 256, 'time_limit_in_ms': 5000, 'request_id': ")
    # isinstance(dict) holds, json.dumps gives the dict's JSON (ASCII-escaped: the default),
    # list() its keys in order; the whole result json.dumps'd with ensure_ascii=False.
    expected = {
        "is_dict": True,
        "json": json.dumps(context),
        "keys": list(context),
        "equal_to_its_copy": True,
        "request_id": rid,
    }
    assert res["RetMsg"] == json.dumps(expected, ensure_ascii=False)


# -- 2.-4. logging -------------------------------------------------------------------------------


def test_root_logger_without_set_up_logs_bare_messages(invoke, compat):
    [res] = succeeded(invoke(compat, "log_root.main_handler", '{"name": "scf", "n": 1}'))
    # SCF's root logger: level DEBUG, a StreamHandler(sys.stdout) without formatter, so info and
    # debug both log the bare message; logging.warning goes to the same root logger.
    assert log_body(res) == "start main handler\nevent has 2 keys\nvia the logging module: scf\n"
    # A str result is json.dumps'd: quoted.
    assert res["RetMsg"] == '"logged"'


def test_named_logger_without_set_up_logs_every_level(invoke, compat):
    [res] = succeeded(invoke(compat, "log_named.main_handler", "{}"))
    # A module logger propagates to SCF's DEBUG root: all four levels, bare, in order.
    assert log_body(res) == "debug line\ninfo line\nwarning line\nerror line in scfrt-local\n"
    # Its effective level is the root's, DEBUG (10).
    assert res["RetMsg"] == '{"effective_level": 10}'


def test_basic_config_at_import_changes_nothing(invoke, compat):
    [res] = succeeded(invoke(compat, "log_basicconfig.main_handler", "{}"))
    # basicConfig does nothing when the root logger has a handler, and SCF's has one: no level
    # WARNING (info still logs), no "%(levelname)s: " format.
    assert log_body(res) == "x\ncareful\n"
    assert res["RetMsg"] == '{"root_level": 10, "root_handlers": 1}'


# -- 5.-8. results -------------------------------------------------------------------------------


def test_hello_world_returns_a_json_quoted_str(invoke, compat):
    [res] = succeeded(
        invoke(compat, "hello.main_handler", '{"key1": "test value 1", "key2": "test value 2"}')
    )
    # json.dumps("Hello World"): the console shows RetMsg "\"Hello World\"".
    assert res["RetMsg"] == '"Hello World"'
    # What the handler printed, as written.
    assert log_body(res) == (
        'Received event: {\n  "key1": "test value 1",\n  "key2": "test value 2"\n}\nHello world\n'
    )


@pytest.mark.parametrize(
    "handler, retmsg",
    [
        # ensure_ascii=False: non-ASCII stays UTF-8 inside the quotes.
        ("hello.chinese", '"你好，世界"'),
        # json.dumps escapes quotes, backslashes and control characters, not é.
        ("hello.escapes", '"She said \\"hi\\"\\n\\tthen left \\\\ é"'),
    ],
)
def test_str_results_are_json_dumps_of_the_str(invoke, compat, handler, retmsg):
    [res] = succeeded(invoke(compat, handler, "{}"))
    assert res["RetMsg"] == retmsg
    assert log_body(res) == ""


@pytest.mark.parametrize(
    "handler, retmsg",
    [
        # json.dumps's default separators ", " and ": ", insertion order, a tuple as a list, an
        # int key as its str, None/True/False as null/true/false, UTF-8 kept.
        (
            "returns.a_dict",
            '{"b": 1, "a": [1, 2.5, null, true, false], "nested": {"k": "é", "empty": {}, "list": []},'
            ' "tuple": [1, "二"], "3": "int key"}',
        ),
        # Big ints exact, floats as repr.
        ("returns.a_list", '[1, "x", {"y": null}, [[]], -0.5, 100000000000000000000]'),
        # allow_nan is json.dumps's default: NaN and the infinities as JavaScript literals.
        ("returns.floats", '{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "big": 1e+16, "small": 1e-07}'),
        ("returns.scalars", '[true, 42, 3.0, ""]'),
        # A top-level Decimal becomes its str before json.dumps: quoted, exponent as written.
        ("returns.decimal_top", '"1.50"'),
        # None is json.dumps'd too.
        ("returns.none", "null"),
    ],
)
def test_results_are_json_dumps_byte_for_byte(invoke, compat, handler, retmsg):
    [res] = succeeded(invoke(compat, handler, "{}"))
    assert res["RetMsg"] == retmsg
    assert log_body(res) == ""


def test_no_return_value_is_null(invoke, compat):
    [res] = succeeded(invoke(compat, "returns.no_return", "{}"))
    # The function returns None: json.dumps(None).
    assert res["RetMsg"] == "null"
    assert log_body(res) == "nothing to return\n"


@pytest.mark.parametrize(
    "handler, value, type_name",
    [
        # Only a top-level Decimal is converted: json.dumps refuses one inside a dict.
        ("returns.decimal_nested", {"price": Decimal("1.50")}, "Decimal"),
        ("returns.a_set", {"tags": {"a"}}, "set"),
    ],
)
def test_unencodable_results_fail_with_json_dumps_type_error(invoke, compat, handler, value, type_name):
    res, trace = failed(invoke(compat, handler, "{}"))
    # json.dumps raises inside the runtime's try: a user-code error whose stackTrace is
    # json.dumps's TypeError traceback (no handler frame: the handler had returned).
    assert trace.startswith("Traceback (most recent call last):\n")
    assert trace.endswith(f"\nTypeError: Object of type {type_name} is not JSON serializable")
    assert trace == json_dumps_trace(value)
    assert log_body(res) == trace + "\n"


# -- 9. errors -----------------------------------------------------------------------------------


def test_exception_is_scfs_error_body_and_is_logged(invoke, compat):
    res, trace = failed(invoke(compat, "errors_demo.main_handler", "{}"))
    path = module(compat, "errors_demo")
    # The development guide's example, byte for byte but the path: the handler's frame only (the
    # built-in runtime deletes its own two lines), the exception last.
    assert trace == "\n".join(
        [
            "Traceback (most recent call last):",
            source_frame(path, 'raise Exception("err msg")', "main_handler"),
            "Exception: err msg",
        ]
    )
    # Both in the log, and nothing else: what the handler printed and the traceback (written to
    # stderr). scfrt reads stdout and stderr from two pipes, so their order is not observable
    # here: test_traceback_follows_the_handlers_output checks it on one pipe.
    printed, traceback = "about to fail\n", trace + "\n"
    assert log_body(res) in (printed + traceback, traceback + printed)


def test_traceback_follows_the_handlers_output(fake_api, route, tmp_path, request):
    """The bootstrap's stdout and stderr on one pipe, against the fake runtime API: the order
    in which the two streams reach the log."""
    boot = request.getfixturevalue("bootstrap_bin") if route == "embedded" else None
    pkg = make_package(tmp_path / "pkg", route, boot, source=COMPAT)
    env = fake_api.env(_HANDLER="errors_demo.main_handler")
    # Without PYTHONUNBUFFERED (scfrt clears the environment; SCF does not set it): stdout is
    # block-buffered here as it is there.
    env.pop("PYTHONUNBUFFERED", None)
    proc = subprocess.Popen(
        [str(pkg / "bootstrap")], cwd=pkg, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        rid = fake_api.push(b"{}")
        post = fake_api.next_post(timeout=PROCESS_TIMEOUT)
        assert fake_api.polling.wait(timeout=PROCESS_TIMEOUT), "the runtime never polled again"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=PROCESS_TIMEOUT)
    assert proc.returncode == 0, output
    trace = user_error(post.body, rid)
    # SCF writes every print to the log as it happens (BOOT's CustomIO), and the traceback when
    # the exception reaches the runtime: after the handler's output (docs/python.md, "Handler
    # error: the log").
    assert output.decode() == "about to fail\n" + trace + "\n"


def test_chained_exception_keeps_the_cause(invoke, compat):
    res, trace = failed(invoke(compat, "errors_demo.chained", "{}"))
    path = module(compat, "errors_demo")
    # format_exception's text of `raise ... from e`: the cause first, then the exception. (The
    # built-in runtime would cut two lines of the cause's traceback; docs/python.md, "chained
    # exceptions": we keep the whole chain on purpose.)
    assert trace == "\n".join(
        [
            "Traceback (most recent call last):",
            source_frame(path, "load_config(event)", "chained"),
            source_frame(path, 'raise KeyError("config")', "load_config"),
            "KeyError: 'config'",
            "",
            "The above exception was the direct cause of the following exception:",
            "",
            "Traceback (most recent call last):",
            source_frame(path, 'raise RuntimeError("cannot start: no config") from e', "chained"),
            "RuntimeError: cannot start: no config",
        ]
    )
    assert log_body(res) == trace + "\n"


def test_exception_while_handling_another_keeps_the_context(invoke, compat):
    res, trace = failed(invoke(compat, "errors_demo.during_handling", "{}"))
    path = module(compat, "errors_demo")
    # Implicit chaining: format_exception prints the first exception and "During handling...";
    # UTF-8 stays as is in the error body.
    assert trace == "\n".join(
        [
            "Traceback (most recent call last):",
            source_frame(path, 'raise KeyError("missing")', "during_handling"),
            "KeyError: 'missing'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            source_frame(path, 'raise ValueError("bad event: 坏")', "during_handling"),
            "ValueError: bad event: 坏",
        ]
    )
    assert log_body(res) == trace + "\n"


def test_output_before_a_timeout_is_in_the_log(invoke, compat):
    out = invoke(compat, "timeout_demo.main_handler", '{"seconds": 30}', args=("--timeout", "1"))
    assert out.returncode == 1, out.stderr
    [res] = out.results
    # The platform kills the instance at the timeout (status 433); SCF wrote the print to the
    # log when it happened (BOOT's CustomIO), so the log has it.
    assert res["InvokeResult"] == 433, res
    assert log_body(res) == "job started\n"


# -- 10. environment -----------------------------------------------------------------------------


def test_environment_variables(invoke, compat):
    out = invoke(
        compat,
        "env_demo.main_handler",
        "{}",
        args=("--function-name", "compat-fn", "--env", "GREETING=héllo"),
    )
    [res] = succeeded(out)
    # The platform's variables and the user's are in os.environ; the region is the same as the
    # context's; an unset one falls back.
    assert res["RetMsg"] == (
        '{"namespace": "default", "greeting": "héllo", "region": "ap-guangzhou", "function": "compat-fn",'
        ' "unset": "fallback", "context_region": "ap-guangzhou"}'
    )


# -- 11.-12. triggers ----------------------------------------------------------------------------

APIGW_EVENT = {
    "requestContext": {
        "serviceId": "service-abcd1234",
        "path": "/hello/{name}",
        "httpMethod": "POST",
        "requestId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "identity": {"secretId": "AKIDexample"},
        "sourceIp": "10.0.0.1",
        "stage": "release",
    },
    "headers": {
        "accept": "text/html",
        "content-type": "application/json",
        "host": "service-abcd1234-1250000000.gz.apigw.tencentcs.com",
        "user-agent": "curl/8.0",
    },
    "body": '{"items": [1, 2]}',
    "pathParameters": {"name": "小明"},
    "queryStringParameters": {"name": "小明", "lang": "zh"},
    "headerParameters": {},
    "stageVariables": {"stage": "release"},
    "path": "/hello/小明",
    "queryString": {"name": "小明", "lang": "zh"},
    "httpMethod": "POST",
    "isBase64Encoded": False,
}


def test_api_gateway_integration_response(invoke, compat):
    [res] = succeeded(invoke(compat, "apigw_demo.main_handler", json.dumps(APIGW_EVENT)))
    # The integration response dict, json.dumps'd: false, the default separators, UTF-8 kept.
    assert res["RetMsg"] == (
        '{"isBase64Encoded": false, "statusCode": 200, "headers": {"Content-Type": "text/html"},'
        ' "body": "<html><body><h1>Hello, 小明</h1><p>2 items</p></body></html>"}'
    )
    # The root logger's info, then the print, both bare.
    assert log_body(res) == "start main handler\nPOST /hello/小明 from 10.0.0.1\n"


CKAFKA_EVENT = {
    "Records": [
        {
            "Ckafka": {
                "topic": "orders",
                "partition": 1,
                "offset": 36,
                "msgKey": "order-1",
                "msgBody": "Hello from Ckafka!",
            }
        },
        {
            "Ckafka": {
                "topic": "orders",
                "partition": 1,
                "offset": 37,
                "msgKey": "order-2",
                "msgBody": "第二条消息",
            }
        },
    ]
}
CMQ_EVENT = {
    "Records": [
        {
            "CMQ": {
                "type": "topic",
                "topicOwner": 1250000000,
                "topicName": "demo-topic",
                "subscriptionName": "demo-sub",
                "publishTime": "2019-02-21T11:49:00Z",
                "msgId": "123345346123123123",
                "requestId": "123345346123123",
                "msgBody": "Hello from CMQ!",
                "msgTag": "tag1,tag2",
            }
        }
    ]
}
COS_EVENT = {
    "Records": [
        {
            "cos": {
                "cosSchemaVersion": "1.0",
                "cosObject": {
                    "url": "http://photos-1250000000.cos.ap-guangzhou.myqcloud.com/2024/%E7%8C%AB.jpg",
                    "meta": {
                        "x-cos-request-id": "NWMxOWY4MGFfOTc0YjI2MGFfMjM5OV8x",
                        "Content-Type": "image/jpeg",
                    },
                    "vid": "",
                    "key": "/1250000000/photos/2024/猫.jpg",
                    "size": 1029,
                },
                "cosBucket": {"region": "gz", "name": "photos", "appid": "1250000000"},
                "cosNotificationId": "unknown",
            },
            "event": {
                "eventName": "cos:ObjectCreated:Put",
                "eventVersion": "1.0",
                "eventTime": 1545205770,
                "eventSource": "qcs::cos",
                "requestParameters": {
                    "requestSourceIP": "10.0.0.2",
                    "requestHeaders": {"Authorization": "q-sign-algorithm=sha1&q-ak=AKIDexample"},
                },
                "eventQueue": "qcs:0:lambda:gz:appid/1250000000:default.cos_demo.$LATEST",
                "reservedInfo": "",
                "reqid": 179398952,
            },
        }
    ]
}
TIMER_EVENT = {
    "Type": "Timer",
    "TriggerName": "EveryDay",
    "Time": "2019-02-21T11:49:00Z",
    "Message": "daily report",
}


@pytest.mark.parametrize(
    "handler, event, args, log, retmsg",
    [
        # Two messages in one event, printed as they are read; a str summary, JSON-quoted.
        (
            "ckafka_demo.main_handler",
            CKAFKA_EVENT,
            (),
            "topic=orders partition=1 offset=36 key=order-1\nbody: Hello from Ckafka!\n"
            "topic=orders partition=1 offset=37 key=order-2\nbody: 第二条消息\n",
            '"Successfully processed 2 records."',
        ),
        # The topic owner is a JSON number and arrives as an int.
        (
            "cmq_demo.main_handler",
            CMQ_EVENT,
            (),
            "topic 123345346123123123: 1250000000/demo-topic (demo-sub) at 2019-02-21T11:49:00Z,"
            " tags tag1,tag2: Hello from CMQ!\n",
            '{"received": ["123345346123123123"]}',
        ),
        # A list result; the key's non-ASCII path stays UTF-8.
        (
            "cos_demo.main_handler",
            COS_EVENT,
            (),
            "cos:ObjectCreated:Put photos/2024/猫.jpg (1029 bytes) in gz\n",
            '[{"bucket": "photos-1250000000", "key": "2024/猫.jpg", "size": 1029}]',
        ),
        # 2019-02-21 was a Thursday.
        (
            "timer_demo.main_handler",
            TIMER_EVENT,
            ("--trigger-src", "timer"),
            "Timer EveryDay fired at 2019-02-21T11:49:00Z: daily report\n",
            '{"trigger": "EveryDay", "weekday": "Thursday", "message": "daily report"}',
        ),
    ],
    ids=["ckafka", "cmq", "cos", "timer"],
)
def test_trigger_events(invoke, compat, handler, event, args, log, retmsg):
    [res] = succeeded(invoke(compat, handler, json.dumps(event, ensure_ascii=False), args=args))
    assert res["RetMsg"] == retmsg
    assert log_body(res) == log


# -- 13.-14. module loading ----------------------------------------------------------------------


def test_main_block_does_not_run(invoke, compat):
    [res] = succeeded(invoke(compat, "main_guard.main_handler", "{}"))
    # SCF imports the file as a module, not as __main__: the block neither prints nor exits.
    assert res["RetMsg"] == '{"main_block_ran": false}'
    assert log_body(res) == "handler ran\n"


def test_print_at_import_is_in_the_first_log_only(invoke, compat):
    first, second = succeeded(invoke(compat, "warm_demo.main_handler", '{"value": "a"}', '{"value": "b"}'), 2)
    # The module is imported once, at the cold start; what it printed is in the first
    # invocation's log, before the handler's output, and not in the warm one's.
    assert log_body(first) == "Loading function\ninvocation 1\n"
    assert log_body(second) == "invocation 2\n"
    assert "Init Report" in first["Log"] and "Init Report" not in second["Log"]


def test_globals_survive_in_the_warm_instance(invoke, compat):
    first, second = succeeded(invoke(compat, "warm_demo.main_handler", '{"value": "a"}', '{"value": "b"}'), 2)
    # One process, modules imported once: the counter goes on, the cache keeps the first value.
    assert first["RetMsg"] == '{"invocations": 1, "cached": "a", "cache_was_empty": true}'
    assert second["RetMsg"] == '{"invocations": 2, "cached": "a", "cache_was_empty": false}'
