#!/usr/bin/env bash
# Start the action server, the Rasa server and the web page (or `rasa shell` with "shell"); stop all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
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
# A broken practice settings file stops here with the bad field named.
.venv/bin/python -m bot.content.practice check
# The action server applies the progress database's migrations before it starts.
.venv/bin/python -m bot.actions.progress_db upgrade
# Telegram and Slack join only when their environment variables are set (docs/channels.md); a
# half-configured channel stops here with the missing variable named.
.venv/bin/python -m bot.channels.credentials --base credentials.yml --out var/credentials.yml
.venv/bin/rasa run actions --actions bot.actions --port "${ACTIONS_PORT:-5055}" &
pids+=($!)
model="bot/models/reluctant-partner-coach.tar.gz"
if [ "$mode" = shell ]; then
  .venv/bin/rasa shell --model "$model" --endpoints endpoints.yml
else
  .venv/bin/python -m bot.web.server --port "${WEB_PORT:-8000}" &
  pids+=($!)
  echo "starting Rasa on http://localhost:${RASA_PORT:-5005} (REST: POST /webhooks/rest/webhook, socket.io)"
  echo "the practice page with the chat widget: http://localhost:${WEB_PORT:-8000}/ ; Ctrl-C stops all servers"
  .venv/bin/rasa run --model "$model" --endpoints endpoints.yml --credentials var/credentials.yml \
    --port "${RASA_PORT:-5005}" --cors "*" "${api_args[@]}" &
  pids+=($!)
  wait -n "${pids[@]}"
fi
