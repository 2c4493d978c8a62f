"""`scfrt serve` driven by Tencent's own Python SDK (tencentcloud-sdk-python), as the seed drives SCF."""

import json
import pathlib
import socket
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.scf.v20180416 import models

from conftest import SECRET_ID, Server, b64, make_zip

SEED_EVENT = '{ "key1": "test value 1", "key2": "test value 2" }'
# What the seed's index.sh answers: RESPONSE="Echoing request: '$EVENT_DATA'"; echo $RESPONSE
# (unquoted echo: runs of blanks collapse to one; the seed event has none).
SEED_RETMSG = "Echoing request: '" + SEED_EVENT + "'"

# A bash bootstrap with helpers; BODY decides what an event does. It answers JSON with its pid and
# a per-process event counter, so the tests can tell instances and their invocations apart.
PRELUDE = r'''#!/bin/bash
API="http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT/runtime"
curl -sS -o /dev/null -X POST -d " " "$API/init/ready"
n=0
while true; do
  EVENT=$(curl -sS "$API/invocation/next")
  n=$((n+1))
  start=$(date +%s%N)
'''
EPILOGUE = r'''
  end=$(date +%s%N)
  curl -sS -o /dev/null -X POST --data-binary "{\"pid\":$$,\"n\":$n,\"start\":$start,\"end\":$end,\"extra\":\"$EXTRA\",\"event\":$EVENT}" "$API/invocation/response"
done
'''


def bootstrap_zip(body="EXTRA=", files=None):
    entries = {"bootstrap": (PRELUDE + body + EPILOGUE, 0o755)}
    entries.update(files or {})
    return make_zip(entries)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(client, name, zip_bytes, **extra):
    req = models.CreateFunctionRequest()
    params = {"FunctionName": name, "Code": {"ZipFile": b64(zip_bytes)}, "Timeout": 3,
              "Runtime": "CustomRuntime", "InitTimeout": 3, **extra}
    req.from_json_string(json.dumps(params))
    return client.CreateFunction(req)


def invoke(client, name, event="{}", **extra):
    req = models.InvokeRequest()
    req.from_json_string(json.dumps({"FunctionName": name, "ClientContext": event, **extra}))
    return client.Invoke(req).Result


def error_code(fn):
    with pytest.raises(TencentCloudSDKException) as info:
        fn()
    return info.value.code


# ---- the seed, unchanged but for the endpoint and credentials -------------------------------------

def test_seed_create_and_invoke(server, bash_echo_zip):
    client = server.client()
    # The seed's CreateFunction call (its params string, as JSON).
    req = models.CreateFunctionRequest()
    params = '{"FunctionName":"CustomRuntime-Bash","Code":{"ZipFile":"' + b64(bash_echo_zip) + \
        '"},"Timeout":3,"Runtime":"CustomRuntime","InitTimeout":3}'
    req.from_json_string(params)
    resp = client.CreateFunction(req)
    assert resp.RequestId
    # The seed's Invoke call.
    req = models.InvokeRequest()
    params = '{"FunctionName":"CustomRuntime-Bash","ClientContext":"{ \\"key1\\": \\"test value 1\\", \\"key2\\": \\"test value 2\\" }"}'
    req.from_json_string(params)
    resp = client.Invoke(req)
    result = resp.Result
    assert result.RetMsg == SEED_RETMSG
    assert result.InvokeResult == 0 and result.ErrMsg == ""
    assert result.FunctionRequestId and resp.RequestId
    assert result.BillDuration >= 1 and result.Duration > 0 and result.MemUsage > 0
    # The seed asks for no LogType: the API's default is None, no log in the answer.
    assert result.Log == ""
    # Warm, with LogType=Tail: the same instance answers (no init this time), and index.sh's
    # echo of the event to stderr is in the log, framed.
    req.LogType = "Tail"
    again = client.Invoke(req).Result
    assert again.RetMsg == SEED_RETMSG
    assert SEED_EVENT in again.Log
    assert f"START RequestId: {again.FunctionRequestId}" in again.Log
    assert "Init Report" not in again.Log
    # The response JSON as the seed prints it.
    printed = json.loads(resp.to_json_string())
    assert set(printed["Result"]) >= {"MemUsage", "Log", "RetMsg", "BillDuration", "FunctionRequestId",
                                      "Duration", "ErrMsg", "InvokeResult"}


