#!/usr/bin/env python3
"""Invoke throughput and latency of `scfrt serve` through the TencentCloud Python SDK.

Not a test: it prints numbers. A warm echo function (the C echo of examples/c-echo, else the
seed's bash echo) is invoked by 1 and by 4 concurrent SDK clients; every call goes the whole
SDK path (TC3 signing, HTTP, JSON parsing). For scale, the same run measures a bare SDK round
trip that the server rejects before any function runs (`InvalidAction`), i.e. the SDK+HTTP floor.

    python bench/serve/bench.py [--calls N] [--scfrt PATH] [--bootstrap PATH]

Env: SCFRT_BIN (else target/release/scfrt, built if missing), BENCH_BOOTSTRAP (a built C echo).
"""

import argparse
import base64
import io
import json
import os
import pathlib
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--scfrt", default=os.environ.get("SCFRT_BIN"))
    args = ap.parse_args()
    binary = args.scfrt
    if not binary:
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "scfrt"], cwd=REPO, check=True)
        binary = str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "scfrt")
    kind, files = echo_package()
    with tempfile.TemporaryDirectory() as state:
        proc = subprocess.Popen([binary, "serve", "--port", "0", "--state-dir", state,
                                 "--secret-id", ID, "--secret-key", KEY, "--max-instances", "4"],
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
                except TencentCloudSDKException:
                    pass

            for conc in (1, 4):  # warm up: start `conc` instances
                run(endpoint, conc, conc * 10, invoke)
            rows = []
            for conc in (1, 4):
                rows.append(("Invoke " + kind, conc, run(endpoint, conc, args.calls, invoke)))
                rows.append(("SDK floor (InvalidAction)", conc, run(endpoint, conc, args.calls, rejected)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"{'what':34} {'clients':>7} {'calls':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for what, conc, r in rows:
        print(f"{what:34} {conc:>7} {r['calls']:>6} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f}")
    for conc in (1, 4):
        inv = next(r for w, c, r in rows if c == conc and w.startswith("Invoke"))
        floor = next(r for w, c, r in rows if c == conc and w.startswith("SDK"))
        print(f"{conc} client(s): Invoke p50 is {inv['p50'] / floor['p50']:.1f}x the SDK floor; "
              f"{inv['p50'] - floor['p50']:.2f} ms spent in the server + function")


if __name__ == "__main__":
    main()
