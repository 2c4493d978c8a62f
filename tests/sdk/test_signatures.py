"""Every way tencentcloud-sdk-python can sign and send a request, against `scfrt serve`.

TC3-HMAC-SHA256 over POST (JSON, the default) is what test_serve.py uses. Here: TC3 over GET
(parameters in the query string), and signature method v1 (HmacSHA1, HmacSHA256) over GET and
POST form, each through a create / invoke / get / list / update / delete round; then the refusals,
from requests signed by hand with the SDK's own signing function.
"""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.scf.v20180416 import models, scf_client

from conftest import SECRET_ID, SECRET_KEY, b64
from test_serve import SEED_EVENT, SEED_RETMSG, error_code, unique

WAYS = [
    ("TC3-HMAC-SHA256", "GET"),
    ("HmacSHA1", "GET"),
    ("HmacSHA1", "POST"),
    ("HmacSHA256", "GET"),
    ("HmacSHA256", "POST"),
]


def sdk_client(server, sign_method, req_method):
    cred = credential.Credential(SECRET_ID, SECRET_KEY)
    http = HttpProfile(protocol="http", endpoint=server.endpoint, reqMethod=req_method, reqTimeout=60)
    profile = ClientProfile(signMethod=sign_method, httpProfile=http)
    return scf_client.ScfClient(cred, "na-toronto", profile)


def call(client, action, params):
    req = getattr(models, action + "Request")()
    req.from_json_string(json.dumps(params))
    return getattr(client, action)(req)


@pytest.mark.parametrize("sign_method,req_method", WAYS)
def test_a_full_round_with_each_signature_and_method(server, bash_echo_zip, sign_method, req_method):
    client = sdk_client(server, sign_method, req_method)
    name = unique(f"sig-{sign_method[:6]}-{req_method}")
    call(client, "CreateFunction", {
        "FunctionName": name, "Code": {"ZipFile": b64(bash_echo_zip)}, "Runtime": "CustomRuntime",
        "Handler": "index.main_handler", "Timeout": 3, "InitTimeout": 3, "MemorySize": 128,
        # Nested parameters: flattened to Environment.Variables.N.Key by GET and form requests.
        "Environment": {"Variables": [{"Key": "STAGE", "Value": "dev"}, {"Key": "B", "Value": "x y&z"}]},
    })
    r = call(client, "Invoke", {"FunctionName": name, "ClientContext": SEED_EVENT, "LogType": "Tail"})
    assert r.Result.RetMsg == SEED_RETMSG and r.Result.InvokeResult == 0
    assert SEED_EVENT in r.Result.Log
    got = call(client, "GetFunction", {"FunctionName": name})
    assert got.FunctionName == name and got.MemorySize == 128 and got.Timeout == 3
    assert {(v.Key, v.Value) for v in got.Environment.Variables} == {("STAGE", "dev"), ("B", "x y&z")}
    call(client, "UpdateFunctionConfiguration", {"FunctionName": name, "MemorySize": 256,
                                                 "Description": "signed " + sign_method})
    got = call(client, "GetFunction", {"FunctionName": name})
    assert got.MemorySize == 256 and got.Description == "signed " + sign_method
    listed = call(client, "ListFunctions", {"Limit": 100})
    assert name in [f.FunctionName for f in listed.Functions]
    call(client, "DeleteFunction", {"FunctionName": name})
    assert error_code(lambda: call(client, "GetFunction", {"FunctionName": name})) == \
        "ResourceNotFound.Function"


# ---- refusals: requests signed by hand, with the SDK's own Sign.sign --------------------------------

def v1_params(server, action="ListFunctions", method="GET", sign_method="HmacSHA256",
              key=SECRET_KEY, secret_id=SECRET_ID, timestamp=None, drop=(), **extra):
    params = {"Action": action, "Version": "2018-04-16", "Region": "na-toronto",
              "Timestamp": int(time.time()) if timestamp is None else timestamp,
              "Nonce": 12345, "SecretId": secret_id, "SignatureMethod": sign_method, **extra}
    for k in drop:
        params.pop(k, None)
    # The string the SDK signs: METHOD host path ? sorted k=v (raw values).
    to_sign = "%s%s/?%s" % (method, server.endpoint,
                            "&".join("%s=%s" % (k, params[k]) for k in sorted(params)))
    sign_with = sign_method if sign_method in ("HmacSHA1", "HmacSHA256") else "HmacSHA256"
    params["Signature"] = Sign.sign(key, to_sign, sign_with)
    return params


def send(server, method, query="", body=None, headers=None):
    url = f"http://{server.endpoint}/" + (f"?{query}" if query else "")
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())["Response"]
    except urllib.error.HTTPError as e:
        return json.loads(e.read())["Response"]


def get(server, params):
    return send(server, "GET", urllib.parse.urlencode(params))


def post_form(server, params):
    return send(server, "POST", body=urllib.parse.urlencode(params).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})


def code(response):
    return response.get("Error", {}).get("Code")


def test_hand_signed_v1_requests_are_accepted(server):
    assert "Functions" in get(server, v1_params(server))
    assert "Functions" in post_form(server, v1_params(server, method="POST", sign_method="HmacSHA1"))
    # No SignatureMethod: HmacSHA1, the documented default.
    params = v1_params(server, sign_method="HmacSHA1", drop=("SignatureMethod",))
    assert "Functions" in get(server, params)


@pytest.mark.parametrize("case,want", [
    ("wrong key", "AuthFailure.SignatureFailure"),
    ("tampered", "AuthFailure.SignatureFailure"),
    ("signed as POST, sent as GET", "AuthFailure.SignatureFailure"),
    ("expired", "AuthFailure.SignatureExpire"),
    ("unknown SecretId", "AuthFailure.SecretIdNotFound"),
    ("unknown SignatureMethod", "AuthFailure.SignatureFailure"),
    ("no Nonce", "MissingParameter"),
    ("no Signature", "MissingParameter"),
    ("unsigned", "AuthFailure"),
    ("unknown action", "InvalidAction"),
    ("wrong version", "NoSuchVersion"),
])
def test_v1_refusals(server, case, want):
    p = {
        "wrong key": lambda: v1_params(server, key="not-the-key"),
        "tampered": lambda: {**v1_params(server), "Limit": "5"},
        "signed as POST, sent as GET": lambda: v1_params(server, method="POST"),
        "expired": lambda: v1_params(server, timestamp=int(time.time()) - 3600),
        "unknown SecretId": lambda: v1_params(server, secret_id="AKIDnobody"),
        "unknown SignatureMethod": lambda: v1_params(server, sign_method="HmacMD5"),
        "no Nonce": lambda: v1_params(server, drop=("Nonce",)),
        "no Signature": lambda: {k: v for k, v in v1_params(server).items() if k != "Signature"},
        "unsigned": lambda: {"Action": "ListFunctions", "Version": "2018-04-16"},
        "unknown action": lambda: v1_params(server, action="ListEverything"),
        "wrong version": lambda: v1_params(server, Version="2017-01-01"),
    }[case]()
    assert code(get(server, p)) == want, case


def test_v1_size_limits_and_form_rules(server):
    # GET: the platform's 32 KB; a v1 POST body: its 1 MB. Refused before anything is run.
    big = v1_params(server, Padding="x" * (33 * 1024))
    assert code(get(server, big)) == "InvalidParameter.RequestTooLarge"
    big = v1_params(server, method="POST", Padding="x" * (1024 * 1024 + 1))
    assert code(post_form(server, big)) == "InvalidParameter.RequestTooLarge"
    # A key given twice makes the request ambiguous.
    query = urllib.parse.urlencode(v1_params(server)) + "&Limit=1&Limit=2"
    assert code(send(server, "GET", query)) == "InvalidParameter"
    # A GET has no body.
    assert code(send(server, "GET", urllib.parse.urlencode(v1_params(server)), body=b"x")) == \
        "InvalidParameter"
    # An unsigned JSON POST is told what it lacks.
    r = send(server, "POST", body=b"{}", headers={"Content-Type": "application/json"})
    assert code(r) == "AuthFailure" and "Authorization" in r["Error"]["Message"]