def test_invoke_function_and_log_type(client, bash_echo_zip):
    name = unique("echo")
    create(client, name, bash_echo_zip)
    r = invoke(client, name, '{"a": 1}', LogType="None")
    assert r.RetMsg == "Echoing request: '{\"a\": 1}'" and r.Log == ""
    # No LogType: the API's default is None for both actions (the SDK model's documentation).
    r = invoke(client, name, '{"a": 1}')
    assert r.InvokeResult == 0 and r.Log == ""
    r = invoke(client, name, '{"a": 1}', LogType="Tail")
    assert '{"a": 1}' in r.Log and f"END RequestId: {r.FunctionRequestId}" in r.Log
    req = models.InvokeFunctionRequest()
    req.from_json_string(json.dumps({"FunctionName": name, "Event": '{"b": 2}'}))
    r = client.InvokeFunction(req).Result
    assert r.RetMsg == "Echoing request: '{\"b\": 2}'" and r.InvokeResult == 0 and r.Log == ""
    # $DEFAULT, InvokeFunction's documented default qualifier (the alias on $LATEST), and
    # $LATEST are accepted by both actions; a version that does not exist is not.
    for qualifier in ("$DEFAULT", "$LATEST"):
        req.Qualifier = qualifier
        req.LogType = "Tail"
        r = client.InvokeFunction(req).Result
        assert r.InvokeResult == 0 and '{"b": 2}' in r.Log, qualifier
        assert invoke(client, name, '{"c": 3}', Qualifier=qualifier).InvokeResult == 0
    assert error_code(lambda: invoke(client, name, Qualifier="7")) == "ResourceNotFound.Version"


def test_get_list_update_delete(client, bash_echo_zip):
    name = unique("crud")
    create(client, name, bash_echo_zip, MemorySize=256, Description="first",
           Environment={"Variables": [{"Key": "GREETING", "Value": "hi"}]})
    req = models.GetFunctionRequest()
    req.from_json_string(json.dumps({"FunctionName": name}))
    got = client.GetFunction(req)
    assert (got.FunctionName, got.Runtime, got.Handler) == (name, "CustomRuntime", "index.main_handler")
    assert (got.Timeout, got.InitTimeout, got.MemorySize, got.Status) == (3, 3, 256, "Active")
    assert got.Namespace == "default" and got.FunctionId.startswith("lam-")
    assert [(v.Key, v.Value) for v in got.Environment.Variables] == [("GREETING", "hi")]

    req = models.ListFunctionsRequest()
    req.from_json_string(json.dumps({"SearchKey": name}))
    listed = client.ListFunctions(req)
    assert listed.TotalCount == 1 and listed.Functions[0].FunctionName == name

    # New code: the next invocation runs it (and the old instances are gone).
    v2 = bootstrap_zip('EXTRA="v2-$GREETING"')
    req = models.UpdateFunctionCodeRequest()
    req.from_json_string(json.dumps({"FunctionName": name, "ZipFile": b64(v2)}))
    client.UpdateFunctionCode(req)
    assert json.loads(invoke(client, name).RetMsg)["extra"] == "v2-hi"

    req = models.UpdateFunctionConfigurationRequest()
    req.from_json_string(json.dumps({"FunctionName": name, "Timeout": 10,
                                     "Environment": {"Variables": [{"Key": "GREETING", "Value": "ho"}]}}))
    client.UpdateFunctionConfiguration(req)
    assert json.loads(invoke(client, name).RetMsg)["extra"] == "v2-ho"
    req = models.GetFunctionRequest()
    req.from_json_string(json.dumps({"FunctionName": name}))
    assert client.GetFunction(req).Timeout == 10

    req = models.DeleteFunctionRequest()
    req.from_json_string(json.dumps({"FunctionName": name}))
    client.DeleteFunction(req)
    assert error_code(lambda: invoke(client, name)) == "ResourceNotFound.Function"


def test_event_invocation_runs_in_background(server, client, bash_echo_zip):
    name = unique("async")
    create(client, name, bash_echo_zip)
    r = invoke(client, name, '{"async": true}', InvocationType="Event")
    rid = r.FunctionRequestId
    assert rid and r.RetMsg == ""
    log = pathlib.Path(server.state_dir) / "invocations.log"
    # The API has no completion notification for Event invocations: poll the log, bounded.
    deadline = time.monotonic() + 15
    entry = None
    while entry is None and time.monotonic() < deadline:
        if log.exists():
            # Only whole lines: a record being appended can be seen half-written (the kernel
            # makes an append visible page by page), and every record ends with a newline.
            for line in log.read_text().split("\n")[:-1]:
                rec = json.loads(line)
                if rec["FunctionRequestId"] == rid:
                    entry = rec
        if entry is None:
            time.sleep(0.05)
    assert entry is not None, "the Event invocation never finished"
    assert entry["InvocationType"] == "Event" and entry["InvokeResult"] == 0
    assert entry["RetMsg"] == "Echoing request: '{\"async\": true}'"


