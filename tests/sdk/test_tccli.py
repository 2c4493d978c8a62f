"""`scfrt serve --tls` driven by tccli, Tencent's official CLI (in .venv-tccli, made by ./test.sh).

tccli always speaks https and hands `requests` certifi's CA bundle explicitly, so
REQUESTS_CA_BUNDLE is ignored: a user makes it trust serve's local CA by adding STATE_DIR/tls/ca.pem
to the certifi bundle of the Python that runs tccli (docs/scfrt.md). The fixture does exactly
that and puts the bundle back afterwards.
"""

import json
import os
import pathlib
import subprocess

import pytest

from conftest import REPO, SECRET_ID, SECRET_KEY, Server, b64
from test_serve import SEED_EVENT, SEED_RETMSG, unique

TCCLI_VENV = REPO / ".venv-tccli"


def tccli_python():
    python = TCCLI_VENV / "bin" / "python"
    if not (TCCLI_VENV / "bin" / "tccli").exists():
        pytest.fail("tccli is missing: ./test.sh installs it into .venv-tccli "
                    "(pip install -r tests/sdk/requirements-tccli.txt)")
    return python


@pytest.fixture(scope="module")
def tls_server(binary, tmp_path_factory):
    srv = Server(binary, tmp_path_factory.mktemp("tls") / "serve", ["--tls"])
    yield srv
    srv.stop()


@pytest.fixture
def trusting_tccli(tls_server):
    """tccli's certifi bundle with serve's CA appended (the documented step), restored after."""
    python = tccli_python()
    bundle = pathlib.Path(subprocess.run([str(python), "-m", "certifi"], capture_output=True,
                                         text=True, check=True).stdout.strip())
    original = bundle.read_bytes()
    ca = pathlib.Path(tls_server.state_dir) / "tls" / "ca.pem"
    bundle.write_bytes(original + b"\n" + ca.read_bytes())
    try:
        yield tls_server
    finally:
        bundle.write_bytes(original)


def tccli(server, action, home, **params):
    args = [str(TCCLI_VENV / "bin" / "tccli"), "scf", action, "--region", "na-toronto",
            "--endpoint", server.endpoint]
    for k, v in params.items():
        args += [f"--{k}", v if isinstance(v, str) else json.dumps(v)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120,
                         env={"PATH": os.environ["PATH"], "HOME": str(home),
                              "TENCENTCLOUD_SECRET_ID": SECRET_ID,
                              "TENCENTCLOUD_SECRET_KEY": SECRET_KEY})
    return run


