#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the Rust workspace tests (which include the
# cross-language and emulator tests). Installs what the tests need on a fresh machine first.
set -euo pipefail
cd "$(dirname "$0")"

# Tools the tests run: curl (the seed's bash bootstrap), valgrind (C leak checks), pkg-config
# (the installed C library), make and cc (C builds).
need_apt=()
for tool in curl:curl valgrind:valgrind pkg-config:pkgconf make:make; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]} with apt-get"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need_apt[@]}"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
