#!/usr/bin/env bash
# The whole city inside a Linux network namespace with only loopback: no route out, so nothing can
# leave the machine (issue 17 "nothing leaves the city"; docs/no-route.md). Needs root (ip netns).
#   deploy/local/netns.sh up          creates the namespace (lo up, no other interface, no route) and
#                                     starts its own servers in it: a fresh PostgreSQL cluster, Redis,
#                                     Mosquitto on 1883, Kafka (kafka.sh), the project Mosquitto (mosquitto.sh)
#   deploy/local/netns.sh start       the whole city as `npm start` runs it (start.sh), inside, in the foreground
#   deploy/local/netns.sh exec CMD..  runs CMD inside, with the namespace's state dirs in its environment
#   deploy/local/netns.sh sockets     every TCP/UDP socket in the namespace, with its process (ss -tunap)
#   deploy/local/netns.sh routes      the namespace's interfaces and routes
#   deploy/local/netns.sh down        stops every process in the namespace (SIGTERM, SIGKILL after 20s),
#                                     deletes it and its state dir
#   deploy/local/netns.sh run CMD..   up, CMD inside, down (also when CMD or up fails)
# By hand: `sudo deploy/local/netns.sh up && sudo deploy/local/netns.sh start` (Ctrl-C), then `... down`.
# Inside the namespace 127.0.0.1 is its own loopback: the machine's servers are out of reach, and
# nothing of the machine's local city (its databases, ~/.local/state/citybase, .local/) is touched.
# Environment:
#   NETNS_NAME   namespace name (default citybase-noroute)
#   NETNS_DIR    state dir of everything inside: PostgreSQL data, Kafka (CITYBASE_LOCAL_DIR), the city's
#                secrets and the project Mosquitto (CITYBASE_STATE_DIR), service logs (default /tmp/<name>)
#   NETNS_TRACE  a file: `exec` and `start` run their command under strace, which writes every
#                connect(2) of it and of all its children there (address and result), for the test
#   NETNS_KEEP_DIR=1  `down` leaves the state dir (logs) in place
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAME="${NETNS_NAME:-citybase-noroute}"
DIR="${NETNS_DIR:-/tmp/$NAME}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
# Kafka's jars are fetched once, outside (Maven Central is out of reach inside), into the checkout's usual place.
KAFKA_LIB="${KAFKA_LIB_DIR:-$ROOT/.local/kafka/lib}"

