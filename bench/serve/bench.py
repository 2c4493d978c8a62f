#!/usr/bin/env python3
"""Invoke throughput and latency of `scfrt serve` through the TencentCloud Python SDK.

Not a test: it prints numbers. A warm echo function (the C echo of examples/c-echo, else the
seed's bash echo) is invoked by 1 and by 16 concurrent clients of the Python SDK and of the Node
SDK (tests/sdk/node, installed by ./test.sh; its rows are left out, with a note, when node or
the SDK is missing); every call goes the whole SDK path (TC3 signing, HTTP, JSON parsing). For
scale, the same run measures each SDK's bare round trip that the server rejects before any
function runs (`InvalidAction`), i.e. the SDK+HTTP floor, and prints Invoke's ratio to it.

    taskset -c 0 python bench/serve/bench.py [--calls N] [--scfrt PATH] [--json FILE]

Env: SCFRT_BIN (else target/release/scfrt, built if missing), BENCH_BOOTSTRAP (a built C echo).
"""

import argparse
import base64
import io
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416 import models, scf_client

REPO = pathlib.Path(__file__).resolve().parents[2]
ID, KEY = "AKIDbench", "benchkey"
NODE_MODULES = REPO / "tests" / "sdk" / "node" / "node_modules"
CLIENTS = (1, 16)


def echo_package():
    """(name, {zip entry: (bytes, mode)}) of the fastest echo we can build."""
    boot = os.environ.get("BENCH_BOOTSTRAP")
    if not boot:
        c_dir = REPO / "examples" / "c-echo"
        if subprocess.run(["make", "-C", str(c_dir)], capture_output=True).returncode == 0:
            boot = str(c_dir / "bootstrap")
    if boot and pathlib.Path(boot).is_file():
        return "c-echo", {"bootstrap": (pathlib.Path(boot).read_bytes(), 0o755)}
    print("C echo unavailable; using the bash echo", file=sys.stderr)
    d = REPO / "examples" / "bash-echo"
    return "bash-echo", {n: ((d / n).read_bytes(), 0o755) for n in ("bootstrap", "index.sh")}


def make_zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def client(endpoint):
    prof = ClientProfile()
    prof.httpProfile = HttpProfile(protocol="http", endpoint=endpoint, reqTimeout=60)
    return scf_client.ScfClient(credential.Credential(ID, KEY), "ap-guangzhou", prof)


def run(endpoint, concurrency, calls, op):
    """`calls` operations split over `concurrency` threads, each with its own client."""
    lat = []
    lock = threading.Lock()

    def worker(n):
        c = client(endpoint)
        mine = []
        for _ in range(n):
            t = time.perf_counter()
            op(c)
            mine.append(time.perf_counter() - t)
        with lock:
            lat.extend(mine)

    per = calls // concurrency
    threads = [threading.Thread(target=worker, args=(per,)) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    return {"calls": len(lat), "rps": len(lat) / wall, "p50": q(0.50), "p99": q(0.99),
            "mean": statistics.fmean(lat) * 1000}


def node_run(endpoint, concurrency, calls, mode):
    """The same measurement through the Node SDK (one process, `concurrency` async loops)."""
    out = subprocess.run(
        ["node", str(pathlib.Path(__file__).with_name("node_bench.js")), endpoint, "bench-echo",
         str(concurrency), str(calls), mode],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES), "TENCENTCLOUD_SECRET_ID": ID,
             "TENCENTCLOUD_SECRET_KEY": KEY},
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--scfrt", default=os.environ.get("SCFRT_BIN"))
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    binary = args.scfrt
    if not binary:
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "scfrt"], cwd=REPO, check=True)
        binary = str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "scfrt")
    with_node = shutil.which("node") is not None and (NODE_MODULES / "tencentcloud-sdk-nodejs-scf").is_dir()
    if not with_node:
        print("node or tests/sdk/node/node_modules missing (./test.sh installs them): "
              "Python SDK rows only", file=sys.stderr)
    kind, files = echo_package()
    with tempfile.TemporaryDirectory() as state:
        proc = subprocess.Popen([binary, "serve", "--port", "0", "--state-dir", state,
                                 "--secret-id", ID, "--secret-key", KEY,
                                 "--max-instances", str(max(CLIENTS))],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            endpoint = proc.stdout.readline().strip().removeprefix("listening on http://")
            c = client(endpoint)
            req = models.CreateFunctionRequest()
            req.from_json_string(json.dumps({
                "FunctionName": "bench-echo", "Runtime": "CustomRuntime", "Timeout": 10,
                "Code": {"ZipFile": base64.b64encode(make_zip(files)).decode()}}))
            c.CreateFunction(req)
            event = json.dumps({"key1": "test value 1", "key2": "test value 2"})

            def invoke(cl):
                r = models.InvokeRequest()
                r.from_json_string(json.dumps({"FunctionName": "bench-echo", "ClientContext": event,
                                               "LogType": "None"}))
                res = cl.Invoke(r).Result
                if res.InvokeResult != 0:
                    raise RuntimeError(res.ErrMsg)

            def rejected(cl):
                try:
                    cl.call_json("NoSuchAction", {})
                except TencentCloudSDKException as e:
                    if e.code != "InvalidAction":
                        raise
                else:
                    raise RuntimeError("NoSuchAction was answered")

            for conc in CLIENTS:  # warm up: start `conc` instances
                run(endpoint, conc, conc * 10, invoke)
            rows = []
            for conc in CLIENTS:
                rows.append(("Python SDK", "Invoke " + kind, conc, run(endpoint, conc, args.calls, invoke)))
                rows.append(("Python SDK", "floor (InvalidAction)", conc,
                             run(endpoint, conc, args.calls, rejected)))
                if with_node:
                    rows.append(("Node SDK", "Invoke " + kind, conc, node_run(endpoint, conc, args.calls, "invoke")))
                    rows.append(("Node SDK", "floor (InvalidAction)", conc,
                                 node_run(endpoint, conc, args.calls, "floor")))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"| {'client':10} | {'what':22} | clients | calls | req/s | p50 ms | p99 ms | p50 / floor |")
    print("|------------|------------------------|--------:|------:|------:|-------:|-------:|------------:|")
    out = []
    for sdk, what, conc, r in rows:
        floor = next(f for s2, w, c2, f in rows if s2 == sdk and c2 == conc and w.startswith("floor"))
        ratio = f"{r['p50'] / floor['p50']:.2f}x" if what.startswith("Invoke") else ""
        print(f"| {sdk:10} | {what:22} | {conc:>7} | {r['calls']:>5} | {r['rps']:>5.0f} | "
              f"{r['p50']:>6.2f} | {r['p99']:>6.2f} | {ratio:>11} |")
        out.append({"client": sdk, "what": what, "clients": conc, **r})
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
