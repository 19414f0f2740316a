#!/usr/bin/env bash
# The benchmark: build times of a generated crate, and the throughput of a generated worker
# against a hand-written SDK workflow on one local dev server. Prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo run --release -q -p wfc-tests --bin bench -- "$@"
