#!/usr/bin/env bash
# The whole test suite: formatting, lints (generated crates included, with -D warnings), then every test:
# unit tests, snapshots, diagnostics, and end-to-end runs against a real Temporal dev server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# A one-shot run gains nothing from incremental caches, and they are a third of the disk it
# needs (about 4 of 11 GB); CI machines have been seen with little disk to spare.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi
echo "==> disk before the suite: $(df -h . | awk 'NR==2 {print $4 " free of " $2}')"
trap 'echo "==> disk after the suite: $(df -h . | awk '"'"'NR==2 {print $4 " free of " $2}'"'"'), target $(du -sh target 2>/dev/null | cut -f1)"' EXIT

# Generated crates are formatted by `wfc build` itself (and checked fresh by the suite).
echo "==> cargo fmt --check (the hand-written crates)"
cargo fmt -p wfc -p wfc-expr -p wfc-runtime -p wfc-tests -- --check
echo "==> cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast
