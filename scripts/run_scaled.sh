#!/usr/bin/env bash
# Several instances on one machine, on loopback (`make run-scaled`; README, "Running several
# instances"): a private PostgreSQL cluster (tracker store and progress database) and Redis (lock
# store) under $SCALED_DIR, the migrations, one action server, two Rasa processes sharing those
# stores, and the web page. Each server starts through scripts/run.sh, as `make run` does.
# Ctrl-C stops everything, PostgreSQL and Redis included. One Rasa instance ending leaves the
# others running (kill "$(cat var/scaled/run/rasa-5006.pid)" tries it).
#
# Environment: RASA_PORTS ("5005 5006": one Rasa process per port), ACTIONS_PORT (5055),
# WEB_PORT (8000), SCALED_PG_PORT (55432), SCALED_REDIS_PORT (56379), SCALED_DIR (var/scaled),
# PG_BIN (the newest /usr/lib/postgresql/*/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

die() { echo "error: $*" >&2; exit 1; }

rasa_port=${RASA_PORT:-5005}
read -r -a rasa_ports <<<"${RASA_PORTS:-$rasa_port $((rasa_port + 1))}"
actions_port=${ACTIONS_PORT:-5055}
web_port=${WEB_PORT:-8000}
pg_port=${SCALED_PG_PORT:-55432}
redis_port=${SCALED_REDIS_PORT:-56379}
mkdir -p "${SCALED_DIR:-var/scaled}"
dir=$(cd "${SCALED_DIR:-var/scaled}" && pwd)
pg=$dir/pg
run=$dir/run

# The binaries: Debian's postgresql and redis-server packages (.ci/run installs them).
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$PG_BIN" ] || { command -v initdb >/dev/null && PG_BIN=$(dirname "$(command -v initdb)"); } || true
fi
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || die "PostgreSQL is missing (Debian: apt-get install postgresql; or set PG_BIN)"
command -v redis-server >/dev/null || die "redis-server is missing (Debian: apt-get install redis-server)"

# initdb refuses root: as root, the cluster belongs to the postgres user.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "as root, PostgreSQL runs as the postgres user, which does not exist"
  as_pg=(runuser -u postgres --)
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pg_ctl() { "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$pg/data" "$@"; }

pids=()
pg_started=
stop() {
  trap - EXIT INT TERM
  echo "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  if [ -n "$pg_started" ]; then pg_ctl -m fast -w stop >/dev/null || true; fi
  rm -f "$run"/*.pid
  echo "stopped"
}
trap stop EXIT
trap 'exit 0' INT TERM

ports=("${rasa_ports[@]}" "$actions_port" "$web_port" "$redis_port")
running_pg=
if pg_ctl status >/dev/null 2>&1; then
  running_pg=1  # left over from a run that was killed: used, and stopped at the end
else
  ports+=("$pg_port")
fi
for port in "${ports[@]}"; do
  if listening "$port"; then die "port $port is in use (see the environment overrides at the top of $0)"; fi
done

# One secret for the local PostgreSQL user and Redis, made once, readable by this user only.
if [ ! -s "$dir/secret" ]; then
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/secret")
fi
secret=$(cat "$dir/secret")
mkdir -p "$pg" "$dir/redis" "$run"

# PostgreSQL: a private cluster under $SCALED_DIR/pg, on 127.0.0.1 only, socket in that directory.
if [ -n "${as_pg[*]}" ]; then
  chown -R postgres: "$pg"
  "${as_pg[@]}" test -w "$pg" || die "the postgres user cannot reach $pg: use a SCALED_DIR that other users may traverse"
fi
if [ ! -f "$pg/data/PG_VERSION" ]; then
  echo "creating a PostgreSQL cluster in $pg/data"
  (umask 077 && echo "$secret" >"$pg/pwfile")
  [ -z "${as_pg[*]}" ] || chown postgres: "$pg/pwfile"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$pg/data" -U coach --pwfile="$pg/pwfile" --auth=scram-sha-256 \
    -E UTF8 --no-locale >"$pg/initdb.log" 2>&1 || { rm -f "$pg/pwfile"; die "initdb failed, see $pg/initdb.log"; }
  rm -f "$pg/pwfile"
fi
pg_started=1
if [ -z "$running_pg" ]; then
  pg_ctl -l "$pg/postgres.log" -w -t 60 \
    -o "-p $pg_port -k '$pg' -c listen_addresses=127.0.0.1" start >/dev/null \
    || die "PostgreSQL did not start, see $pg/postgres.log"
fi
psql() { PGPASSWORD=$secret "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U coach -d postgres -v ON_ERROR_STOP=1 -tAq "$@"; }
for db in tracker progress; do
  [ "$(psql -c "select 1 from pg_database where datname = '$db'")" = 1 ] || psql -c "create database $db"
done

# Redis on 127.0.0.1, with a password, nothing saved to disk (locks live seconds).
(umask 077 && cat >"$dir/redis/redis.conf" <<EOF
bind 127.0.0.1
port $redis_port
requirepass $secret
save ""
appendonly no
dir $dir/redis
EOF
)

# Every server's output on this terminal, each line prefixed with its name. The prefixing sed
# ignores Ctrl-C so that it still passes on what a server says while stopping.
serve() {
  local name=$1
  shift
  "$@" > >(trap '' INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
  echo $! >"$run/$name.pid"
}
serve redis redis-server "$dir/redis/redis.conf"
redis_pid=$!
for _ in $(seq 100); do listening "$redis_port" && break; sleep 0.1; done
listening "$redis_port" || die "Redis did not start"

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export RASA_TRACKER_DB_URL="postgresql+psycopg2://coach:$secret@127.0.0.1:$pg_port/tracker"
export PROGRESS_DB_URL="postgresql+psycopg2://coach:$secret@127.0.0.1:$pg_port/progress"
export RASA_LOCK_STORE_URL="redis://:$secret@127.0.0.1:$redis_port/0"
export ACTIONS_PORT=$actions_port WEB_PORT=$web_port
export ACTION_ENDPOINT_URL="http://127.0.0.1:$actions_port/webhook"
export RASA_PUBLIC_URL=${RASA_PUBLIC_URL:-http://localhost:${rasa_ports[0]}}
.venv/bin/python -m bot.stores migrate

serve actions scripts/run.sh actions
declare -A infra=(["$redis_pid"]=redis ["$!"]=actions) rasa_pids=()
for port in "${rasa_ports[@]}"; do
  serve "rasa-$port" env RASA_PORT="$port" scripts/run.sh rasa
  rasa_pids[$!]=$port
done
serve web scripts/run.sh web
infra[$!]=web

echo "PostgreSQL on 127.0.0.1:$pg_port (databases tracker, progress; user coach, password in $dir/secret)"
echo "Redis on 127.0.0.1:$redis_port; logs of PostgreSQL: $pg/postgres.log"
echo "actions: http://127.0.0.1:$actions_port/webhook ; the practice page: http://localhost:$web_port/ (talks to $RASA_PUBLIC_URL)"
for port in "${rasa_ports[@]}"; do
  echo "starting Rasa on http://localhost:$port (REST: POST /webhooks/rest/webhook, socket.io)"
done
echo "Ctrl-C stops all servers, PostgreSQL and Redis"

# Until Ctrl-C: a stopped Rasa instance leaves the others running; a stopped action server,
# web page or Redis, or the last Rasa instance stopping, stops everything.
declare -A ready=()
while :; do
  sleep 1 &
  wait $! || true
  for pid in "${!infra[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "${infra[$pid]} stopped"
  done
  for pid in "${!rasa_pids[@]}"; do
    port=${rasa_pids[$pid]}
    if ! kill -0 "$pid" 2>/dev/null; then
      unset "rasa_pids[$pid]"
      rm -f "$run/rasa-$port.pid"
      echo "Rasa on :$port stopped; ${#rasa_pids[@]} instance(s) left"
    elif [ -z "${ready[$port]:-}" ] && command -v curl >/dev/null && curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
      ready[$port]=1
      echo "Rasa on http://localhost:$port is ready"
    fi
  done
  [ "${#rasa_pids[@]}" -gt 0 ] || die "no Rasa instance left"
done
