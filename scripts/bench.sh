#!/usr/bin/env bash
# The benchmark: build time and scale of generated crates, the makespan of a dataflow graph, the
# throughput and expression cost of a generated worker against hand-written SDK workflows, and
# the fuzz and chaos runs, on local dev servers. Prints figures. Arguments pick sections: build
# scale makespan idle throughput own-activities expressions fuzz chaos (all by default).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo run --release -q -p wfc-tests --bin bench -- "$@"
