#!/usr/bin/env bash
# The benchmark: build time and scale of generated crates, the makespan of a dataflow graph, and
# the throughput of a generated worker against a hand-written SDK workflow, on one local dev
# server. Prints figures. Arguments pick sections: build scale makespan throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo run --release -q -p wfc-tests --bin bench -- "$@"
