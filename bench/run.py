#!/usr/bin/env python3
"""Benchmarks of scfruntime against its peers, side by side, in one run.

    python3 bench/run.py [--quick] [--rounds N] [--only NAME,NAME] [--no-write]
                         [--spawns N] [--rss-invocations N]

Builds release binaries, then runs every contestant (an echo function) against the same
fixed-cost runtime API server (bench/c/server.c, SCF or AWS paths), server and client pinned to
CPU 0 with `taskset -c 0` (on a small VM a wake-up across CPUs costs ~100 us and drowns
everything else). Measures, per contestant:

- per-invocation time (server-measured gap between consecutive results: median, p99) at event
  sizes of 64 B, 64 KB, 1 MB and 6 MB, over several rounds that alternate the contestants;
- cold start: from spawning the process to the first result received, median of 40 spawns
  (`--spawns`) that alternate the contestants; the embedded Python bootstrap both as shipped (`site` imported) and with
  `SCFRUNTIME_PYTHON_NO_SITE=1` and on a clean interpreter (an empty site-packages), each also
  as a ratio to `python -m awslambdaric`;
- RSS of the one client process, from /proc/PID/status: VmRSS after 10^4 and after 10^5
  invocations of a 64 B event (`--rss-invocations` sets the second; the first is a tenth) and
  the growth between, its file-backed and anonymous parts (RssFile: mapped pages of the binary,
  libpython, libc..., shared with nothing else on SCF; RssAnon: heap, stacks, Python objects),
  and VmHWM, the peak, which is the "RSS" the targets mean (as for the C contestants);
- for Python, `import` time (`python -X importtime`).

Writes bench/RESULTS.md (tables with ratios to the raw-socket floor) and bench/results.json.
Peers are installed from the registries into the build's target dir (never vendored): the
`tencent_scf` and `lambda_runtime` crates (bench/peers/), `awslambdaric` from PyPI.
A contestant that cannot be built is listed with the reason, never dropped silently.
Benchmarks print numbers; nothing here is a pass/fail test.
"""

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# 6 MB as 6,000,000 bytes: a Python echo re-encodes the JSON with blanks, and an event of exactly
# 6 MiB would come back over the platform's 6 MiB response limit (and be refused, correctly).
SIX_MB = 6_000_000
SIZES = [64, 64 * 1024, 1024 * 1024, SIX_MB]
SIZE_NAMES = {64: "64 B", 64 * 1024: "64 KB", 1024 * 1024: "1 MB", SIX_MB: "6 MB"}
# (warmup, count) per size: enough invocations for a stable median, few enough for CI-free runs.
COUNTS = {64: (1000, 20000), 64 * 1024: (200, 4000), 1024 * 1024: (20, 400), SIX_MB: (5, 60)}
QUICK_COUNTS = {64: (200, 3000), 64 * 1024: (50, 600), 1024 * 1024: (5, 80), SIX_MB: (2, 15)}
RUN_LIMIT_S = 120


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def target_dir():
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return Path(json.loads(out)["target_directory"])


class Contestant:
    """One echo function. `counts` overrides COUNTS per size (slow contestants); `rss` is the
    (mark, total) invocation counts of the RSS run, None for the default, False to skip it."""

    def __init__(self, name, kind, cmd, paths="scf", env=None, cwd=None, sizes=None,
                 counts=None, rss=None, note=""):
        self.name, self.kind, self.cmd, self.paths = name, kind, cmd, paths
        self.env, self.cwd = env or {}, cwd or ROOT
        self.sizes = sizes or SIZES
        self.counts = counts
        self.rss = rss
        self.note = note
        self.unavailable = None  # the reason, when it could not be built


def clean_python_home(out):
    """A PYTHONHOME for the embedded bootstrap: this interpreter's standard library (symlinked,
    lib-dynload included) with an empty site-packages, so `site` runs but finds no `.pth`."""
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = Path(sys.base_prefix) / "lib" / ver
    home = out / "clean-python"
    lib = home / "lib" / ver
    if home.exists():
        shutil.rmtree(home)
    (lib / "site-packages").mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    return home


