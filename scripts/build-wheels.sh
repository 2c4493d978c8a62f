#!/usr/bin/env bash
# The two wheels users install (docs/install.md): scfruntime (the Python package, one abi3 wheel
# for CPython >= 3.9) and scfrt (the command-line tool, carrying the glibc-2.17 ready-made
# bootstraps and the scfruntime wheel as data), both manylinux2014 (manylinux_2_17_x86_64):
# built with maturin and zig for glibc 2.17, so they install on CentOS 7 and anything newer.
#
#   scripts/build-wheels.sh [OUT_DIR]      # default: dist/wheels
#
# Steps: scripts/portable-build.sh (the bootstraps, for glibc 2.17); `maturin build --zig` of
# bindings/python; the bootstraps and that wheel staged as cli/scfrt/wheel-data/data/share/scfrt/
# bootstrap; `maturin build --zig` of cli/scfrt. The scfruntime wheel is also copied to
# <target>/portable/bin, where a scfrt built in this tree finds it (bootstrap/README.md).
#
# Tools: maturin, zig (ziglang) and cargo-zigbuild, from PATH or installed from PyPI into the
# venv portable-build.sh uses ($SCF_ZIG_VENV, default <target>/zig-venv). SCF_NO_INSTALL=1
# installs nothing and exits 3 when one is missing (./test.sh puts them in .venv).
#
# Exit status: 0 built (the wheels' paths on stdout); 1 a build failed; 3 tools unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist/wheels}
target=${CARGO_TARGET_DIR:-}
if [ -z "$target" ]; then
  target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
fi
venv=${SCF_ZIG_VENV:-$target/zig-venv}
portable=${SCF_PORTABLE_DIR:-$target/portable}
export PATH="$PATH:$venv/bin"

if ! command -v maturin >/dev/null 2>&1; then
  if [ "${SCF_NO_INSTALL:-0}" = 1 ]; then
    echo "build-wheels.sh: maturin is not installed (SCF_NO_INSTALL=1)" >&2
    exit 3
  fi
  echo "build-wheels.sh: installing maturin (pip install maturin) into $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2 ||
    { echo "build-wheels.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 3; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" ziglang >&2 ||
    { echo "build-wheels.sh: pip install maturin failed" >&2; exit 3; }
fi

# 1. The ready-made bootstraps for glibc 2.17 (installs zig and cargo-zigbuild when missing).
bin=$(CARGO_TARGET_DIR="$target" SCF_PORTABLE_DIR="$portable" SCF_ZIG_VENV="$venv" scripts/portable-build.sh)
# portable-build.sh may have put a zig shim there.
export PATH="$target/tools/bin:$PATH"

# 2. scfruntime, and 3. scfrt with its data: both for x86_64 glibc 2.17, in a target dir of
# their own (maturin's zig wrapper differs from portable-build.sh's: sharing one dir rebuilds
# every crate with C code, and what depends on it, on each switch).
mkdir -p "$out"
out=$(cd "$out" && pwd)
build() {
  maturin build --release --quiet --zig --compatibility manylinux2014 \
    --target x86_64-unknown-linux-gnu --target-dir "$target/wheel-build" -o "$out" -m "$1" >&2
}
rm -f "$out"/scfruntime-*.whl "$out"/scfrt-*.whl
build bindings/python/Cargo.toml
py_wheel=$(ls "$out"/scfruntime-*.whl)

data=cli/scfrt/wheel-data/data/share/scfrt/bootstrap
rm -rf cli/scfrt/wheel-data
mkdir -p "$data"
install -m 755 "$bin/scf-c-bootstrap" "$bin/scf-shell-bootstrap" "$data/"
install -m 644 "$py_wheel" "$data/"
# Replaced in one rename: tests may be reading it.
install -m 644 "$py_wheel" "$bin/.scfruntime-wheel.tmp"
mv -f "$bin/.scfruntime-wheel.tmp" "$bin/$(basename "$py_wheel")"
for w in "$bin"/scfruntime-*.whl; do
  [ "$(basename "$w")" = "$(basename "$py_wheel")" ] || rm -f "$w"
done
build cli/scfrt/Cargo.toml
rm -rf cli/scfrt/wheel-data

ls "$out"/scfruntime-*.whl "$out"/scfrt-*.whl
