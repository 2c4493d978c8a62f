#!/usr/bin/env python3
"""Where the embedded Python bootstrap's cold start and memory go, in numbers that do not depend
on how busy the machine is.

    python3 bench/python/startup.py [--bootstrap PATH] [--env K=V ...] [--invocations N]
                                    [--no-callgrind]

Runs the bootstrap (default: <target>/release/scf-python-bootstrap, built by bench/run.py or
`cargo build --release -p scf-bootstrap-python`) with the echo handler of this directory against
bench/c/server.c, three ways:

1. under `valgrind --tool=callgrind` until its first response (then SIGTERM): total instructions
   and the inclusive cost of the big steps (CPython init, the serve loop's imports, the loader);
2. with PYTHONPROFILEIMPORTTIME=1: the top-level imports and their cumulative microseconds;
3. for N invocations (default 3000): VmHWM, RssAnon / RssFile and the largest mappings of
   /proc/PID/smaps.

`--env SCFRUNTIME_PYTHON_NO_SITE=1` measures the site opt-out. Prints; writes nothing.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# Inclusive costs printed: all of main; CPython's init and, inside it, the `encodings` import;
# the serve loop (its imports); the handler's import; the dynamic loader.
STEPS = ["scf_python_bootstrap::main", "Py_InitializeFromConfig", "_PyUnicode_InitEncodings",
         "scfruntime_py::serve::serve", "scfruntime_py::load::load_handler", "_dl_start"]


def target_dir():
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return Path(json.loads(out)["target_directory"])


def server_binary():
    path = target_dir() / "bench" / "server"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-std=c11", "-O2", ROOT / "bench/c/server.c", "-o", path], check=True)
    return path


class Run:
    """The bench server (COUNT results, then stats) and one bootstrap process against it."""

    def __init__(self, cmd, env, count, mark_at=0, stderr=subprocess.DEVNULL):
        senv = {**os.environ, "BENCH_EVENT_SIZE": "64", "BENCH_MARK_AT": str(mark_at)}
        self.server = subprocess.Popen(["taskset", "-c", "0", server_binary(), "0", str(count)],
                                       env=senv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)
        port = self.server.stdout.readline().split()[1]
        cenv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                "SCF_RUNTIME_API": "127.0.0.1", "SCF_RUNTIME_API_PORT": port,
                "_HANDLER": "echo.handler", **env}
        self.client = subprocess.Popen(["taskset", "-c", "0", *map(str, cmd)], env=cenv, cwd=HERE,
                                       stdout=subprocess.DEVNULL, stderr=stderr, text=True)

    def lines(self):
        """Server lines until its stats (bounded by the server's own run)."""
        for line in self.server.stdout:
            yield line
            if line.startswith("stats "):
                return

    def stop(self):
        self.client.send_signal(signal.SIGTERM)
        try:
            _, err = self.client.communicate(timeout=60)
        finally:
            self.server.stdin.close()
            self.server.kill()
            self.server.wait()
        return err


def callgrind(boot, env):
    out = Path(tempfile.mkdtemp(prefix="scf-startup-")) / "callgrind.out"
    run = Run(["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={out}", boot], env, 1)
    for _ in run.lines():
        pass
    run.stop()
    text = out.read_text(errors="replace")
    total = int(re.search(r"^summary: (\d+)", text, re.M).group(1))
    print(f"instructions, exec to SIGTERM after the first response: {total / 1e6:.1f} M")
    annotate = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                              capture_output=True, text=True).stdout
    for step in STEPS:
        for line in annotate.splitlines():
            # The first (largest) non-recursive entry of the step.
            if re.search(rf"[:\s]{re.escape(step)} \[", line) and "'" not in line.split("[")[0]:
                print(f"  {line.split('(')[0].strip():>12} {step}")
                break
    shutil.rmtree(out.parent, ignore_errors=True)


def import_times(boot, env):
    run = Run([boot], {**env, "PYTHONPROFILEIMPORTTIME": "1"}, 1, stderr=subprocess.PIPE)
    for _ in run.lines():
        pass
    err = run.stop()
    print("top-level imports (PYTHONPROFILEIMPORTTIME, cumulative us):")
    for line in err.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and not parts[2].startswith("  "):
            if parts[1].strip().isdigit():
                print(f"  {int(parts[1]):>8} {parts[2].strip()}")


def memory(boot, env, n):
    run = Run([boot], env, n, mark_at=n - 1)
    report = []
    for line in run.lines():
        if not line.startswith("mark "):
            continue
        pid = run.client.pid
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        report += [s for s in status if s.startswith(("VmHWM", "VmRSS", "RssAnon", "RssFile"))]
        rss, private = Counter(), Counter()
        name = None
        for row in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            parts = row.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", row):
                name = parts[5] if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                rss[name] += int(parts[1])
            elif parts[0] in ("Private_Clean:", "Private_Dirty:"):
                private[name] += int(parts[1])
        report.append("largest mappings (kB resident, of it private):")
        report += [f"  {kb:>6} {private[m]:>6}  {m}" for m, kb in rss.most_common(8)]
    run.stop()
    print(f"memory after {n} invocations:")
    print("\n".join(f"  {r}" for r in report))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", type=Path)
    ap.add_argument("--env", action="append", default=[], metavar="K=V")
    ap.add_argument("--invocations", type=int, default=3000)
    ap.add_argument("--no-callgrind", action="store_true")
    args = ap.parse_args()
    boot = args.bootstrap or target_dir() / "release" / "scf-python-bootstrap"
    if not boot.exists():
        sys.exit(f"startup.py: {boot} does not exist: cargo build --release -p scf-bootstrap-python")
    env = {}
    for kv in args.env:
        key, sep, value = kv.partition("=")
        if not sep:
            sys.exit(f"startup.py: --env {kv!r} is not K=V")
        env[key] = value
    print(f"{boot} {' '.join(args.env)}")
    if not args.no_callgrind:
        if shutil.which("valgrind") and shutil.which("callgrind_annotate"):
            callgrind(boot, env)
        else:
            print("instructions: not measured (valgrind is not installed)")
    import_times(boot, env)
    memory(boot, env, args.invocations)


if __name__ == "__main__":
    main()
