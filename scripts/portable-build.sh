#!/usr/bin/env bash
# Portable release builds for SCF (CentOS 7.6, glibc 2.17, x86-64): the ready-made bootstraps
# (scf-c-bootstrap, scf-shell-bootstrap), the rust-echo example's bootstrap and libscfruntime,
# built with `cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.17`.
#
# Installs its tools when missing: zig and cargo-zigbuild from PyPI (`pip install ziglang
# cargo-zigbuild`, both prebuilt wheels: seconds, where `cargo install` takes minutes) into a venv
# under the target dir, or $SCF_ZIG_VENV when set. With SCF_NO_INSTALL=1 it installs nothing and
# exits 3 when a tool is missing (the tests run it so: ./test.sh installs both into .venv).
#
# Output: <out>/bin/{scf-c-bootstrap,scf-shell-bootstrap,rust-echo-bootstrap,libscfruntime.so,
# libscfruntime.a}, where <out> is $SCF_PORTABLE_DIR or <cargo target dir>/portable. `scfrt
# package --lang c|bash` takes its bootstraps from <target>/portable/bin when it exists (see
# bootstrap/README.md). The build itself uses <out> as its cargo target dir.
#
# Exit status: 0 built; 1 build failed; 3 the cross toolchain could not be installed (offline,
# no python3 venv, ...), with the reason on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-}
if [ -z "$target" ]; then
  target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
fi
out=${SCF_PORTABLE_DIR:-$target/portable}
triple=x86_64-unknown-linux-gnu
glibc=2.17
tools=$target/tools
venv=${SCF_ZIG_VENV:-$target/zig-venv}
no_install=${SCF_NO_INSTALL:-0}

toolchain_missing() { echo "portable-build.sh: cross toolchain unavailable: $*" >&2; exit 3; }
no_install() { [ "$no_install" = 1 ] && toolchain_missing "$1 is not installed in $venv (SCF_NO_INSTALL=1)"; return 0; }

# zig: a venv with the ziglang wheel; cargo-zigbuild finds it as `python3 -m ziglang`, and we put
# a `zig` shim first on PATH as well.
if ! command -v zig >/dev/null 2>&1; then
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
    no_install ziglang
    echo "portable-build.sh: installing zig (pip install ziglang) into $venv" >&2
    python3 -m venv "$venv" >&2 || toolchain_missing "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check ziglang >&2 ||
      toolchain_missing "pip install ziglang failed"
  fi
  mkdir -p "$tools/bin"
  printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$venv/bin/python" > "$tools/bin/zig"
  chmod 755 "$tools/bin/zig"
fi
export PATH="$tools/bin:$PATH"

if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
    no_install cargo-zigbuild
    echo "portable-build.sh: installing cargo-zigbuild (pip install cargo-zigbuild) into $venv" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2 ||
      toolchain_missing "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check cargo-zigbuild >&2 ||
      toolchain_missing "pip install cargo-zigbuild failed"
  fi
  export PATH="$PATH:$venv/bin"
fi
rustup target list --installed 2>/dev/null | grep -qx "$triple" ||
  { no_install "the rustup target $triple" && rustup target add "$triple" >&2; } || true

echo "portable-build.sh: building for $triple (glibc $glibc) in $out" >&2
CARGO_TARGET_DIR=$out cargo zigbuild -q --release --target "$triple.$glibc" \
  -p scf-bootstrap-c -p scf-bootstrap-shell -p rust-echo -p scfruntime-ffi

rel=$out/$triple/release
mkdir -p "$out/bin"
for f in scf-c-bootstrap scf-shell-bootstrap libscfruntime.so libscfruntime.a; do
  cp -f "$rel/$f" "$out/bin/$f.tmp" && mv -f "$out/bin/$f.tmp" "$out/bin/$f"
done
cp -f "$rel/bootstrap" "$out/bin/rust-echo-bootstrap.tmp" && mv -f "$out/bin/rust-echo-bootstrap.tmp" "$out/bin/rust-echo-bootstrap"
for f in scf-c-bootstrap scf-shell-bootstrap rust-echo-bootstrap libscfruntime.so; do
  need=$(objdump -T "$out/bin/$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
  echo "portable-build.sh: $out/bin/$f needs ${need:-no versioned glibc symbol}" >&2
done
echo "$out/bin"