def test_crash_and_timeout_replace_the_instance(client):
    name = unique("fragile")
    body = r'''EXTRA=
  case "$EVENT" in
    *crash*) exit 3 ;;
    *hang*) sleep 30 ;;
  esac'''
    create(client, name, bootstrap_zip(body), Timeout=1)
    first = json.loads(invoke(client, name).RetMsg)
    crashed = invoke(client, name, '{"crash": 1}')
    assert crashed.InvokeResult == 439 and "exited" in crashed.ErrMsg
    after_crash = json.loads(invoke(client, name).RetMsg)
    assert after_crash["pid"] != first["pid"] and after_crash["n"] == 1
    timed_out = invoke(client, name, '{"hang": 1}')
    assert timed_out.InvokeResult == 433
    assert "timed out after 1 seconds" in timed_out.ErrMsg
    after_timeout = json.loads(invoke(client, name).RetMsg)
    assert after_timeout["pid"] != after_crash["pid"] and after_timeout["n"] == 1


def test_concurrent_invokes(client):
    name = unique("conc")
    # A little work per event, so that invocations overlap.
    create(client, name, bootstrap_zip("EXTRA=\n  for i in 1 2 3 4 5 6 7 8; do :; done"))
    results = []
    lock = threading.Lock()

    def worker(t):
        c = client  # one SDK client shared by threads, as scripts do
        for i in range(25):
            event = {"thread": t, "i": i}
            r = invoke(c, name, json.dumps(event))
            with lock:
                results.append((event, r))

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(worker, range(8)))
    assert len(results) == 200
    seen = {}
    for event, r in results:
        assert r.InvokeResult == 0, r.ErrMsg
        body = json.loads(r.RetMsg)
        assert body["event"] == event  # every caller got the answer to its own event
        seen.setdefault(body["pid"], []).append(body)
    # More than one instance, at most --max-instances (4).
    assert 1 < len(seen) <= 4, sorted(seen)
    for pid, bodies in seen.items():
        # Each instance numbered its events 1..k without gaps or repeats, and its events did not
        # overlap in time: no instance served two events at once.
        bodies.sort(key=lambda b: b["n"])
        assert [b["n"] for b in bodies] == list(range(1, len(bodies) + 1)), pid
        for a, b in zip(bodies, bodies[1:]):
            assert a["end"] <= b["start"], pid


# ---- errors, through the SDK's own exception ----------------------------------------------------------

def test_auth_errors(server, bash_echo_zip):
    name = unique("auth")
    create(server.client(), name, bash_echo_zip)
    assert error_code(lambda: invoke(server.client(secret_key="wrong"), name)) == "AuthFailure.SignatureFailure"
    assert error_code(lambda: invoke(server.client(secret_id="AKIDunknown"), name)) == "AuthFailure.SecretIdNotFound"
    with mock.patch("time.time", return_value=time.time() - 600):
        assert error_code(lambda: invoke(server.client(), name)) == "AuthFailure.SignatureExpire"
    with mock.patch("time.time", return_value=time.time() + 290):
        assert invoke(server.client(), name, "{}").InvokeResult == 0  # within 5 minutes


