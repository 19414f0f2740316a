#!/usr/bin/env bash
# The whole test suite: formatting, lints (generated crates included, with -D warnings), then every test:
# unit tests, snapshots, diagnostics, and end-to-end runs against a real Temporal dev server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# Generated crates are formatted by `wfc build` itself (and checked fresh by the suite).
echo "==> cargo fmt --check (the hand-written crates)"
cargo fmt -p wfc -p wfc-expr -p wfc-runtime -p wfc-tests -- --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast
