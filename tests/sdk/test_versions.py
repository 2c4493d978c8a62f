"""Versions, aliases and Qualifier in `scfrt serve`, driven by tencentcloud-sdk-python.

Each function answers its `SCF_FUNCTIONVERSION` and a mark of its code, so a test sees which
version ran and with what code. docs/scfrt.md and docs/platform.md section 4 describe the rules.
"""

import json

import pytest
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common import credential
from tencentcloud.scf.v20180416 import models, scf_client

from conftest import SECRET_ID, SECRET_KEY, Server, b64
from test_serve import bootstrap_zip, call, create, error_code, unique


def code(mark):
    """A function answering {"extra": "<its version>:<mark>", "pid": ...}."""
    return bootstrap_zip(f'EXTRA="$SCF_FUNCTIONVERSION:{mark}"')


def ran(client, name, action="Invoke", **params):
    """(version:mark, pid) of one synchronous invocation."""
    if action == "Invoke":
        r = call(client, "Invoke", {"FunctionName": name, "ClientContext": "{}", **params}).Result
    else:
        r = call(client, "InvokeFunction", {"FunctionName": name, "Event": "{}", **params}).Result
    assert r.InvokeResult == 0, r.ErrMsg
    out = json.loads(r.RetMsg)
    return out["extra"], out["pid"]


def raw(client, action, params):
    """The raw `Response` JSON (the SDK's models would hide a missing field)."""
    return json.loads(client.call(action, params))["Response"]


def declared(model):
    return [k.lstrip("_") for k in model().__dict__]


def publish(client, name, description=""):
    return call(client, "PublishVersion", {"FunctionName": name, "Description": description})


def versions(client, name, **params):
    return call(client, "ListVersionByFunction", {"FunctionName": name, **params})


def test_publish_freezes_code_and_configuration(client):
    name = unique("ver")
    create(client, name, code("A"), MemorySize=128, Description="first config")
    p = publish(client, name, "release one")
    assert (p.FunctionVersion, p.MemorySize, p.Description, p.Namespace) == ("1", 128, "release one", "default")
    assert (p.Handler, p.Timeout, p.Runtime) == ("index.main_handler", 3, "CustomRuntime")
    assert p.CodeSize > 0
    call(client, "UpdateFunctionCode", {"FunctionName": name, "ZipFile": b64(code("B"))})
    call(client, "UpdateFunctionConfiguration", {"FunctionName": name, "MemorySize": 256})
    # The raw answer has every field the SDK's model declares.
    p2_raw = raw(client, "PublishVersion", {"FunctionName": name})
    assert [k for k in declared(models.PublishVersionResponse) if k not in p2_raw] == []
    assert p2_raw["FunctionVersion"] == "2" and p2_raw["MemorySize"] == 256

    # A later code update changes neither published version.
    call(client, "UpdateFunctionCode", {"FunctionName": name, "ZipFile": b64(code("C"))})
    one, pid_one = ran(client, name, Qualifier="1")
    two, pid_two = ran(client, name, Qualifier="2")
    latest, pid_latest = ran(client, name)
    assert (one, two, latest) == ("1:A", "2:B", "$LATEST:C")
    # Each version on instances of its own.
    assert len({pid_one, pid_two, pid_latest}) == 3
    assert ran(client, name, Qualifier="1") == ("1:A", pid_one)
    assert ran(client, name, Qualifier="$LATEST")[0] == "$LATEST:C"

    # GetFunction by qualifier shows the version's frozen configuration.
    g1 = call(client, "GetFunction", {"FunctionName": name, "Qualifier": "1"})
    assert (g1.FunctionVersion, g1.Qualifier, g1.MemorySize, g1.Description) == ("1", "1", 128, "first config")
    g = call(client, "GetFunction", {"FunctionName": name})
    assert (g.FunctionVersion, g.MemorySize) == ("$LATEST", 256)
    assert error_code(lambda: call(client, "GetFunction", {"FunctionName": name, "Qualifier": "9"})) == \
        "ResourceNotFound.Version"


def test_list_versions(client):
    name = unique("list")
    create(client, name, code("A"), Description="latest desc")
    for d in ("one", "two", "three"):
        publish(client, name, d)
    listed = raw(client, "ListVersionByFunction", {"FunctionName": name})
    assert [k for k in declared(models.ListVersionByFunctionResponse) if k not in listed] == []
    assert listed["FunctionVersion"] == ["$LATEST", "1", "2", "3"] and listed["TotalCount"] == 4
    assert [v["Description"] for v in listed["Versions"]] == ["latest desc", "one", "two", "three"]
    for v in listed["Versions"]:
        assert [k for k in declared(models.FunctionVersion) if k not in v] == []
        assert v["Status"] == "Active" and v["AddTime"]
    assert versions(client, name, Order="DESC").FunctionVersion == ["$LATEST", "3", "2", "1"]
    page = versions(client, name, Offset=1, Limit=2)
    assert (page.FunctionVersion, page.TotalCount) == (["1", "2"], 4)
    assert error_code(lambda: versions(client, name, Order="UP")) == "InvalidParameterValue.Order"
    assert error_code(lambda: versions(client, name, OrderBy="Name")) == "InvalidParameterValue.OrderBy"
    assert error_code(lambda: versions(client, unique("none"))) == "ResourceNotFound.Function"
    assert error_code(lambda: publish(client, unique("none"))) == "ResourceNotFound.Function"


def test_delete_a_version_and_numbers_are_not_reused(client):
    name = unique("delv")
    create(client, name, code("A"))
    publish(client, name)
    publish(client, name)
    call(client, "DeleteFunction", {"FunctionName": name, "Qualifier": "2"})
    assert versions(client, name).FunctionVersion == ["$LATEST", "1"]
    assert error_code(lambda: ran(client, name, Qualifier="2")) == "ResourceNotFound.Version"
    assert publish(client, name).FunctionVersion == "3"
    # Unknown versions, and an alias, are not versions to delete.
    assert error_code(lambda: call(client, "DeleteFunction", {"FunctionName": name, "Qualifier": "2"})) == \
        "ResourceNotFound.Qualifier"
    assert error_code(lambda: call(client, "DeleteFunction", {"FunctionName": name, "Qualifier": "$DEFAULT"})) == \
        "ResourceNotFound.Qualifier"
    # A version an alias routes to stays until the alias moves.
    call(client, "CreateAlias", {"FunctionName": name, "Name": "live", "FunctionVersion": "$LATEST",
                                 "RoutingConfig": {"AdditionalVersionWeights": [{"Version": "1", "Weight": 0.5}]}})
    assert error_code(lambda: call(client, "DeleteFunction", {"FunctionName": name, "Qualifier": "1"})) == \
        "UnsupportedOperation.AliasBind"
    call(client, "UpdateAlias", {"FunctionName": name, "Name": "live", "FunctionVersion": "3"})
    call(client, "DeleteFunction", {"FunctionName": name, "Qualifier": "1"})
    assert ran(client, name, Qualifier="live")[0] == "3:A"
    # Without a qualifier: the whole function, versions and aliases with it.
    call(client, "DeleteFunction", {"FunctionName": name})
    assert error_code(lambda: ran(client, name, Qualifier="3")) == "ResourceNotFound.Function"
    create(client, name, code("new"))
    assert versions(client, name).FunctionVersion == ["$LATEST"]
    assert [a.Name for a in call(client, "ListAliases", {"FunctionName": name}).Aliases] == ["$DEFAULT"]


def test_alias_crud(client):
    name = unique("alias")
    create(client, name, code("A"))
    publish(client, name)
    publish(client, name)
    call(client, "CreateAlias", {"FunctionName": name, "Name": "prod", "FunctionVersion": "1",
                                 "Description": "production"})
    got = raw(client, "GetAlias", {"FunctionName": name, "Name": "prod"})
    assert [k for k in declared(models.GetAliasResponse) if k not in got] == []
    assert (got["Name"], got["FunctionVersion"], got["Description"]) == ("prod", "1", "production")
    assert got["RoutingConfig"] == {"AdditionalVersionWeights": [], "AddtionVersionMatchs": []}
    assert got["AddTime"] and got["ModTime"]

    listed = raw(client, "ListAliases", {"FunctionName": name})
    assert [a["Name"] for a in listed["Aliases"]] == ["$DEFAULT", "prod"] and listed["TotalCount"] == 2
    for a in listed["Aliases"]:
        assert [k for k in declared(models.Alias) if k not in a] == []
    assert listed["Aliases"][0]["FunctionVersion"] == "$LATEST"
    by_version = call(client, "ListAliases", {"FunctionName": name, "FunctionVersion": "1"})
    assert [a.Name for a in by_version.Aliases] == ["prod"]

    call(client, "UpdateAlias", {"FunctionName": name, "Name": "prod", "FunctionVersion": "2",
                                 "RoutingConfig": {"AdditionalVersionWeights": [{"Version": "1", "Weight": 0.25}]}})
    got = call(client, "GetAlias", {"FunctionName": name, "Name": "prod"})
    assert got.FunctionVersion == "2" and got.Description == "production"
    assert [(w.Version, w.Weight) for w in got.RoutingConfig.AdditionalVersionWeights] == [("1", 0.25)]
    assert [a.Name for a in call(client, "ListAliases", {"FunctionName": name, "FunctionVersion": "1"}).Aliases] == ["prod"]
    # GetFunction through an alias shows its main version.
    assert call(client, "GetFunction", {"FunctionName": name, "Qualifier": "prod"}).FunctionVersion == "2"

    call(client, "DeleteAlias", {"FunctionName": name, "Name": "prod"})
    assert error_code(lambda: call(client, "GetAlias", {"FunctionName": name, "Name": "prod"})) == \
        "ResourceNotFound.Alias"
    assert error_code(lambda: call(client, "DeleteAlias", {"FunctionName": name, "Name": "prod"})) == \
        "ResourceNotFound.Alias"
    assert error_code(lambda: call(client, "DeleteAlias", {"FunctionName": name, "Name": "$DEFAULT"})) == \
        "InvalidParameterValue.Alias"


def test_alias_refusals(client):
    name = unique("refuse")
    create(client, name, code("A"))
    publish(client, name)

    def alias(**params):
        return call(client, "CreateAlias", {"FunctionName": name, "Name": "a1", "FunctionVersion": "1", **params})

    def weights(*pairs):
        return {"AdditionalVersionWeights": [{"Version": v, "Weight": w} for v, w in pairs]}

    assert error_code(lambda: alias(Name="9lives")) == "InvalidParameterValue.Name"
    assert error_code(lambda: alias(Name="a" * 65)) == "InvalidParameterValue.Name"
    assert error_code(lambda: alias(Name="$DEFAULT")) == "ResourceInUse.Alias"
    assert error_code(lambda: alias(FunctionVersion="7")) == "ResourceNotFound.FunctionVersion"
    assert error_code(lambda: alias(RoutingConfig=weights(("7", 0.5)))) == "ResourceNotFound.FunctionVersion"
    assert error_code(lambda: alias(RoutingConfig=weights(("$LATEST", 1.5)))) == \
        "InvalidParameterValue.AdditionalVersionWeights"
    assert error_code(lambda: alias(RoutingConfig=weights(("$LATEST", -0.1)))) == \
        "InvalidParameterValue.AdditionalVersionWeights"
    assert error_code(lambda: alias(RoutingConfig=weights(("1", 0.5)))) == \
        "InvalidParameterValue.AdditionalVersionWeights"
    assert error_code(lambda: alias(RoutingConfig=weights(("$LATEST", 0.2), ("$LATEST", 0.3)))) == \
        "InvalidParameterValue.AdditionalVersionWeights"
    matches = {"AddtionVersionMatchs": [{"Version": "$LATEST", "Key": "invoke.headers.User",
                                          "Method": "exact", "Expression": "u"}]}
    assert error_code(lambda: alias(RoutingConfig=matches)) == "InvalidParameterValue.RoutingConfig"
    assert error_code(lambda: call(client, "CreateAlias", {"FunctionName": name, "Name": "a1"})) == \
        "MissingParameter"
    alias()
    assert error_code(lambda: alias()) == "ResourceInUse.Alias"
    assert error_code(lambda: call(client, "UpdateAlias", {"FunctionName": name, "Name": "nope",
                                                           "FunctionVersion": "1"})) == "ResourceNotFound.Alias"
    assert error_code(lambda: call(client, "GetAlias", {"FunctionName": unique("none"), "Name": "a1"})) == \
        "ResourceNotFound.Function"
    # Nothing refused was created.
    assert [a.Name for a in call(client, "ListAliases", {"FunctionName": name}).Aliases] == ["$DEFAULT", "a1"]
    # Unknown qualifiers: each action's documented code.
    assert error_code(lambda: ran(client, name, Qualifier="nosuch")) == "ResourceNotFound.Version"
    assert error_code(lambda: ran(client, name, "InvokeFunction", Qualifier="nosuch")) == \
        "ResourceNotFound.Qualifier"
    assert error_code(lambda: ran(client, name, Qualifier="01")) == "ResourceNotFound.Version"


def test_alias_routing_by_weight(client):
    name = unique("route")
    create(client, name, code("A"))
    publish(client, name)
    call(client, "UpdateFunctionCode", {"FunctionName": name, "ZipFile": b64(code("B"))})
    publish(client, name)

    def route(weight):
        call(client, "UpdateAlias" if route.made else "CreateAlias",
             {"FunctionName": name, "Name": "canary", "FunctionVersion": "1",
              "RoutingConfig": {"AdditionalVersionWeights": [{"Version": "2", "Weight": weight}]}})
        route.made = True
    route.made = False

    route(0)
    assert {ran(client, name, Qualifier="canary")[0] for _ in range(20)} == {"1:A"}
    route(1)
    assert {ran(client, name, Qualifier="canary")[0] for _ in range(20)} == {"2:B"}
    # The split is counted, not drawn: after n invocations exactly floor(n * weight) went to the
    # additional version, and never more than one ahead of that share on the way.
    route(0.25)
    seen = []
    for n in range(1, 201):
        seen.append(ran(client, name, Qualifier="canary")[0])
        assert seen.count("2:B") == n // 4, seen
    assert (seen.count("1:A"), seen.count("2:B")) == (150, 50)
    # Through InvokeFunction too.
    assert ran(client, name, "InvokeFunction", Qualifier="canary")[0] in ("1:A", "2:B")


