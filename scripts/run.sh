#!/usr/bin/env bash
# Start the action server, the Rasa server and the web page; stop all on Ctrl-C.
#   scripts/run.sh          all three (`make run`)
#   scripts/run.sh shell    the action server and `rasa shell` (`make shell`)
#   scripts/run.sh rasa     the Rasa server only, in this process (one instance of `make run-scaled`)
#   scripts/run.sh actions  the action server only, in this process
#   scripts/run.sh web      the web page only, in this process
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
case "$mode" in
  run | shell | rasa | actions | web) ;;
  *) echo "usage: scripts/run.sh [run|shell|rasa|actions|web]" >&2; exit 2 ;;
esac
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# Rasa's HTTP API (trackers, events, model) is off unless RASA_ENABLE_API=true, and then only with a token.
api_args=()
if [ "${RASA_ENABLE_API:-false}" = true ]; then
  if [ "${#RASA_API_TOKEN}" -lt 16 ]; then
    echo "error: RASA_ENABLE_API=true needs RASA_API_TOKEN (16 characters or more); the HTTP API stays off without it" >&2
    exit 1
  fi
  api_args=(--enable-api --auth-token "$RASA_API_TOKEN")
fi
# endpoints.yml reads these; empty (the Makefile's default) means the SQLite tracker file
# RASA_TRACKER_DB and an in-memory lock store: one Rasa process (README, "Configuration").
export RASA_TRACKER_DB_URL=${RASA_TRACKER_DB_URL:-} RASA_LOCK_STORE_URL=${RASA_LOCK_STORE_URL:-}
# Rasa calls the action server started below (endpoints.yml): on its port unless told otherwise.
export ACTION_ENDPOINT_URL=${ACTION_ENDPOINT_URL:-http://localhost:${ACTIONS_PORT:-5055}/webhook}
model="bot/models/reluctant-partner-coach.tar.gz"
# Each server's command line, in this one place (`make run` and every instance of `make run-scaled`).
rasa_server=(.venv/bin/python -m bot.rasa_ext run --model "$model" --endpoints endpoints.yml --credentials var/credentials.yml
  --port "${RASA_PORT:-5005}" --interface "${RASA_INTERFACE:-0.0.0.0}" --cors "*" "${api_args[@]}")
# The action server has no interface option: rasa_sdk listens on SANIC_HOST (make run-scaled: loopback).
action_server=(env SANIC_HOST="${RASA_INTERFACE:-0.0.0.0}" .venv/bin/rasa run actions --actions bot.actions --port "${ACTIONS_PORT:-5055}")
web_page=(.venv/bin/python -m bot.web.server --port "${WEB_PORT:-8000}")

# A broken practice settings file stops here with the bad field named.
check_practice() { .venv/bin/python -m bot.content.practice check; }
# Telegram and Slack join only when their environment variables are set (docs/channels.md); a
# half-configured channel stops here with the missing variable named.
write_credentials() { .venv/bin/python -m bot.channels.credentials --base credentials.yml --out var/credentials.yml; }

case "$mode" in
  web) exec "${web_page[@]}" ;;
  actions) check_practice; exec "${action_server[@]}" ;;
  rasa) write_credentials; exec "${rasa_server[@]}" ;;
esac
check_practice
# Python 3.10's end of life: a warning unless the operating system still patches this interpreter.
.venv/bin/python scripts/check_runtime.py
# Rasa's tracker tables and the progress database's migrations, before the servers start
# (`make run-scaled` applies them once, before all its instances).
.venv/bin/python -m bot.stores migrate
write_credentials
"${action_server[@]}" &
pids+=($!)
if [ "$mode" = shell ]; then
  .venv/bin/python -m bot.rasa_ext shell --model "$model" --endpoints endpoints.yml
else
  "${web_page[@]}" &
  pids+=($!)
  echo "starting Rasa on http://localhost:${RASA_PORT:-5005} (REST: POST /webhooks/rest/webhook, socket.io)"
  echo "the practice page with the chat widget: http://localhost:${WEB_PORT:-8000}/ ; Ctrl-C stops all servers"
  "${rasa_server[@]}" &
  pids+=($!)
  wait -n "${pids[@]}"
fi
