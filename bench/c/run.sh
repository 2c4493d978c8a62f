#!/usr/bin/env bash
# Benchmark: libscfruntime's C echo against the raw-socket floor, on the same fixed-cost server.
#
#   bench/c/run.sh [--diagnose] [COUNT] [ROUNDS]     (defaults: 20000 invocations, 5 rounds)
#
# --diagnose also runs, in each round, the raw client with ureq's habits added one at a time
# (`split`: a POST's head and body in two writes; `probe`: the pool's liveness probes) and a
# minimal std-only Rust client (minimal_rust_client.rs), to show where libscfruntime's time goes.
#
# Builds the release library (make lib), then for each round runs the server and each client
# pinned to CPU 0 (taskset -c 0), alternating raw and libscfruntime so drift hits both. Prints
# the server-measured time per invocation (next + response, after a warm-up) for every run, the
# medians and their ratio.
#
# Why one CPU: on small VMs a wake-up across CPUs costs ~100 us (an IPI and a VM exit for the
# idle vCPU), which swamps the ~20 us an invocation takes and makes the numbers noise. Set
# BENCH_SERVER_CPU=1 to put the server on its own CPU anyway.
set -euo pipefail

DIAGNOSE=0
if [ "${1:-}" = "--diagnose" ]; then DIAGNOSE=1; shift; fi
COUNT=${1:-20000}
ROUNDS=${2:-5}
WARMUP=$(( COUNT / 10 > 100 ? COUNT / 10 : 100 ))
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET/bench-c
CC=${CC:-cc}
CPU_CLIENT=0
CPU_SERVER=${BENCH_SERVER_CPU:-0}

mkdir -p "$OUT"
# The -l flags a static link needs, from the pkg-config file (the one place they are written).
STATIC_LIBS=$(sed -n 's/^static_libs=//p' "$ROOT/ffi/scfruntime.pc.in")
make -s -C "$ROOT" lib CARGO_TARGET_DIR="$TARGET" >&2
CFLAGS="-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror"
$CC $CFLAGS "$ROOT/bench/c/server.c" -o "$OUT/server"
$CC $CFLAGS "$ROOT/bench/c/raw_client.c" -o "$OUT/raw_client"
$CC $CFLAGS -I"$ROOT/include" "$ROOT/bench/c/echo_lib.c" "$TARGET/release/libscfruntime.a" \
    $STATIC_LIBS -o "$OUT/echo_lib"
if [ "$DIAGNOSE" = 1 ]; then
    rustc -O --edition 2021 "$ROOT/bench/c/minimal_rust_client.rs" -o "$OUT/minimal_rust_client"
fi

# run_one NAME CMD...: start the server, run the client against it, print ns per invocation.
run_one() {
    local name=$1; shift
    local fifo=$OUT/server.out
    rm -f "$fifo"
    taskset -c "$CPU_SERVER" "$OUT/server" "$WARMUP" "$COUNT" > "$fifo" &
    local server=$!
    local port=""
    for _ in $(seq 1 500); do
        port=$(sed -n 's/^port //p' "$fifo" 2>/dev/null || true)
        [ -n "$port" ] && break
        sleep 0.01
    done
    [ -n "$port" ] || { echo "server did not start" >&2; kill "$server"; exit 1; }
    SCF_RUNTIME_API=127.0.0.1 SCF_RUNTIME_API_PORT=$port \
        SCFRUNTIME_MAX_INVOCATIONS=$(( WARMUP + COUNT )) \
        taskset -c "$CPU_CLIENT" "$@"
    wait "$server"
    local ns
    ns=$(sed -n 's/^per_invocation_ns //p' "$fifo")
    echo "$name $ns"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

raw=(); lib=(); declare -A diag
for r in $(seq 1 "$ROUNDS"); do
    if [ "$DIAGNOSE" = 1 ]; then
        for mode in split probe "split probe"; do
            read -r _ ns < <(run_one raw "$OUT/raw_client" $(( WARMUP + COUNT )) $mode)
            diag["raw $mode"]+="$ns "
        done
        read -r _ ns < <(run_one minimal "$OUT/minimal_rust_client" $(( WARMUP + COUNT )))
        diag["minimal Rust client"]+="$ns "
    fi
    read -r _ ns < <(run_one raw "$OUT/raw_client" $(( WARMUP + COUNT )))
    raw+=("$ns")
    read -r _ ns < <(run_one libscfruntime "$OUT/echo_lib")
    lib+=("$ns")
    awk -v r="$r" -v a="${raw[-1]}" -v b="${lib[-1]}" \
        'BEGIN { printf "round %d: raw %6.2f us  libscfruntime %6.2f us  (%.3fx)\n", r, a/1000, b/1000, b/a }'
done
raw_med=$(printf '%s\n' "${raw[@]}" | median)
lib_med=$(printf '%s\n' "${lib[@]}" | median)
printf 'median per invocation (%d invocations x %d rounds, server on CPU %d, client on CPU %d):\n' \
    "$COUNT" "$ROUNDS" "$CPU_SERVER" "$CPU_CLIENT"
if [ "$DIAGNOSE" = 1 ]; then
    for key in "raw split" "raw probe" "raw split probe" "minimal Rust client"; do
        med=$(printf '%s\n' ${diag[$key]} | median)
        awk -v k="$key" -v m="$med" -v a="$raw_med" \
            'BEGIN { printf "  %-19s %8.2f us  (%.3fx raw)\n", k, m / 1000, m / a }'
    done
fi
awk -v a="$raw_med" -v b="$lib_med" 'BEGIN {
    printf "  raw socket client   %8.2f us\n", a / 1000
    printf "  libscfruntime echo  %8.2f us\n", b / 1000
    printf "  ratio               %8.3f x  (target <= 1.15)\n", b / a
}'