log() { printf '[netns] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
exists() { ip netns list | awk '{print $1}' | grep -qx "$NAME"; }
in_ns() { ip netns exec "$NAME" "$@"; }

# The environment of everything inside: the default local endpoints (which, inside, are the
# namespace's own servers) and state dirs under DIR instead of the machine's.
NS_ENV=(env -u IOT_MQTT_DIR PGURL=postgres://postgres@127.0.0.1:5432/postgres TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
  KAFKA_PORT=9092 KAFKA_BROKERS=127.0.0.1:9092 KAFKA_LIB_DIR="$KAFKA_LIB" REDIS_URL=redis://127.0.0.1:6379
  MQTT_URL=mqtt://127.0.0.1:1883 IOT_MQTT_PORT=1885 IOT_MQTT_URL=mqtt://127.0.0.1:1885
  CITYBASE_LOCAL_DIR="$DIR/local" CITYBASE_STATE_DIR="$DIR/state"
  NX_NO_CLOUD=true NX_DAEMON=false)

# wait_for <what> <seconds> <command...>
wait_for() {
  local what="$1" timeout="$2" i
  shift 2
  for ((i = 0; i < timeout * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not answer within ${timeout}s inside $NAME"
}

up() {
  [[ "$(id -u)" == 0 ]] || die "needs root (ip netns)"
  exists && die "namespace $NAME exists already (deploy/local/netns.sh down first)"
  [[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL server binaries not found (PG_BIN=$PG_BIN)"
  # What needs the internet happens first, outside: dependencies (npm ci) and Kafka's jars.
  bash "$ROOT/deploy/local/install.sh"
  KAFKA_LIB_DIR="$KAFKA_LIB" bash "$ROOT/deploy/local/kafka.sh" fetch
  rm -rf "$DIR"
  mkdir -p "$DIR/pg" "$DIR/redis" "$DIR/mqtt" "$DIR/local" "$DIR/state"
  chmod 755 "$DIR"
  chown postgres: "$DIR/pg"
  ip netns add "$NAME"
  # A failed start leaves nothing behind either.
  trap 'log "up failed; removing $NAME"; down' EXIT
  ip -n "$NAME" link set lo up
  log "namespace $NAME: $(ip -n "$NAME" -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')(state in $DIR)"
  if ip -n "$NAME" route show | grep -q . || ip -n "$NAME" -6 route show | grep -v ' dev lo ' | grep -q .; then
    die "namespace $NAME has a route out: $(ip -n "$NAME" route show)"
  fi

  # A fresh PostgreSQL cluster, trust auth on loopback, its socket in DIR (not the machine's /run/postgresql).
  runuser -u postgres -- "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >"$DIR/pg/initdb.log" 2>&1 ||
    { cat "$DIR/pg/initdb.log" >&2; die "initdb failed"; }
  in_ns runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=5432 -c unix_socket_directories=$DIR/pg -c fsync=off -c max_connections=300" \
    start >/dev/null
  wait_for PostgreSQL 30 in_ns "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p 5432
  log "postgres   127.0.0.1:5432 ($DIR/pg/data)"

  in_ns redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$DIR/redis" --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log" >/dev/null
  wait_for Redis 30 in_ns redis-cli -h 127.0.0.1 -p 6379 ping
  log "redis      127.0.0.1:6379"

  # The machine broker's stand-in on 1883 (infra.sh would otherwise start /etc/mosquitto's config,
  # whose pid file is the machine's).
  cat >"$DIR/mqtt/mosquitto.conf" <<EOF
user $(id -un)
listener 1883 127.0.0.1
allow_anonymous true
persistence false
pid_file $DIR/mqtt/mosquitto.pid
log_dest file $DIR/mqtt/mosquitto.log
EOF
  in_ns mosquitto -d -c "$DIR/mqtt/mosquitto.conf"
  wait_for Mosquitto 30 in_ns bash -c '(exec 3<>/dev/tcp/127.0.0.1/1883)'
  log "mosquitto  127.0.0.1:1883"

  # Kafka and the project Mosquitto exactly as npm start runs them, with their state under DIR.
  in_ns "${NS_ENV[@]}" bash "$ROOT/deploy/local/kafka.sh" start
  in_ns "${NS_ENV[@]}" bash "$ROOT/deploy/local/mosquitto.sh" start
  trap - EXIT
  log "up: $NAME (deploy/local/netns.sh start runs the city in it; down removes it)"
}

# Every process whose network namespace is ours: the servers, the city and anything started with exec.
ns_pids() { exists && ip netns pids "$NAME" 2>/dev/null || true; }

down() {
  local pids i
  if exists; then
    pids="$(ns_pids | tr '\n' ' ')"
    if [[ -n "${pids// /}" ]]; then
      log "stopping $(wc -w <<<"$pids") processes in $NAME (SIGTERM)"
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      for ((i = 0; i < 80; i++)); do
        [[ -z "$(ns_pids)" ]] && break
        sleep 0.25
      done
      pids="$(ns_pids | tr '\n' ' ')"
      if [[ -n "${pids// /}" ]]; then
        log "SIGKILL to $pids"
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do
          [[ -z "$(ns_pids)" ]] && break
          sleep 0.25
        done
      fi
    fi
    ip netns del "$NAME"
    log "namespace $NAME deleted"
  fi
  if [[ "${NETNS_KEEP_DIR:-0}" != 1 && -d "$DIR" ]]; then
    rm -rf "$DIR"
  fi
}

# ns_run <command...>: inside, with the namespace's environment, under strace when NETNS_TRACE is set.
ns_run() {
  exists || die "namespace $NAME does not exist (deploy/local/netns.sh up first)"
  if [[ -n "${NETNS_TRACE:-}" ]]; then
    # --seccomp-bpf: only connect(2) stops the tracee, so the city runs at its normal speed.
    in_ns "${NS_ENV[@]}" strace -f -qq --seccomp-bpf -e trace=connect -e signal=none -o "$NETNS_TRACE" -- "$@"
  else
    in_ns "${NS_ENV[@]}" "$@"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  start) ns_run bash "$ROOT/deploy/local/start.sh" ;;
  exec)
    shift
    ns_run "$@"
    ;;
  sockets) in_ns ss -tunapH ;;
  routes)
    ip -n "$NAME" -o link show
    ip -n "$NAME" route show
    ip -n "$NAME" -6 route show
    ;;
  run)
    shift
    up
    trap down EXIT
    ns_run "$@"
    ;;
  *)
    echo "usage: $0 up|start|exec CMD..|sockets|routes|down|run CMD.." >&2
    exit 2
    ;;
esac
