#!/usr/bin/env bash
# Several instances on one machine, as a practice would run them (`make run-scaled`; README,
# "Running several instances"; docs/operating.md): nginx in front (one HTTPS port for the web page,
# socket.io, REST and the webhooks; TLS with a certificate made here, self-signed, unless
# TLS_CERT and TLS_KEY name real ones), a private PostgreSQL cluster (tracker store and progress
# database) and Redis (lock store, delivery keys) under $SCALED_DIR, the migrations, one action
# server behind nginx, two Rasa processes sharing those stores, and the web page; all but nginx's
# public port on loopback only. Each server starts through scripts/run.sh, as `make run` does.
# Ctrl-C stops everything, PostgreSQL and Redis included. One Rasa instance ending leaves the
# others running (kill "$(cat var/scaled/run/rasa-5006.pid)" tries it).
#
# Environment: HTTPS_PORT (8443: the one public port), RASA_PORTS ("5005 5006": one Rasa process
# per port), ACTIONS_PORT (5055), ACTIONS_PROXY_PORT (5054: nginx in front of the action server),
# WEB_PORT (8000), SCALED_PG_PORT (55432), SCALED_REDIS_PORT (56379), SCALED_DIR (var/scaled),
# PG_BIN (the newest /usr/lib/postgresql/*/bin), TLS_CERT and TLS_KEY (PEM files; both or none),
# NGINX (the nginx binary), PUBLIC_HOST (localhost: the name browsers use), PUBLIC_LISTEN
# (127.0.0.1: the address of the HTTPS port; 0.0.0.0 on a server).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

die() { echo "error: $*" >&2; exit 1; }

rasa_port=${RASA_PORT:-5005}
read -r -a rasa_ports <<<"${RASA_PORTS:-$rasa_port $((rasa_port + 1))}"
actions_port=${ACTIONS_PORT:-5055}
actions_proxy_port=${ACTIONS_PROXY_PORT:-5054}
https_port=${HTTPS_PORT:-8443}
public_host=${PUBLIC_HOST:-localhost}
public_listen=${PUBLIC_LISTEN:-127.0.0.1}
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
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$nginx" ] || die "nginx is missing (Debian: apt-get install nginx; or set NGINX)"
if [ -n "${TLS_CERT:-}${TLS_KEY:-}" ]; then
  [ -r "${TLS_CERT:-}" ] && [ -r "${TLS_KEY:-}" ] || die "TLS_CERT and TLS_KEY must both name readable PEM files"
fi

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

ports=("${rasa_ports[@]}" "$actions_port" "$actions_proxy_port" "$https_port" "$web_port" "$redis_port")
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

# nginx: its configuration from deploy/nginx.conf, a self-signed certificate for $public_host made
# once (TLS_CERT and TLS_KEY for a real one), checked before anything listens.
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
tls_args=(--self-signed "$public_host")
[ -z "${TLS_CERT:-}" ] || tls_args=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
nginx_line=$(.venv/bin/python scripts/nginx_conf.py --dir "$dir/nginx" --https-port "$https_port" \
  --rasa-ports "${rasa_ports[*]}" --web-port "$web_port" --actions-port "$actions_port" \
  --actions-proxy-port "$actions_proxy_port" --listen "$public_listen" --nginx "$nginx" "${tls_args[@]}") \
  || die "nginx could not be set up"
read -r -a nginx_cmd <<<"$nginx_line"

export RASA_TRACKER_DB_URL="postgresql+psycopg2://coach:$secret@127.0.0.1:$pg_port/tracker"
export PROGRESS_DB_URL="postgresql+psycopg2://coach:$secret@127.0.0.1:$pg_port/progress"
export RASA_LOCK_STORE_URL="redis://:$secret@127.0.0.1:$redis_port/0"
export ACTIONS_PORT=$actions_port WEB_PORT=$web_port RASA_INTERFACE=127.0.0.1
# Rasa reaches the action server through nginx; browsers reach Rasa and the page through nginx.
export ACTION_ENDPOINT_URL="http://127.0.0.1:$actions_proxy_port/webhook"
public_url="https://$public_host:$https_port"
export RASA_PUBLIC_URL=${RASA_PUBLIC_URL:-$public_url}
.venv/bin/python scripts/check_runtime.py
.venv/bin/python -m bot.stores migrate