def test_unsigned_request_envelope(server):
    body = json.dumps({"FunctionName": "x"}).encode()
    req = urllib.request.Request(f"http://{server.endpoint}/", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-TC-Action": "Invoke",
                                          "X-TC-Version": "2018-04-16"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        data = json.loads(resp.read())
    assert set(data) == {"Response"}
    assert set(data["Response"]) == {"Error", "RequestId"}
    assert data["Response"]["Error"]["Code"] == "AuthFailure"
    assert data["Response"]["Error"]["Message"]
    uuid.UUID(data["Response"]["RequestId"])


def test_parameter_errors(client, bash_echo_zip):
    name = unique("params")
    create(client, name, bash_echo_zip)
    assert error_code(lambda: client.call_json("NoSuchAction", {})) == "InvalidAction"
    assert error_code(lambda: client.call_json("Invoke", {})) == "MissingParameter"
    assert error_code(lambda: invoke(client, unique("missing"))) == "ResourceNotFound.Function"
    assert error_code(lambda: invoke(client, name, "not json")) == "InvalidParameterValue.ClientContext"
    assert error_code(lambda: invoke(client, name, InvocationType="Sometimes")) == "InvalidParameterValue.InvokeType"
    assert error_code(lambda: invoke(client, name, Qualifier="7")) == "ResourceNotFound.Version"
    big = json.dumps({"x": "a" * (129 * 1024)})
    assert error_code(lambda: invoke(client, name, big, InvocationType="Event")) == "InvalidParameter.RequestTooLarge"
    assert error_code(lambda: create(client, name, bash_echo_zip)) == "ResourceInUse.Function"
    assert error_code(lambda: create(client, "9bad/name", bash_echo_zip)) == "InvalidParameterValue.FunctionName"
    assert error_code(lambda: create(client, unique("t"), bash_echo_zip, Timeout=1000)) == "LimitExceeded.Timeout"
    assert error_code(lambda: create(client, unique("m"), bash_echo_zip, MemorySize=100)) == "InvalidParameterValue.MemorySize"
    assert error_code(lambda: create(client, unique("r"), bash_echo_zip, Runtime="Python3.9")) == "InvalidParameterValue.Runtime"
    assert error_code(lambda: create(client, unique("e"), bash_echo_zip,
                                     Environment={"Variables": [{"Key": "SCF_X", "Value": "1"}]})
                      ) == "InvalidParameterValue.EnvironmentSystemProtect"
    assert error_code(lambda: client.call_json("CreateFunction", {
        "FunctionName": unique("nocode"), "Runtime": "CustomRuntime"})) == "MissingParameter.Code"
    assert error_code(lambda: client.call_json("CreateFunction", {
        "FunctionName": unique("b64"), "Runtime": "CustomRuntime", "Code": {"ZipFile": "%%%"}})
    ) == "InvalidParameterValue.ZipFileBase64BinasciiError"
    assert error_code(lambda: create(client, unique("junk"), b"not a zip")) == "InvalidParameterValue.ZipFile"


def _symlink_zip(target):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, target)
    return buf.getvalue()


@pytest.mark.parametrize("zip_bytes", [
    make_zip({"../evil": ("x", 0o644), "bootstrap": ("#!/bin/sh\n", 0o755)}),
    make_zip({"/etc/evil": ("x", 0o644)}),
    _symlink_zip("../../../bin/sh"),
    _symlink_zip("/bin/sh"),
], ids=["dotdot", "absolute", "escaping-symlink", "absolute-symlink"])
def test_unsafe_zips_refused(server, client, zip_bytes):
    name = unique("unsafe")
    assert error_code(lambda: create(client, name, zip_bytes)) == "InvalidParameterValue.ZipFile"
    assert not (pathlib.Path(server.state_dir) / "functions" / "default" / name).exists()
    assert list((pathlib.Path(server.state_dir) / "tmp").iterdir()) == []


# ---- a server of its own ------------------------------------------------------------------------

def test_restart_keeps_functions(binary, tmp_path, bash_echo_zip):
    state = tmp_path / "state"
    first = Server(binary, state)
    try:
        create(first.client(), "Kept-Fn", bash_echo_zip, Description="survives")
        assert invoke(first.client(), "Kept-Fn", SEED_EVENT).RetMsg == SEED_RETMSG
    finally:
        first.stop()
    second = Server(binary, state, ["--read-timeout", "1"])
    try:
        client = second.client()
        req = models.ListFunctionsRequest()
        req.from_json_string("{}")
        listed = client.ListFunctions(req)
        assert [f.FunctionName for f in listed.Functions] == ["Kept-Fn"]
        assert listed.Functions[0].Description == "survives"
        r = invoke(client, "Kept-Fn", SEED_EVENT, LogType="Tail")
        assert r.RetMsg == SEED_RETMSG and "Init Report" in r.Log

        # Slowloris: a client that never finishes its headers is cut off after --read-timeout.
        host, port = second.endpoint.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            s.settimeout(10)
            try:
                rest = s.recv(4096)
                while rest:
                    rest = s.recv(4096)
            except ConnectionResetError:
                pass
            assert time.monotonic() - started < 5
    finally:
        second.stop()


def test_get_and_list_answer_every_field_the_sdk_model_declares(client, bash_echo_zip):
    name = unique("fields")
    create(client, name, bash_echo_zip)
    # The raw JSON (the SDK's models would turn a missing field into None silently).
    got = json.loads(client.call("GetFunction", {"FunctionName": name}))["Response"]
    declared = [k.lstrip("_") for k in models.GetFunctionResponse().__dict__]
    assert [k for k in declared if k not in got] == []
    listed = json.loads(client.call("ListFunctions", {"SearchKey": name}))["Response"]
    assert [k for k in (k.lstrip("_") for k in models.ListFunctionsResponse().__dict__)
            if k not in listed] == []
    (fn,) = listed["Functions"]
    assert [k for k in (k.lstrip("_") for k in models.Function().__dict__) if k not in fn] == []


def test_namespaces(client, bash_echo_zip):
    ns = unique("ns")[:30]
    # A function in a namespace that does not exist: refused, never created implicitly.
    assert error_code(lambda: create(client, "in-missing-ns", bash_echo_zip, Namespace=ns)) == \
        "ResourceNotFound.Namespace"
    assert error_code(lambda: call(client, "ListFunctions", {"Namespace": ns})) == \
        "ResourceNotFound.Namespace"
    call(client, "CreateNamespace", {"Namespace": ns, "Description": "for tests"})
    assert error_code(lambda: call(client, "CreateNamespace", {"Namespace": ns})) == \
        "ResourceInUse.Namespace"
    assert error_code(lambda: call(client, "CreateNamespace", {"Namespace": "default"})) == \
        "InvalidParameterValue.DefaultNamespace"
    listed = call(client, "ListNamespaces", {"Limit": 100})
    by_name = {n.Name: n for n in listed.Namespaces}
    assert listed.TotalCount == len(listed.Namespaces) >= 2
    assert by_name["default"].Type == "default"
    assert by_name[ns].Description == "for tests" and by_name[ns].AddTime
    # Functions live in it, invoked by namespace; it cannot be deleted while it holds one.
    create(client, "fn-in-ns", bash_echo_zip, Namespace=ns)
    r = invoke(client, "fn-in-ns", SEED_EVENT, Namespace=ns)
    assert r.RetMsg == SEED_RETMSG
    assert error_code(lambda: invoke(client, "fn-in-ns", SEED_EVENT)) == "ResourceNotFound.Function"
    assert error_code(lambda: call(client, "DeleteNamespace", {"Namespace": ns})) == \
        "FailedOperation.DeleteNamespace"
    call(client, "DeleteFunction", {"FunctionName": "fn-in-ns", "Namespace": ns})
    call(client, "DeleteNamespace", {"Namespace": ns})
    assert ns not in [n.Name for n in call(client, "ListNamespaces", {"Limit": 100}).Namespaces]
    assert error_code(lambda: call(client, "DeleteNamespace", {"Namespace": ns})) == \
        "ResourceNotFound.Namespace"
    assert error_code(lambda: call(client, "DeleteNamespace", {"Namespace": "default"})) == \
        "FailedOperation.DeleteNamespace"


def call(client, action, params):
    req = getattr(models, action + "Request")()
    req.from_json_string(json.dumps(params))
    return getattr(client, action)(req)


def test_list_actions_page_alike(client, bash_echo_zip):
    """ListFunctions, ListNamespaces and ListVersionByFunction read Offset, Limit and Order one way."""
    name = unique("page")
    create(client, name, bash_echo_zip)
    for action, extra in [("ListFunctions", {}), ("ListNamespaces", {}),
                          ("ListVersionByFunction", {"FunctionName": name})]:
        def call(**params):
            req = getattr(models, action + "Request")()
            req.from_json_string(json.dumps({**extra, **params}))
            return getattr(client, action)(req)
        assert error_code(lambda: call(Offset=-1)) == "InvalidParameterValue.Offset", action
        assert error_code(lambda: call(Limit=0)) == "InvalidParameterValue.Limit", action
        assert error_code(lambda: call(Limit=101)) == "InvalidParameterValue.Limit", action
        assert error_code(lambda: call(Order="up")) == "InvalidParameterValue.Order", action
        assert call(Order="desc").TotalCount >= 1, action
        assert call(Offset=0, Limit=100).TotalCount >= 1, action