def ok(run):
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_tccli_round_over_tls(trusting_tccli, bash_echo_zip, tmp_path):
    server = trusting_tccli
    assert server.endpoint.startswith("127.0.0.1:")
    name = unique("tccli")
    ok(tccli(server, "CreateFunction", tmp_path, FunctionName=name, Runtime="CustomRuntime",
             Code={"ZipFile": b64(bash_echo_zip)}, Timeout="3", InitTimeout="3"))
    r = ok(tccli(server, "Invoke", tmp_path, FunctionName=name, ClientContext=SEED_EVENT))
    assert r["Result"]["RetMsg"] == SEED_RETMSG and r["Result"]["Log"] == ""
    r = ok(tccli(server, "Invoke", tmp_path, FunctionName=name, ClientContext=SEED_EVENT,
                 LogType="Tail"))
    assert SEED_EVENT in r["Result"]["Log"]
    r = ok(tccli(server, "Invoke", tmp_path, FunctionName=name, ClientContext=SEED_EVENT,
                 InvocationType="Event"))
    assert r["Result"]["FunctionRequestId"]
    r = ok(tccli(server, "InvokeFunction", tmp_path, FunctionName=name, Event=SEED_EVENT,
                 Qualifier="$DEFAULT"))
    assert r["Result"]["RetMsg"] == SEED_RETMSG
    direct = r["Result"]["FunctionRequestId"]
    # The two newest successful invocations: the last one, and the Event one if it started
    # after it, else the one before (the Event one may still be running).
    logs = ok(tccli(server, "GetFunctionLogs", tmp_path, FunctionName=name,
                    Filter={"RetCode": "is0"}, Limit="2"))
    assert logs["TotalCount"] >= 3 and len(logs["Data"]) == 2
    assert logs["Data"][0]["StartTime"] >= logs["Data"][1]["StartTime"]
    newest = next(d for d in logs["Data"] if d["RequestId"] == direct)
    assert newest["RetCode"] == 0
    assert newest["RetMsg"] == SEED_RETMSG and SEED_EVENT in newest["Log"]
    assert newest["Log"].startswith(f"START RequestId: {direct}\n")
    one = ok(tccli(server, "GetFunctionLogs", tmp_path, FunctionName=name,
                   FunctionRequestId=direct))
    assert [d["RequestId"] for d in one["Data"]] == [direct]
    got = ok(tccli(server, "GetFunction", tmp_path, FunctionName=name))
    assert got["FunctionName"] == name and got["Runtime"] == "CustomRuntime"
    # Versions and an alias with weighted routing, invoked by qualifier.
    v = ok(tccli(server, "PublishVersion", tmp_path, FunctionName=name, Description="tccli v1"))
    assert (v["FunctionVersion"], v["Description"]) == ("1", "tccli v1")
    ok(tccli(server, "CreateAlias", tmp_path, FunctionName=name, Name="live", FunctionVersion="1",
             RoutingConfig={"AdditionalVersionWeights": [{"Version": "$LATEST", "Weight": 0.5}]}))
    alias = ok(tccli(server, "GetAlias", tmp_path, FunctionName=name, Name="live"))
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == [{"Version": "$LATEST", "Weight": 0.5}]
    for qualifier in ("1", "live"):
        r = ok(tccli(server, "Invoke", tmp_path, FunctionName=name, ClientContext=SEED_EVENT,
                     Qualifier=qualifier))
        assert r["Result"]["RetMsg"] == SEED_RETMSG, qualifier
    listed = ok(tccli(server, "ListVersionByFunction", tmp_path, FunctionName=name))
    assert listed["FunctionVersion"] == ["$LATEST", "1"] and listed["TotalCount"] == 2
    bound = tccli(server, "DeleteFunction", tmp_path, FunctionName=name, Qualifier="1")
    assert bound.returncode != 0 and "UnsupportedOperation.AliasBind" in bound.stdout + bound.stderr
    ok(tccli(server, "DeleteAlias", tmp_path, FunctionName=name, Name="live"))
    ok(tccli(server, "DeleteFunction", tmp_path, FunctionName=name, Qualifier="1"))
    listed = ok(tccli(server, "ListVersionByFunction", tmp_path, FunctionName=name))
    assert listed["FunctionVersion"] == ["$LATEST"]
    listed = ok(tccli(server, "ListFunctions", tmp_path, Limit="100"))
    assert name in [f["FunctionName"] for f in listed["Functions"]]
    ok(tccli(server, "UpdateFunctionConfiguration", tmp_path, FunctionName=name, MemorySize="256",
             Environment={"Variables": [{"Key": "STAGE", "Value": "tccli"}]}))
    ok(tccli(server, "UpdateFunctionCode", tmp_path, FunctionName=name,
             ZipFile=b64(bash_echo_zip), Handler="index.main_handler"))
    got = ok(tccli(server, "GetFunction", tmp_path, FunctionName=name))
    assert got["MemorySize"] == 256
    assert got["Environment"]["Variables"] == [{"Key": "STAGE", "Value": "tccli"}]
    ok(tccli(server, "DeleteFunction", tmp_path, FunctionName=name))
    gone = tccli(server, "GetFunction", tmp_path, FunctionName=name)
    assert gone.returncode != 0 and "ResourceNotFound.Function" in gone.stdout + gone.stderr


def test_tccli_refuses_serve_until_the_ca_is_trusted(tls_server, tmp_path):
    """Before the CA is added, tccli's certifi bundle does not know it: a certificate error."""
    tccli_python()
    run = tccli(tls_server, "ListFunctions", tmp_path)
    assert run.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in run.stdout + run.stderr
