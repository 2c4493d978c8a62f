"""`scfrt serve` driven by the Node SDK (tencentcloud-sdk-nodejs-scf), installed by ./test.sh.

The Node SDK signs a local endpoint its own way: the credential scope's service is the endpoint's
first label (`127` of `127.0.0.1:PORT`, `localhost:PORT` of itself) and the host is signed
without the port that `Host` carries. serve accepts those forms because it listens on loopback
(docs: docs/platform.md section 7). Each way the SDK signs and sends a request gets a full round.
"""

import json
import pathlib
import shutil
import subprocess

import pytest

from conftest import SECRET_ID, SECRET_KEY, b64
from test_serve import SEED_EVENT, SEED_RETMSG, unique

NODE_DIR = pathlib.Path(__file__).resolve().parent / "node"

WAYS = [
    ("127.0.0.1", "TC3-HMAC-SHA256", "POST"),
    ("localhost", "TC3-HMAC-SHA256", "POST"),
    ("127.0.0.1", "TC3-HMAC-SHA256", "GET"),
    ("localhost", "HmacSHA256", "POST"),
    ("127.0.0.1", "HmacSHA1", "GET"),
]


def node():
    exe = shutil.which("node")
    if exe is None or not (NODE_DIR / "node_modules" / "tencentcloud-sdk-nodejs-scf").is_dir():
        pytest.fail("node or the Node SDK is missing: ./test.sh installs them (apt nodejs npm, "
                    "then `npm ci` in tests/sdk/node)")
    return exe


@pytest.mark.parametrize("host,sign_method,req_method", WAYS)
def test_node_sdk_round(server, bash_echo_zip, tmp_path, host, sign_method, req_method):
    zip_file = tmp_path / "code.b64"
    zip_file.write_text(b64(bash_echo_zip))
    port = server.endpoint.rsplit(":", 1)[1]
    name = unique(f"node-{sign_method[:6]}-{req_method}")
    run = subprocess.run(
        [node(), str(NODE_DIR / "round.js"), f"{host}:{port}", sign_method, req_method, name,
         str(zip_file), SEED_EVENT],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "TENCENTCLOUD_SECRET_ID": SECRET_ID,
             "TENCENTCLOUD_SECRET_KEY": SECRET_KEY},
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    failed = {k: v["error"] for k, v in out.items() if "error" in v and k != "getDeleted"}
    assert not failed, failed
    assert out["create"]["RequestId"]
    # No LogType: the API's default None; Tail: the function's log.
    assert out["invoke"]["Result"]["RetMsg"] == SEED_RETMSG
    assert out["invoke"]["Result"]["Log"] == ""
    assert SEED_EVENT in out["invokeTail"]["Result"]["Log"]
    assert out["invokeAsync"]["Result"]["FunctionRequestId"]
    assert out["invokeFunction"]["Result"]["RetMsg"] == SEED_RETMSG
    # GetFunctionLogs, the two newest successes: InvokeFunction's, and the Event invocation's if
    # it started after it, else the Tail one's (the Event one may still be running).
    direct = out["invokeFunction"]["Result"]["FunctionRequestId"]
    logs = out["logs"]
    assert logs["TotalCount"] >= 3 and len(logs["Data"]) == 2
    newest = next(d for d in logs["Data"] if d["RequestId"] == direct)
    assert newest["RetCode"] == 0 and newest["RetMsg"] == SEED_RETMSG
    assert SEED_EVENT in newest["Log"]
    assert out["get"]["FunctionName"] == name
    assert out["get"]["Environment"]["Variables"] == [{"Key": "STAGE", "Value": "dev"}]
    assert name in [f["FunctionName"] for f in out["list"]["Functions"]]
    assert out["getAfter"]["MemorySize"] == 256 and out["getAfter"]["Description"] == "node"
    assert out["getDeleted"]["error"]["code"] == "ResourceNotFound.Function"
    # Versions and an alias (its weight travels as a number or, in forms, as text).
    assert out["publish"]["FunctionVersion"] == "1" and out["publish"]["Description"] == "node v1"
    assert out["getAlias"]["FunctionVersion"] == "1"
    assert out["getAlias"]["RoutingConfig"]["AdditionalVersionWeights"] == [{"Version": "$LATEST", "Weight": 0.5}]
    assert out["invokeVersion"]["Result"]["RetMsg"] == SEED_RETMSG
    assert out["invokeAlias"]["Result"]["RetMsg"] == SEED_RETMSG
    assert out["listVersions"]["FunctionVersion"] == ["$LATEST", "1"]
    assert out["listVersionsAfter"]["FunctionVersion"] == ["$LATEST"]


def test_node_sdk_forms_are_refused_off_loopback_rules(server, bash_echo_zip, tmp_path):
    """A wrong key still fails under the Node SDK's forms: only the scope and host are relaxed."""
    zip_file = tmp_path / "code.b64"
    zip_file.write_text(b64(bash_echo_zip))
    port = server.endpoint.rsplit(":", 1)[1]
    run = subprocess.run(
        [node(), str(NODE_DIR / "round.js"), f"127.0.0.1:{port}", "TC3-HMAC-SHA256", "POST",
         unique("node-badkey"), str(zip_file), SEED_EVENT],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "TENCENTCLOUD_SECRET_ID": SECRET_ID,
             "TENCENTCLOUD_SECRET_KEY": "not-the-key"},
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["create"]["error"]["code"] == "AuthFailure.SignatureFailure"
