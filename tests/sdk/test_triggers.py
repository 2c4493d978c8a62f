"""CreateTrigger, ListTriggers, DeleteTrigger and timer triggers that fire, on `scfrt serve`
through Tencent's Python SDK (docs/triggers.md, "Triggers in scfrt serve")."""

import json
import re
import time

from tencentcloud.scf.v20180416 import models

from conftest import Server
from test_logs import get_logs
from test_serve import bootstrap_zip, create, error_code, unique


def create_trigger(client, **params):
    req = models.CreateTriggerRequest()
    req.from_json_string(json.dumps(params))
    return client.CreateTrigger(req).TriggerInfo


def list_triggers(client, **params):
    req = models.ListTriggersRequest()
    req.from_json_string(json.dumps(params))
    return client.ListTriggers(req)


def delete_trigger(client, **params):
    req = models.DeleteTriggerRequest()
    req.from_json_string(json.dumps(params))
    return client.DeleteTrigger(req)


def timer_events(client, name, at_least, timeout=15):
    """The events of the function's Timer invocations, polled (bounded) until there are
    `at_least`, oldest first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = [d for d in get_logs(client, FunctionName=name, Limit=100).Data]
        events = [json.loads(d.RetMsg)["event"] for d in reversed(data) if d.RetCode == 0]
        if len(events) >= at_least:
            return events
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} timer invocations of {name} in {timeout} s")


def test_a_per_second_timer_fires_with_the_timer_event(server):
    client = server.client()
    name = unique("tick")
    create(client, name, bootstrap_zip())
    info = create_trigger(client, FunctionName=name, TriggerName="every-second", Type="timer",
                          TriggerDesc="* * * * * * *", CustomArgument="tick-arg",
                          Qualifier="$DEFAULT")
    assert (info.TriggerName, info.Type, info.TriggerDesc, info.Enable) == \
        ("every-second", "timer", "* * * * * * *", 1)
    assert (info.Qualifier, info.CustomArgument) == ("$DEFAULT", "tick-arg")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info.AddTime)
    first, second = timer_events(client, name, 2)[:2]
    for e in (first, second):
        assert set(e) == {"Type", "TriggerName", "Time", "Message"}
        assert (e["Type"], e["TriggerName"], e["Message"]) == ("Timer", "every-second", "tick-arg")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["Time"])
    assert first["Time"] < second["Time"]
    # Listed, and in GetFunction.
    listed = list_triggers(client, FunctionName=name)
    assert listed.TotalCount == 1
    assert listed.Triggers[0].TriggerName == "every-second"
    req = models.GetFunctionRequest()
    req.from_json_string(json.dumps({"FunctionName": name}))
    got = client.GetFunction(req)
    assert [t.TriggerName for t in got.Triggers] == ["every-second"]
    delete_trigger(client, FunctionName=name, TriggerName="every-second", Type="timer")
    assert list_triggers(client, FunctionName=name).TotalCount == 0
    assert error_code(lambda: delete_trigger(client, FunctionName=name,
                                             TriggerName="every-second", Type="timer")) \
        == "ResourceNotFound.Trigger"


def test_other_types_are_stored_and_listed_with_paging_and_order(server):
    client = server.client()
    name = unique("trig")
    create(client, name, bootstrap_zip())
    create_trigger(client, FunctionName=name, TriggerName="pics-1250000000.cos.ap-guangzhou.myqcloud.com",
                   Type="cos", TriggerDesc='{"event":"cos:ObjectCreated:*"}')
    create_trigger(client, FunctionName=name, TriggerName="jobs", Type="cmq", Enable="CLOSE")
    create_trigger(client, FunctionName=name, TriggerName="nightly", Type="timer",
                   TriggerDesc="0 0 2 * * * *")
    r = list_triggers(client, FunctionName=name, OrderBy="add_time", Order="ASC")
    assert r.TotalCount == 3
    assert [t.Type for t in r.Triggers] == ["cos", "cmq", "timer"]
    assert [t.Enable for t in r.Triggers] == [1, 0, 1]
    assert r.Triggers[0].Qualifier == "$LATEST"
    r = list_triggers(client, FunctionName=name, OrderBy="add_time", Order="ASC", Offset=1, Limit=1)
    assert (r.TotalCount, [t.Type for t in r.Triggers]) == (3, ["cmq"])
    r = list_triggers(client, FunctionName=name, Filters=[{"Name": "Qualifier", "Values": ["$DEFAULT"]}])
    assert r.TotalCount == 0


def test_refusals_carry_the_api_error_codes(server):
    client = server.client()
    name = unique("refuse")
    create(client, name, bootstrap_zip())

    def code(**params):
        return error_code(lambda: create_trigger(client, **{"FunctionName": name, **params}))

    assert code(TriggerName="t", Type="sqs") == "InvalidParameterValue.Type"
    assert code(TriggerName="t", Type="timer", TriggerDesc="* * *") == "InvalidParameterValue.TriggerDesc"
    assert code(TriggerName="9lives", Type="timer", TriggerDesc="* * * * *") == \
        "InvalidParameterValue.TriggerName"
    assert code(TriggerName="t", Type="timer", TriggerDesc="* * * * *", Enable="ON") == \
        "InvalidParameterValue.Enable"
    assert code(TriggerName="t", Type="timer", TriggerDesc="* * * * *", Qualifier="7") == \
        "ResourceNotFound.Qualifier"
    create_trigger(client, FunctionName=name, TriggerName="t", Type="timer",
                   TriggerDesc="0 0 0 1 1 * 2099")
    assert code(TriggerName="t", Type="timer", TriggerDesc="0 0 0 1 1 * 2099") == "ResourceInUse.Trigger"
    assert error_code(lambda: create_trigger(client, FunctionName=unique("nobody"), TriggerName="t",
                                             Type="timer", TriggerDesc="* * * * *")) \
        == "ResourceNotFound.Function"
    assert error_code(lambda: list_triggers(client, FunctionName=name, OrderBy="name")) == \
        "InvalidParameterValue.OrderBy"


def test_timers_survive_a_restart_and_stop_with_their_function(binary, tmp_path):
    state = tmp_path / "serve"
    srv = Server(binary, state)
    try:
        client = srv.client()
        name = unique("persist")
        create(client, name, bootstrap_zip())
        create_trigger(client, FunctionName=name, TriggerName="beat", Type="timer",
                       TriggerDesc="* * * * * * *", Enable="CLOSE")
    finally:
        srv.stop()
    srv = Server(binary, state)
    try:
        client = srv.client()
        assert list_triggers(client, FunctionName=name).Triggers[0].Enable == 0
        delete_trigger(client, FunctionName=name, TriggerName="beat", Type="timer")
        create_trigger(client, FunctionName=name, TriggerName="beat", Type="timer",
                       TriggerDesc="* * * * * * *")
    finally:
        srv.stop()
    srv = Server(binary, state)
    try:
        client = srv.client()
        # Enabled and stored: it fires after the restart without being created again.
        assert timer_events(client, name, 1)[0]["TriggerName"] == "beat"
        req = models.DeleteFunctionRequest()
        req.from_json_string(json.dumps({"FunctionName": name}))
        client.DeleteFunction(req)
    finally:
        srv.stop()
