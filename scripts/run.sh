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
    --port "${RASA_PORT:-5005}" --cors "*" &
  pids+=($!)
  wait -n "${pids[@]}"
fi