serve nginx "${nginx_cmd[@]}" -g "daemon off;"
declare -A infra=(["$redis_pid"]=redis ["$!"]=nginx) name_of=() started=() fast_fails=()
# The action server, the Rasa processes and the web page, by name (started again by name below).
start_named() {
  case $1 in
    actions) serve actions scripts/run.sh actions ;;
    web) serve web scripts/run.sh web ;;
    rasa-*) serve "$1" env RASA_PORT="${1#rasa-}" scripts/run.sh rasa ;;
  esac
  name_of[$!]=$1
  started[$1]=$SECONDS
}
start_named actions
for port in "${rasa_ports[@]}"; do start_named "rasa-$port"; done
start_named web

echo "PostgreSQL on 127.0.0.1:$pg_port (databases tracker, progress; user coach, password in $dir/secret)"
echo "Redis on 127.0.0.1:$redis_port; logs of PostgreSQL: $pg/postgres.log; of nginx: $dir/nginx/"
echo "actions: http://127.0.0.1:$actions_port/webhook (Rasa calls it through nginx on :$actions_proxy_port)"
for port in "${rasa_ports[@]}"; do
  echo "starting Rasa on http://127.0.0.1:$port (behind nginx)"
done
echo "the practice page with the chat: $public_url/ ; REST: POST $public_url/webhooks/rest/webhook"
[ -n "${TLS_CERT:-}" ] || echo "(a self-signed certificate: the browser warns once; curl needs --cacert $dir/nginx/tls/cert.pem)"
echo "Ctrl-C stops all servers, PostgreSQL and Redis"

# Until Ctrl-C, as a service manager would: a process that crashes or is killed (a non-zero exit:
# kill -9, out of memory) is started again, unless it failed within a minute of its start three
# times in a row. One that stops cleanly (kill, SIGTERM) stays stopped: a Rasa instance leaves the
# others running; the action server, the web page, nginx or Redis stopping, or the last Rasa
# instance, stops everything.
declare -A ready=()
rasa_left() { local n=0 name; for name in "${name_of[@]}"; do [[ $name == rasa-* ]] && n=$((n + 1)); done; echo $n; }
while :; do
  sleep 1 &
  wait $! 2>/dev/null || true  # quiet: bash reports a killed server here, the loop says it better
  for pid in "${!infra[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "${infra[$pid]} stopped"
  done
  for pid in "${!name_of[@]}"; do
    name=${name_of[$pid]}
    port=${name#rasa-}
    if kill -0 "$pid" 2>/dev/null; then
      if [[ $name == rasa-* ]] && [ -z "${ready[$port]:-}" ] && command -v curl >/dev/null \
        && curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
        ready[$port]=1
        echo "Rasa on http://127.0.0.1:$port is ready"
      fi
      continue
    fi
    status=0
    wait "$pid" 2>/dev/null || status=$?
    unset "name_of[$pid]"
    rm -f "$run/$name.pid"
    ready[$port]=
    if [ "$status" -ne 0 ]; then
      if [ $((SECONDS - started[$name])) -lt 60 ]; then fast_fails[$name]=$((${fast_fails[$name]:-0} + 1)); else fast_fails[$name]=0; fi
      if [ "${fast_fails[$name]}" -lt 3 ]; then
        echo "$name stopped (exit status $status); starting it again"
        start_named "$name"
        continue
      fi
      echo "$name failed three times within a minute of starting; not starting it again"
    fi
    if [[ $name == rasa-* ]]; then
      echo "Rasa on :$port stopped; $(rasa_left) instance(s) left"
    else
      die "$name stopped"
    fi
  done
  [ "$(rasa_left)" -gt 0 ] || die "no Rasa instance left"
done
