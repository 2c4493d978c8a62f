#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, the Rust workspace tests (which include the
# cross-language and emulator tests). Installs what the tests need on a fresh machine first.
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)   # the seed's bash example bootstrap uses curl
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]} with apt-get"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"; fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
