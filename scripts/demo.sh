#!/usr/bin/env bash
# Runs the user-onboarding sample end to end: compiles the flow with wfc, builds the worker,
# starts a local Temporal dev server and a stand-in users API, runs the worker, starts the
# workflow and prints its result and its `status` query.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
logs=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

echo "==> compiling samples/user-onboarding.yaml"
cargo build -q -p wfc
./target/debug/wfc build samples/user-onboarding.yaml -o generated/user-onboarding --runtime path=../../runtime
echo "==> building the generated worker crate (the first build compiles the Temporal SDK: minutes)"
cargo build -q -p user-onboarding-worker

port=$(free_port)
export TEMPORAL_ADDRESS="127.0.0.1:$port"
echo "==> starting a Temporal dev server on $TEMPORAL_ADDRESS"
temporal server start-dev --headless --ip 127.0.0.1 --port "$port" --log-level error >"$logs/temporal.log" 2>&1 &
pids+=($!)
until temporal operator namespace describe --namespace default --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do sleep 0.3; done

api_port=$(free_port)
python3 scripts/demo_api.py "$api_port" 2>"$logs/api.log" &
pids+=($!)

echo "==> running the worker (log: $logs/worker.log)"
USERS_API_TOKEN=demo-secret ./target/debug/user-onboarding-worker worker 2>"$logs/worker.log" &
pids+=($!)

input="{\"email\":\"ada@example.com\",\"name\":\"Ada\",\"plan\":\"pro\",\"apiBase\":\"http://127.0.0.1:$api_port\"}"
echo "==> starting the workflow with $input"
id=$(./target/debug/user-onboarding-worker start --input "$input" --id "demo-onboarding-$$")
echo "==> result of $id"
./target/debug/user-onboarding-worker result "$id"
echo "==> status query"
./target/debug/user-onboarding-worker query "$id" status | head -25
echo "==> worker log"
grep "wfc::flow" "$logs/worker.log" | sed 's/^/    /'
