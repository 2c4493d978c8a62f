"""GetFunctionLogs on `scfrt serve`, through Tencent's Python SDK (docs/scfrt.md, docs/platform.md
section 5): the invocations of a function, sync and async, successes and failures, with their logs,
newest first; its filters, paging and refusals."""

import datetime
import json
import re
import time

import pytest
from tencentcloud.scf.v20180416 import models

from conftest import Server
from test_serve import bootstrap_zip, create, error_code, invoke, unique

# Logs a line naming the event; an event containing "fail" is reported to /invocation/error.
BODY = r'''EXTRA=
  echo "handling $EVENT"
  case "$EVENT" in
    *fail*) curl -sS -o /dev/null -X POST -d '{"errorMessage":"asked to fail"}' "$API/invocation/error"; continue ;;
  esac'''

UTC8 = datetime.timezone(datetime.timedelta(hours=8))
FMT = "%Y-%m-%d %H:%M:%S"


def get_logs(client, **params):
    req = models.GetFunctionLogsRequest()
    req.from_json_string(json.dumps(params))
    return client.GetFunctionLogs(req)


def raw_logs(client, **params):
    return client.call_json("GetFunctionLogs", params)["Response"]


def wait_for(client, name, request_id):
    """Polls (bounded) until the Event invocation `request_id` is in the logs."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if get_logs(client, FunctionName=name, FunctionRequestId=request_id).TotalCount == 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"the Event invocation {request_id} never showed in GetFunctionLogs")


@pytest.fixture(scope="module")
def invoked(server):
    """A function invoked four ways, one after the other: ok, failing, Event, InvokeFunction."""
    client = server.client()
    name = unique("logs")
    create(client, name, bootstrap_zip(BODY))
    ok = invoke(client, name, '{"step": "ok"}')
    assert ok.InvokeResult == 0
    failed = invoke(client, name, '{"step": "fail"}')
    assert failed.InvokeResult == 430
    event = invoke(client, name, '{"step": "event"}', InvocationType="Event")
    wait_for(client, name, event.FunctionRequestId)
    req = models.InvokeFunctionRequest()
    req.from_json_string(json.dumps({"FunctionName": name, "Event": '{"step": "function"}'}))
    direct = client.InvokeFunction(req).Result
    assert direct.InvokeResult == 0
    ids = [r.FunctionRequestId for r in (ok, failed, event, direct)]
    return name, ids


def test_every_invocation_newest_first_with_its_log(server, invoked):
    client = server.client()
    name, (ok, failed, event, direct) = invoked
    r = get_logs(client, FunctionName=name)
    assert r.TotalCount == 4 and r.RequestId
    assert [d.RequestId for d in r.Data] == [direct, event, failed, ok]
    now = datetime.datetime.now(UTC8)
    starts = [datetime.datetime.strptime(d.StartTime, FMT).replace(tzinfo=UTC8) for d in r.Data]
    assert starts == sorted(starts, reverse=True)
    # UTC+8, as the API's examples: within a few minutes of now in China Standard Time.
    assert all(abs((now - s).total_seconds()) < 300 for s in starts), (now, starts)
    steps = {direct: "function", event: "event", failed: "fail", ok: "ok"}
    for d in r.Data:
        assert d.FunctionName == name
        assert d.InvokeFinished == 1 and d.RetryNum == 0
        assert isinstance(d.Duration, float) and d.Duration > 0
        assert d.BillDuration >= 1 and d.MemUsage > 0
        # The platform's framing around the function's own line (docs/platform.md section 5).
        assert d.Log.startswith(f"START RequestId: {d.RequestId}\n"), d.Log
        assert f"handling {{\"step\": \"{steps[d.RequestId]}\"}}" in d.Log
        assert f"END RequestId: {d.RequestId}\n" in d.Log
        assert f"Report RequestId: {d.RequestId} Duration:" in d.Log
    by_id = {d.RequestId: d for d in r.Data}
    assert by_id[failed].RetCode == 430 and "asked to fail" in by_id[failed].RetMsg
    for rid in (ok, event, direct):
        assert by_id[rid].RetCode == 0
        assert json.loads(by_id[rid].RetMsg)["event"]["step"] == steps[rid]


def test_fields_are_the_sdk_models(server, invoked):
    name, _ = invoked
    raw = raw_logs(server.client(), FunctionName=name)
    declared = {k.lstrip("_") for k in vars(models.FunctionLog())}
    assert declared == {"FunctionName", "RetMsg", "RequestId", "StartTime", "RetCode",
                        "InvokeFinished", "Duration", "BillDuration", "MemUsage", "Log", "Level",
                        "Source", "RetryNum"}
    for entry in raw["Data"]:
        assert set(entry) == declared, set(entry) ^ declared
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["StartTime"])
        # The log service's default level (the SDK marks the field deprecated).
        assert entry["Level"] == "INFO" and entry["Source"] == ""
    assert set(raw) == {"TotalCount", "Data", "RequestId"}


def test_filters_order_and_paging(server, invoked):
    client = server.client()
    name, (ok, failed, event, direct) = invoked

    def ids(**params):
        return [d.RequestId for d in get_logs(client, FunctionName=name, **params).Data]

    assert ids(Filter={"RetCode": "not0"}) == [failed]
    assert ids(Filter={"RetCode": "is0"}) == [direct, event, ok]
    assert ids(Filter={"RetCode": "UserCodeException"}) == [failed]
    assert ids(Filter={"RetCode": "TimeLimitExceeded"}) == []
    assert ids(Filter={"RetCode": "ResourceLimitExceeded"}) == []
    assert ids(Filter={"RetCode": ""}) == [direct, event, failed, ok]
    assert ids(FunctionRequestId=failed) == [failed]
    assert ids(FunctionRequestId="no-such-request") == []
    assert ids(Order="asc") == [ok, failed, event, direct]
    assert ids(Order="asc", OrderBy="start_time", Offset=1, Limit=2) == [failed, event]
    page = get_logs(client, FunctionName=name, Offset=3, Limit=5)
    assert page.TotalCount == 4 and [d.RequestId for d in page.Data] == [ok]
    durations = [d.Duration for d in get_logs(client, FunctionName=name, OrderBy="duration",
                                               Order="asc").Data]
    assert durations == sorted(durations)
    assert ids(Qualifier="$LATEST") == [direct, event, failed, ok]
    assert ids(Namespace="default") == [direct, event, failed, ok]
    now = datetime.datetime.now(UTC8)
    hour = datetime.timedelta(hours=1)
    assert ids(StartTime=(now - hour).strftime(FMT), EndTime=(now + hour).strftime(FMT)) == \
        [direct, event, failed, ok]
    assert ids(StartTime=(now - hour).strftime(FMT)) == [direct, event, failed, ok]
    # A day-long window that ended an hour ago (in UTC+8: the times are not read as UTC).
    assert ids(StartTime=(now - 25 * hour).strftime(FMT), EndTime=(now - hour).strftime(FMT)) == []
    assert ids(EndTime=(now - hour).strftime(FMT)) == []
    # Without FunctionName: every function of the namespace, this one's among them.
    everything = get_logs(client, Limit=100)
    assert everything.TotalCount >= 4
    assert {ok, failed, event, direct} <= {d.RequestId for d in everything.Data}
    names = [d.FunctionName for d in get_logs(client, OrderBy="function_name", Order="asc",
                                              Limit=100).Data]
    assert names == sorted(names)


def test_refusals(server, invoked):
    client = server.client()
    name, _ = invoked
    now = datetime.datetime.now(UTC8)

    def code(**params):
        return error_code(lambda: get_logs(client, **params))

    assert code(FunctionName=unique("nobody")) == "ResourceNotFound.Function"
    assert code(FunctionName=name, Namespace="nowhere") == "ResourceNotFound.Namespace"
    assert code(FunctionName="-bad") == "InvalidParameterValue.FunctionName"
    assert code(FunctionName=name, Filter={"RetCode": "bogus"}) == "InvalidParameterValue.RetCode"
    assert code(FunctionName=name, Order="up") == "InvalidParameterValue.Order"
    assert code(FunctionName=name, OrderBy="size") == "InvalidParameterValue.OrderBy"
    assert code(FunctionName=name, StartTime="yesterday") == "InvalidParameterValue.DateTime"
    assert code(FunctionName=name, EndTime="2024-02-30 00:00:00") == \
        "InvalidParameterValue.DateTime"
    two_days = datetime.timedelta(days=2)
    assert code(FunctionName=name, StartTime=(now - two_days).strftime(FMT),
                EndTime=now.strftime(FMT)) == "InvalidParameterValue.StartTimeOrEndTime"
    assert code(FunctionName=name, StartTime=now.strftime(FMT),
                EndTime=(now - two_days).strftime(FMT)) == "InvalidParameterValue.StartTimeOrEndTime"
    assert code(FunctionName=name, Offset=-1) == "InvalidParameterValue.Offset"
    assert code(FunctionName=name, Limit=-1) == "InvalidParameterValue"
    assert code(FunctionName=name, Offset=9990, Limit=20) == "LimitExceeded.Offset"
    assert code(FunctionName=name, Qualifier="7") == "ResourceNotFound.Version"


def test_logs_survive_a_restart(binary, tmp_path):
    state = tmp_path / "serve"
    srv = Server(binary, state)
    try:
        client = srv.client()
        name = unique("persist")
        create(client, name, bootstrap_zip(BODY))
        rid = invoke(client, name, '{"step": "before"}').FunctionRequestId
    finally:
        srv.stop()
    # A record cut short by a crash at the end of the log is skipped, and does not swallow the
    # next one.
    with open(state / "invocations.log", "a") as f:
        f.write('{"Time": "2024-01-01 00:00:00", "FunctionName": "' + name)
    srv = Server(binary, state)
    try:
        client = srv.client()
        after = invoke(client, name, '{"step": "after"}').FunctionRequestId
        r = get_logs(client, FunctionName=name)
        assert [d.RequestId for d in r.Data] == [after, rid]
    finally:
        srv.stop()
