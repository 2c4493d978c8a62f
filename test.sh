#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the Rust workspace tests (core, emulator, C
# programs, header), then the Python suites (the binding and embedded bootstrap; scfrt serve driven
# by Tencent's SDKs and tccli). Installs everything the tests need on a fresh machine first, before
# any test runs: apt tools; a venv (.venv) with maturin, pytest, mypy, the TencentCloud SDK, zig
# and cargo-zigbuild; the two wheels (scripts/build-wheels.sh), scfruntime's installed in .venv;
# the Python packaging tests' wheelhouse; tccli in .venv-tccli; the Node SDK from npm. No
# test installs anything: a test whose tool is missing fails, naming the step below that installs
# it (tests/support/src/tools.rs).
set -euo pipefail
cd "$(dirname "$0")"

# Tools the tests run: curl (the seed's bash bootstrap), valgrind (C leak checks), pkg-config
# (the installed C library), make and cc (C builds), readelf (ELF checks of the bootstraps),
# zipinfo (zip modes in the packaging tests), taskset (bench/), ip (the loopback of the network
# namespace the 0.0.0.0 cases run in), node and npm (the Node SDK that tests/sdk drives scfrt
# serve with). The list is tests/support/src/tools.rs's APT (a test checks).
echo "== tools (apt-get install what is missing)"
need_apt=()
for tool in curl:curl valgrind:valgrind pkg-config:pkgconf make:make cc:gcc readelf:binutils zipinfo:unzip taskset:util-linux ip:iproute2 node:nodejs npm:npm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]} with apt-get"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# A clean clone (CI) gains nothing from incremental compilation but its files on disk.
[ "${CI:-}" = true ] && export CARGO_INCREMENTAL=0
# A full disk shows up as a cryptic rustc/LLVM error minutes in: say it plainly first.
free_kb=$(df -Pk "${CARGO_TARGET_DIR:-.}" 2>/dev/null | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt $((8 * 1024 * 1024)) ]; then
  echo "test.sh: warning: only $((free_kb / 1024)) MB free here; a clean build and test run writes about 4 GB" >&2
fi

echo "== python venv (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
# ziglang and cargo-zigbuild (prebuilt wheels: seconds) are the cross toolchain of the glibc-2.17
# portable-build test (scripts/portable-build.sh), which finds them in .venv/bin.
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" \
  -r tests/python/requirements.txt -r tests/sdk/requirements.txt ziglang cargo-zigbuild
# That test builds for x86_64-unknown-linux-gnu (the host's own target on x86-64 machines).
rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-gnu ||
  rustup target add x86_64-unknown-linux-gnu
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# The wheels users install (README, "Install"), built once up front: the glibc-2.17 bootstraps
# land in $target/portable/bin with the scfruntime wheel, where the packaging tests' scfrt finds
# them, and .venv gets the scfruntime wheel itself (the tests run what ships). The Python
# packaging tests install their function's requirements from $target/wheelhouse only.
# (Keep this heading equal to tests/support/src/tools.rs's WHEELS_STEP.)
echo "== wheels (scripts/build-wheels.sh) and the tests' wheelhouse"
PATH="$PWD/.venv/bin:$PATH" SCF_ZIG_VENV="$PWD/.venv" SCF_NO_INSTALL=1 CARGO_TARGET_DIR="$target" \
  scripts/build-wheels.sh "$target/wheels"
.venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
  "$target"/wheels/scfruntime-*.whl
py_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
.venv/bin/python -m pip download -q --disable-pip-version-check --only-binary=:all: \
  --platform manylinux2014_x86_64 --implementation cp --python-version "$py_version" \
  -d "$target/wheelhouse" -r tests/packaging/python-fn/requirements.txt

echo "== tccli venv (.venv-tccli)"
[ -x .venv-tccli/bin/tccli ] || { python3 -m venv .venv-tccli &&
  .venv-tccli/bin/python -m pip install -q --disable-pip-version-check -r tests/sdk/requirements-tccli.txt; }

echo "== node SDK (tests/sdk/node, from npm)"
(cd tests/sdk/node && npm ci --silent --no-audit --no-fund)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc (warnings are errors: every public item documented, links resolve)"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --quiet
echo "== cargo test"
cargo test --workspace
echo "== cargo package -p scf-core (the crate as crates.io would take it: metadata, readme, licenses, build)"
cargo package -p scf-core --allow-dirty --quiet
echo "== scf-events with its optional features (http, async)"
cargo clippy -p scf-events --all-targets --all-features --quiet -- -D warnings
cargo test -p scf-events --all-features --quiet
echo "== reliability summary (tests/reliability)"
cat "$target/tmp/reliability-summary.txt"

# The binaries the Python suites run (built here so the conftests need not build them).
cargo build --workspace --bins -q
export SCFRT_BIN="$target/debug/scfrt" SCF_PYTHON_BOOTSTRAP="$target/debug/scf-python-bootstrap"
echo "== pytest tests/python (the scfruntime wheel and the embedded bootstrap)"
.venv/bin/python -m pytest -q tests/python
echo "== pytest tests/sdk (scfrt serve through tencentcloud-sdk-python and the Node SDK)"
.venv/bin/python -m pytest -q tests/sdk