def build(out, quick):
    """Build everything; returns the contestants (some possibly marked unavailable)."""
    out.mkdir(parents=True, exist_ok=True)
    rel = target_dir() / "release"
    cflags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
    # The -l flags a static link needs, from the pkg-config file (the one place they are written).
    pc = (ROOT / "ffi/scfruntime.pc.in").read_text()
    static_libs = next(l for l in pc.splitlines() if l.startswith("static_libs=")).split("=", 1)[1].split()
    sh(["cargo", "build", "--release", "-q", "-p", "scf-tests", "--bin", "fixture-echo"], cwd=ROOT)
    sh(["cargo", "build", "--release", "-q", "-p", "scfruntime-ffi", "-p", "scf-bootstrap-python",
        "-p", "scf-bootstrap-c", "-p", "scf-bootstrap-shell"], cwd=ROOT)
    sh(["cc", *cflags, ROOT / "bench/c/server.c", "-o", out / "server"])
    sh(["cc", *cflags, ROOT / "bench/c/raw_client.c", "-o", out / "raw_client"])
    sh(["cc", *cflags, "-I", ROOT / "include", ROOT / "bench/c/echo_lib.c",
        rel / "libscfruntime.a", *static_libs, "-o", out / "c_echo"])
    # The dlopen bootstrap loads ./libecho.so from its cwd (the code directory on SCF).
    c_dir = out / "c-handler"
    c_dir.mkdir(exist_ok=True)
    sh(["cc", *cflags, "-shared", "-fPIC", "-I", ROOT / "include", ROOT / "bench/c/echo_handler.c",
        "-o", c_dir / "libecho.so"])

    seed_dir = ROOT / "examples/bash-echo"
    py_dir = ROOT / "bench/python"
    slow = {64: (20, 300)} if not quick else {64: (5, 60)}
    # One bash per event: ~1-2 ms at 64 B, far more at 6 MB (bash copies the event string).
    shell_counts = ({64: (50, 1000), 64 * 1024: (20, 300), 1024 * 1024: (5, 40), SIX_MB: (2, 10)}
                    if not quick else
                    {64: (10, 200), 64 * 1024: (5, 60), 1024 * 1024: (2, 10), SIX_MB: (1, 3)})
    no_site = {"_HANDLER": "echo.handler", "SCFRUNTIME_PYTHON_NO_SITE": "1"}
    clean = {"_HANDLER": "echo.handler", "PYTHONHOME": str(clean_python_home(out))}
    cs = [
        Contestant("floor: raw-socket C client", "floor", [out / "raw_client", "100000000"]),
        Contestant("ours: Rust (scf-core)", "ours", [rel / "fixture-echo"]),
        Contestant("ours: C (libscfruntime, scf_run)", "ours", [out / "c_echo"]),
        Contestant("ours: C via the dlopen bootstrap (scf-c-bootstrap + libecho.so)", "ours",
                   [rel / "scf-c-bootstrap"], env={"_HANDLER": "libecho.handle"}, cwd=c_dir),
        Contestant("ours: shell via our shell bootstrap (scf-shell-bootstrap)", "ours",
                   [rel / "scf-shell-bootstrap"], env={"_HANDLER": "echo.handler"},
                   cwd=ROOT / "bench/shell", counts=shell_counts, rss=(1_000, 10_000),
                   note="one bash process per event (bootstrap/README.md); its RSS is the "
                        "bootstrap's own, without the short-lived bash, after 10^4 invocations"),
        Contestant("ours: Python wheel (python -m scfruntime)", "ours",
                   [out / "venv/bin/python", "-m", "scfruntime", "echo.handler"], cwd=py_dir,
                   note="a wheel for this CPython only (maturin `--features \"\"`, not the "
                        "`abi3` that pyproject.toml ships), to compare with the row below"),
        Contestant("ours: Python abi3 wheel (python -m scfruntime)", "ours",
                   [out / "venv-abi3/bin/python", "-m", "scfruntime", "echo.handler"], cwd=py_dir,
                   note="the wheel as shipped: `--features abi3` (pyo3 abi3-py39, one cp39-abi3 "
                        "wheel for every CPython >= 3.9), in its own venv"),
        Contestant("ours: Python embedded (scf-python-bootstrap)", "ours",
                   [rel / "scf-python-bootstrap"], env={"_HANDLER": "echo.handler"}, cwd=py_dir,
                   note="as shipped: `site` is imported, so this machine's site-packages `.pth` "
                        "files run (bench/FINDINGS.md)"),
        Contestant("ours: Python embedded, SCFRUNTIME_PYTHON_NO_SITE=1", "ours",
                   [rel / "scf-python-bootstrap"], env=no_site, cwd=py_dir, sizes=[64],
                   note="the same binary without `site` (bootstrap/python/README.md); per invocation it "
                        "is the row above, so only 64 B is timed"),
        Contestant("ours: Python embedded, clean interpreter (site on, no third-party .pth)", "ours",
                   [rel / "scf-python-bootstrap"], env=clean, cwd=py_dir, sizes=[64],
                   note="as shipped (`site` imported) on this machine's interpreter with an empty "
                        "site-packages (PYTHONHOME: symlinks to its stdlib, built by run.py), as "
                        "an SCF layer's Python would be; the venvs of the wheel route and "
                        "awslambdaric do not run the base site-packages' `.pth` files either"),
        Contestant("peer: seed bash + curl bootstrap", "peer", [seed_dir / "bootstrap"],
                   env={"_HANDLER": "index.main_handler"}, cwd=seed_dir, sizes=[64], counts=slow,
                   rss=False, note="one curl process per request, as Tencent's guide does it"),
        Contestant("peer: tencent_scf crate (Rust, ureq 2)", "peer",
                   [out / "peers/release/tencent-scf-echo"]),
        Contestant("peer: lambda_runtime (Rust, tokio + hyper, AWS paths)", "peer",
                   [out / "peers/release/lambda-echo"], paths="aws",
                   env={"AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                        "AWS_LAMBDA_LOG_GROUP_NAME": "bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench"}),
        Contestant("peer: awslambdaric (Python, AWS paths)", "peer",
                   [out / "venv/bin/python", "-m", "awslambdaric", "echo.handler"], paths="aws",
                   env={"LAMBDA_TASK_ROOT": str(py_dir)}, cwd=py_dir),
    ]
    by_name = {c.name: c for c in cs}

    for peer, binary in [("tencent-scf-echo", "peer: tencent_scf crate (Rust, ureq 2)"),
                         ("lambda-echo", "peer: lambda_runtime (Rust, tokio + hyper, AWS paths)")]:
        try:
            sh(["cargo", "build", "--release", "-q", "--manifest-path",
                ROOT / "bench/peers" / peer / "Cargo.toml"],
               env={**os.environ, "CARGO_TARGET_DIR": str(out / "peers")})
        except subprocess.CalledProcessError as e:
            by_name[binary].unavailable = f"cargo build of bench/peers/{peer} failed ({e.returncode})"

    venv = out / "venv"
    try:
        if not (venv / "bin/python").exists():
            sh([sys.executable, "-m", "venv", venv])
        sh([venv / "bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
            "maturin>=1.9.4,<2", "awslambdaric"])
        wheels = out / "wheels"
        shutil.rmtree(wheels, ignore_errors=True)
        # Features named on the command line replace pyproject.toml's (abi3): none, one wheel
        # for this CPython.
        sh([venv / "bin/maturin", "build", "--release", "-q", "-m", ROOT / "bindings/python/Cargo.toml",
            "--features", "", "-o", wheels, "-i", venv / "bin/python", "--target-dir", out / "maturin"])
        sh([venv / "bin/python", "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps",
            *sorted(wheels.glob("*.whl"))])
    except subprocess.CalledProcessError as e:
        for c in cs:
            if "venv/bin/python" in str(c.cmd[0]):
                c.unavailable = f"the Python venv could not be set up ({e})"
    # The wheel as shipped, on the limited API (one wheel for all CPythons >= 3.9), in its own
    # venv.
    venv3 = out / "venv-abi3"
    try:
        if not (venv3 / "bin/python").exists():
            sh([sys.executable, "-m", "venv", venv3])
        wheels3 = out / "wheels-abi3"
        shutil.rmtree(wheels3, ignore_errors=True)
        sh([venv / "bin/maturin", "build", "--release", "-q", "-m", ROOT / "bindings/python/Cargo.toml",
            "--features", "abi3", "-o", wheels3, "-i", venv3 / "bin/python",
            "--target-dir", out / "maturin-abi3"])
        sh([venv3 / "bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
            "--force-reinstall", "--no-deps", *sorted(wheels3.glob("*.whl"))])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        for c in cs:
            if "venv-abi3/bin/python" in str(c.cmd[0]):
                c.unavailable = f"the abi3 wheel's venv could not be set up ({e})"
    return cs


def read_status(pid):
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return fields


def run_one(out, c, size, warmup, count, cold=False, mark_at=0):
    """One server + one client run; returns the server's stats (+ client RSS, cold start, and
    with `mark_at` the client's RSS once that many results were in, as `mark`)."""
    env = {**os.environ, "BENCH_EVENT_SIZE": str(size), "BENCH_PATHS": c.paths,
           "BENCH_MARK_AT": str(mark_at)}
    # The server holds its last connection until its stdin closes (see server.c).
    server = subprocess.Popen(["taskset", "-c", "0", out / "server", str(warmup), str(count)],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        if not first.startswith("port "):
            raise RuntimeError(f"server did not start: {first!r}")
        port = first.split()[1]
        cenv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
                "LANG": "C.UTF-8", **c.env}
        if c.paths == "aws":
            cenv["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{port}"
        else:
            # The environment SCF gives a custom runtime (docs/platform.md section 2); tencent_scf
            # panics without the function-identity variables.
            cenv = {"SCF_RUNTIME": "CustomRuntime", "SCF_FUNCTIONNAME": "bench",
                    "SCF_FUNCTIONVERSION": "$LATEST", "SCF_NAMESPACE": "default",
                    "TENCENTCLOUD_REGION": "ap-guangzhou", "TENCENTCLOUD_APPID": "1250000000",
                    "TENCENTCLOUD_UIN": "100000000001", "TENCENTCLOUD_RUNENV": "SCF",
                    "_HANDLER": "index.main_handler", **cenv,
                    "SCF_RUNTIME_API": "127.0.0.1", "SCF_RUNTIME_API_PORT": port}
        tmp = tempfile.mkdtemp(prefix="scf-bench-")
        cenv["TMPDIR"] = tmp  # the seed's bootstrap leaves one mktemp file per invocation
        spawned = time.monotonic_ns()
        client = subprocess.Popen(["taskset", "-c", "0", *[str(x) for x in c.cmd]], env=cenv,
                                  cwd=c.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = {}
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in server.stdout] + [lines.put(None)],
                         daemon=True).start()
        try:
            deadline = time.monotonic() + RUN_LIMIT_S
            while True:
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    # No line yet: a client that died will never finish the run.
                    if client.poll() is not None:
                        raise RuntimeError(f"client exited {client.returncode} before the run finished")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"run over {RUN_LIMIT_S} s")
                    continue
                if line is None:
                    raise RuntimeError("server exited without stats")
                if line.startswith("mark "):
                    result["mark"] = read_status(client.pid)
                elif line.startswith("first_result_mono_ns "):
                    result["cold_start_ns"] = int(line.split()[1]) - spawned
                    if cold:
                        return result
                elif line.startswith("stats "):
                    result.update(json.loads(line[6:]))
                    result.update(read_status(client.pid))
                    return result
        finally:
            client.kill()
            client.wait()
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        server.stdin.close()
        server.kill()
        server.wait()


def import_time(python, module):
    """Cumulative microseconds of `import module` (median of 5 runs of `-X importtime`)."""
    times = []
    for _ in range(5):
        err = subprocess.run([python, "-X", "importtime", "-c", f"import {module}"],
                             capture_output=True, text=True, check=True).stderr
        for line in err.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == module:
                times.append(int(parts[1]))
    return statistics.median(times) if times else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer invocations and spawns (a smoke run)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="comma-separated substrings of contestant names")
    ap.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md/results.json")
    ap.add_argument("--spawns", type=int, help="cold starts per contestant (default 40, --quick 5)")
    ap.add_argument("--rss-invocations", type=int,
                    help="invocations of the RSS run (default 10^5, --quick 10^4); RSS is also "
                         "sampled after a tenth of them")
    args = ap.parse_args()
    if not shutil.which("taskset"):
        sys.exit("bench: taskset (util-linux) is needed to pin server and client to one CPU")
    out = target_dir() / "bench"
    contestants = build(out, args.quick)
    if args.only:
        keys = args.only.split(",")
        contestants = [c for c in contestants if c.kind == "floor" or any(k in c.name for k in keys)]
    counts = QUICK_COUNTS if args.quick else COUNTS
    spawns = args.spawns or (5 if args.quick else 40)
    rss_total = args.rss_invocations or (10_000 if args.quick else 100_000)

    results = {c.name: {"kind": c.kind, "note": c.note, "unavailable": c.unavailable, "sizes": {}}
               for c in contestants}
    live = [c for c in contestants if not c.unavailable]
    for c in contestants:
        if c.unavailable:
            log(f"SKIPPED {c.name}: {c.unavailable}")

    # Per-invocation time: rounds alternate the contestants so drift hits them all alike.
    for size in SIZES:
        for r in range(args.rounds):
            for c in live:
                if size not in c.sizes:
                    continue
                warmup, count = (c.counts or counts).get(size, counts[size])
                try:
                    st = run_one(out, c, size, warmup, count)
                except Exception as e:  # a failing contestant is recorded, the run goes on
                    log(f"{c.name} @ {SIZE_NAMES[size]}: FAILED {e}")
                    results[c.name]["sizes"].setdefault(str(size), {"error": str(e)})
                    continue
                if st.get("bad"):
                    log(f"{c.name} @ {SIZE_NAMES[size]}: {st['bad']} answers had the wrong length")
                runs = results[c.name]["sizes"].setdefault(str(size), {"runs": []})
                runs.setdefault("runs", []).append(st)
                log(f"round {r + 1} {SIZE_NAMES[size]:>5} {c.name}: median {st['median_ns'] / 1000:.2f} us "
                    f"p99 {st['p99_ns'] / 1000:.2f} us")

    # Cold start: spawn to first result. The spawns alternate the contestants (one each per
    # pass), so the machine's drift hits all of them alike, as the per-invocation rounds do.
    colds = {c.name: [] for c in live}
    failed = set()
    for _ in range(spawns):
        for c in live:
            if c.name in failed:
                continue
            try:
                colds[c.name].append(run_one(out, c, 64, 0, 1, cold=True)["cold_start_ns"])
            except Exception as e:
                log(f"{c.name} cold start: FAILED {e}")
                failed.add(c.name)
    for c in live:
        if colds[c.name]:
            results[c.name]["cold_start_ms"] = statistics.median(colds[c.name]) / 1e6
            log(f"cold {c.name}: {results[c.name]['cold_start_ms']:.2f} ms")

    # RSS of one process after a tenth of the run and at its end (64 B); the slow seed is
    # skipped (said in the table), the shell bootstrap runs fewer.
    def sample(st):
        return {"rss": st.get("VmRSS"), "hwm": st.get("VmHWM"), "anon": st.get("RssAnon"),
                "file": st.get("RssFile")}

    for c in live:
        if c.rss is False:
            continue
        first, total = c.rss or (rss_total // 10, rss_total)
        if c.rss and total > rss_total:
            first, total = rss_total // 10, rss_total
        try:
            st = run_one(out, c, 64, 0, total, mark_at=first)
            results[c.name]["rss"] = {str(first): sample(st.get("mark", {})),
                                      str(total): sample(st)}
        except Exception as e:
            log(f"{c.name} RSS run: FAILED {e}")
            continue
        log(f"rss {c.name}: {results[c.name]['rss']}")

    imports = {}
    # awslambdaric's package __init__ is empty; its runtime is awslambdaric.bootstrap.
    for label, venv, module in [("scfruntime", "venv", "scfruntime"),
                                ("scfruntime (abi3 wheel)", "venv-abi3", "scfruntime"),
                                ("awslambdaric.bootstrap", "venv", "awslambdaric.bootstrap")]:
        venv_py = out / venv / "bin/python"
        if not venv_py.exists():
            continue
        try:
            imports[label] = import_time(venv_py, module)
        except subprocess.CalledProcessError as e:
            imports[label] = None
            log(f"import time of {label}: FAILED {e}")

    report = summarise(results, imports, args)
    print(report)
    if not args.no_write:
        (ROOT / "bench/RESULTS.md").write_text(report)
        (ROOT / "bench/results.json").write_text(json.dumps(
            {"machine": machine(), "results": results, "imports_us": imports}, indent=1) + "\n")
        log("wrote bench/RESULTS.md and bench/results.json")


def machine():
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def med(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def summarise(results, imports, args):
    m = machine()
    floor = next((v for v in results.values() if v["kind"] == "floor"), None)
    lines = [
        "# Benchmarks: scfruntime and its peers, side by side",
        "",
        f"Written by `python3 bench/run.py{' --quick' if args.quick else ''}` on {m['date']}: "
        f"{m['cpu']}, {m['cpus']} vCPUs, Linux {m['kernel']}, Python {m['python']}. Server and client "
        "pinned to CPU 0. Times are server-measured gaps between consecutive results (median of the "
        f"per-run medians over {args.rounds} rounds; p99 likewise); ratios are to the raw-socket floor "
        "in the same run.",
        "",
        "## Per-invocation time (echo)",
        "",
        "| contestant | " + " | ".join(f"{SIZE_NAMES[s]} median / p99 (x floor)" for s in SIZES) + " |",
        "|---|" + "---|" * len(SIZES),
    ]
    for name, v in results.items():
        if v["unavailable"]:
            lines.append(f"| {name} | not run: {v['unavailable']} |" + " |" * (len(SIZES) - 1))
            continue
        cells = []
        for s in SIZES:
            runs = v["sizes"].get(str(s), {}).get("runs", [])
            mdn, p99 = med(runs, "median_ns"), med(runs, "p99_ns")
            if mdn is None:
                err = v["sizes"].get(str(s), {}).get("error")
                cells.append("failed: " + err if err else "-")
                continue
            f_runs = floor["sizes"].get(str(s), {}).get("runs", []) if floor else []
            f_mdn = med(f_runs, "median_ns")
            ratio = f" ({mdn / f_mdn:.2f}x)" if f_mdn else ""
            cells.append(f"{mdn / 1000:.1f} / {p99 / 1000:.1f} us{ratio}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    aws = next((v.get("cold_start_ms") for n, v in results.items() if "awslambdaric" in n), None)
    lines += ["", "## Cold start (spawn to first result, median) and memory", "",
              "RSS is read from /proc/PID/status of the one client process: VmRSS after a tenth of "
              "the RSS run and again at its end (growth between), RssAnon / RssFile at the end "
              "(file: mapped pages of the binary and its libraries), and VmHWM, the peak, which is "
              "the measure the targets use. Cold start of the Python contestants is also given as "
              "a ratio to awslambdaric's.",
              "",
              "| contestant | cold start (x floor) | x awslambdaric | RSS after N1 | same process "
              "after N2 | growth | anon / file at N2 | peak (VmHWM) |",
              "|---|---|---|---|---|---|---|---|"]
    f_cold = floor.get("cold_start_ms") if floor else None
    mb = lambda b: f"{b / 2**20:.2f} MB"  # noqa: E731
    for name, v in results.items():
        if v["unavailable"]:
            continue
        cold = v.get("cold_start_ms")
        cold_s = f"{cold:.2f} ms" + (f" ({cold / f_cold:.2f}x)" if cold and f_cold else "") if cold else "-"
        vs_aws = f"{cold / aws:.2f}x" if cold and aws and "Python" in name else ""
        rss = v.get("rss", {})
        keys = sorted(rss, key=int)
        vals = [rss[k].get("rss") for k in keys]
        if len(vals) == 2 and all(vals):
            growth = f"{(vals[1] - vals[0]) / vals[0] * 100:+.2f}%"
            r1 = f"{mb(vals[0])} (N1={int(keys[0]):,})"
            r2 = f"{mb(vals[1])} (N2={int(keys[1]):,})"
            end = rss[keys[-1]]
            split = f"{mb(end['anon'])} / {mb(end['file'])}" if end.get("anon") and end.get("file") else "-"
            hwm_s = mb(end["hwm"]) if end.get("hwm") else "-"
        else:
            r1 = r2 = growth = split = hwm_s = "-"
        lines.append(f"| {name} | {cold_s} | {vs_aws} | {r1} | {r2} | {growth} | {split} | {hwm_s} |")
    lines += ["", "## Python import time (`python -X importtime`, cumulative, median of 5)", ""]
    for label, us in imports.items():
        mod, _, how = label.partition(" ")
        name = f"`import {mod}`" + (f" {how}" if how else "")
        lines.append(f"- {name}: {us / 1000:.2f} ms" if us else f"- {name}: not measured")
    lines += ["", "Notes:", ""]
    for name, v in results.items():
        if v["note"]:
            lines.append(f"- {name}: {v['note']}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
