#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the Rust workspace tests (core, emulator, C
# programs, header), then the Python suites (the binding and embedded bootstrap; scfrt serve driven
# by Tencent's SDK). Installs what the tests need on a fresh machine first: apt tools, and a venv
# (.venv) with maturin, pytest, mypy and the TencentCloud SDK.
set -euo pipefail
cd "$(dirname "$0")"

# Tools the tests run: curl (the seed's bash bootstrap), valgrind (C leak checks), pkg-config
# (the installed C library), make and cc (C builds), zipinfo (zip modes in the packaging tests),
# ip (the loopback of the network namespace the 0.0.0.0 cases run in), node and npm (the Node SDK
# that tests/sdk drives scfrt serve with).
# The glibc-2.17 portable-build test fetches zig and cargo-zigbuild from PyPI itself.
need_apt=()
for tool in curl:curl valgrind:valgrind pkg-config:pkgconf make:make zipinfo:unzip taskset:util-linux ip:iproute2 node:nodejs npm:npm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]} with apt-get"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need_apt[@]}"
fi

# A clean clone (CI) gains nothing from incremental compilation but its files on disk.
[ "${CI:-}" = true ] && export CARGO_INCREMENTAL=0
# A full disk shows up as a cryptic rustc/LLVM error minutes in: say it plainly first.
free_kb=$(df -Pk "${CARGO_TARGET_DIR:-.}" 2>/dev/null | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt $((8 * 1024 * 1024)) ]; then
  echo "test.sh: warning: only $((free_kb / 1024)) MB free here; a clean build and test run writes about 4 GB" >&2
fi

echo "== node SDK (tests/sdk/node, from npm)"
(cd tests/sdk/node && npm ci --silent --no-audit --no-fund)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc (warnings are errors: every public item documented, links resolve)"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --quiet
echo "== python venv (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" \
  -r tests/python/requirements.txt -r tests/sdk/requirements.txt
# A target dir of its own: maturin builds pyo3 for an extension module, cargo for embedding, and
# sharing one dir would rebuild pyo3 on every switch.
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop -q -m bindings/python/Cargo.toml --target-dir "$target/maturin"

echo "== cargo test"
cargo test --workspace
echo "== reliability summary (tests/reliability)"
cat "$target/tmp/reliability-summary.txt"

# The binaries the Python suites run (built here so the conftests need not build them).
cargo build --workspace --bins -q
export SCFRT_BIN="$target/debug/scfrt" SCF_PYTHON_BOOTSTRAP="$target/debug/scf-python-bootstrap"
echo "== pytest tests/python (the scfruntime wheel and the embedded bootstrap)"
.venv/bin/python -m pytest -q tests/python
echo "== pytest tests/sdk (scfrt serve through tencentcloud-sdk-python and the Node SDK)"
.venv/bin/python -m pytest -q tests/sdk