def test_default_alias_and_invoke_function(client):
    name = unique("dflt")
    create(client, name, code("A"))
    publish(client, name)
    call(client, "UpdateFunctionCode", {"FunctionName": name, "ZipFile": b64(code("B"))})
    # InvokeFunction runs $DEFAULT by default, Invoke $LATEST; $DEFAULT starts on $LATEST.
    assert ran(client, name, "InvokeFunction")[0] == "$LATEST:B"
    call(client, "UpdateAlias", {"FunctionName": name, "Name": "$DEFAULT", "FunctionVersion": "1"})
    assert ran(client, name, "InvokeFunction")[0] == "1:A"
    assert ran(client, name, "InvokeFunction", Qualifier="$DEFAULT")[0] == "1:A"
    assert ran(client, name)[0] == "$LATEST:B"
    assert ran(client, name, Qualifier="$DEFAULT")[0] == "1:A"
    got = call(client, "GetAlias", {"FunctionName": name, "Name": "$DEFAULT"})
    assert got.FunctionVersion == "1"


def test_versions_and_aliases_survive_a_restart(binary, tmp_path):
    state = tmp_path / "state"
    first = Server(binary, state)
    try:
        client = first.client()
        create(client, "kept", code("A"))
        publish(client, "kept", "v1")
        call(client, "UpdateFunctionCode", {"FunctionName": "kept", "ZipFile": b64(code("B"))})
        publish(client, "kept", "v2")
        publish(client, "kept", "v3")
        call(client, "DeleteFunction", {"FunctionName": "kept", "Qualifier": "3"})
        call(client, "CreateAlias", {"FunctionName": "kept", "Name": "prod", "FunctionVersion": "1",
                                     "RoutingConfig": {"AdditionalVersionWeights": [{"Version": "2", "Weight": 0.5}]}})
        call(client, "UpdateAlias", {"FunctionName": "kept", "Name": "$DEFAULT", "FunctionVersion": "2"})
        call(client, "UpdateFunctionCode", {"FunctionName": "kept", "ZipFile": b64(code("C"))})
    finally:
        first.stop()
    second = Server(binary, state)
    try:
        client = second.client()
        listed = versions(client, "kept")
        assert listed.FunctionVersion == ["$LATEST", "1", "2"]
        assert [v.Description for v in listed.Versions][1:] == ["v1", "v2"]
        assert ran(client, "kept", Qualifier="1")[0] == "1:A"
        assert ran(client, "kept", Qualifier="2")[0] == "2:B"
        assert ran(client, "kept")[0] == "$LATEST:C"
        assert ran(client, "kept", "InvokeFunction")[0] == "2:B"
        prod = call(client, "GetAlias", {"FunctionName": "kept", "Name": "prod"})
        assert prod.FunctionVersion == "1"
        assert [(w.Version, w.Weight) for w in prod.RoutingConfig.AdditionalVersionWeights] == [("2", 0.5)]
        assert [ran(client, "kept", Qualifier="prod")[0] for _ in range(4)] == ["1:A", "2:B", "1:A", "2:B"]
        # Numbers go on from the highest ever published, the deleted 3 included.
        assert publish(client, "kept").FunctionVersion == "4"
        # Only the code directories still named are kept: $LATEST's and those of versions 1, 2, 4.
        fn_dir = state / "functions" / "default" / "kept"
        assert len([p for p in fn_dir.iterdir() if p.name.startswith("code-")]) == 3
    finally:
        second.stop()


def region_client(server, region, sign_method=None):
    profile = ClientProfile()
    profile.httpProfile = HttpProfile(protocol="http", endpoint=server.endpoint)
    if sign_method:
        profile.signMethod = sign_method
    return scf_client.ScfClient(credential.Credential(SECRET_ID, SECRET_KEY), region, profile)


@pytest.mark.parametrize("sign_method", [None, "HmacSHA256"])
def test_regions(server, sign_method):
    for region in ("ap-guangzhou", "na-toronto", "ap-shanghai-fsi"):
        assert region_client(server, region, sign_method).ListFunctions(models.ListFunctionsRequest()).TotalCount >= 0
    assert error_code(lambda: region_client(server, "mars-olympus", sign_method)
                      .ListFunctions(models.ListFunctionsRequest())) == "UnsupportedRegion"
