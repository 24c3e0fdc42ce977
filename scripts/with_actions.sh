#!/usr/bin/env bash
# Run a command while an action server is up (for `rasa test core` and the safety evaluation).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${ACTIONS_PORT:-5055}
.venv/bin/rasa run actions --actions bot.actions --port "$port" >var/actions-test.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -sf "http://localhost:$port/health" >/dev/null; then break; fi
  if ! kill -0 $pid 2>/dev/null; then cat var/actions-test.log; exit 1; fi
  sleep 0.5
done
"$@"
