#!/usr/bin/env bash
# Local infrastructure for Citybase on one machine, no Docker (ARCHITECTURE.md section 8).
#   deploy/local/infra.sh ensure     PostgreSQL, Redis, Mosquitto up (starts any that is down), then Kafka
#                                    and the project's own Mosquitto for iot devices (mosquitto.sh, port 1885)
#   deploy/local/infra.sh databases  creates the service databases citybase_<name> (SERVICES) if absent
#   deploy/local/infra.sh all        ensure + databases (default)
#   deploy/local/infra.sh reset-city drops the service databases and the local city's secrets
#                                    (CITYBASE_STATE_DIR): the next `npm start` makes a new city
# Idempotent; prints one line per component. Services run their own migrations in their database.
# Environment:
#   PGURL     admin connection used to create databases (default postgres://postgres@127.0.0.1:5432/postgres)
#   KAFKA_PORT  broker port (default 9092; see kafka.sh). Redis (6379) and Mosquitto (1883) use the fixed
#               local ports of the start commands below.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The one list of services; start.sh and docs/adding-a-service.md refer to it.
SERVICES=(identity payment settlement points marketing iot data)
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_PORT=6379
MQTT_PORT=1883

log() { printf '[infra] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for <what> <seconds> <command...>: polls the command until it succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local i
  for ((i = 0; i < timeout * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not answer within ${timeout}s"
}

pg_ready() { pg_isready -q -d "$PGURL"; }
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
# mosquitto_sub is not always installed; a TCP connect is enough to know the broker listens.
mqtt_ready() { port_open "$MQTT_PORT"; }

ensure_postgres() {
  if pg_ready; then log "postgres   ok      ($PGURL)"; return 0; fi
  # Only a local server is ours to start; a remote PGURL that does not answer is the caller's problem.
  [[ "$PGURL" =~ [/@](127\.0\.0\.1|localhost)([:/]|$) ]] || die "PostgreSQL does not answer at $PGURL"
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL is down at $PGURL and pg_ctlcluster is not installed"
  local clusters=(/etc/postgresql/*) version
  version="$(basename "${clusters[-1]}")"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for "PostgreSQL" 60 pg_ready
  log "postgres   started ($PGURL, cluster $version/main)"
}

ensure_redis() {
  if redis_ready; then log "redis      ok      (127.0.0.1:$REDIS_PORT)"; return 0; fi
  command -v redis-server >/dev/null || die "Redis is down on 127.0.0.1:$REDIS_PORT and redis-server is not installed"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
  wait_for "Redis" 30 redis_ready
  log "redis      started (127.0.0.1:$REDIS_PORT)"
}

ensure_mosquitto() {
  if mqtt_ready; then log "mosquitto  ok      (127.0.0.1:$MQTT_PORT)"; return 0; fi
  command -v mosquitto >/dev/null || die "Mosquitto is down on 127.0.0.1:$MQTT_PORT and mosquitto is not installed"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
  wait_for "Mosquitto" 30 mqtt_ready
  log "mosquitto  started (127.0.0.1:$MQTT_PORT)"
}

ensure_iot_mosquitto() {
  # mosquitto.sh is idempotent and prints its own line; dynamic security, no anonymous clients.
  bash "$ROOT/deploy/local/mosquitto.sh" start
}

ensure_kafka() {
  # kafka.sh is idempotent and prints its own line ("already running" or "ready").
  bash "$ROOT/deploy/local/kafka.sh" start
}

# npm start's fixed gRPC ports (start.sh's table, 50051-50057) lie inside Linux's ephemeral port range
# (32768-60999 by default): any process's outgoing connection may be given one as its local port, and
# a service starting a moment later fails with EADDRINUSE (seen: points on 50054 in a test run).
# Reserved from the ephemeral range where this user may (root); otherwise a warning. Per network namespace.
GRPC_PORTS=50051-50057
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports current
  current="$(cat "$file" 2>/dev/null)" || return 0
  [[ ",$current," == *",$GRPC_PORTS,"* ]] && return 0
  if { printf '%s' "${current:+$current,}$GRPC_PORTS" >"$file"; } 2>/dev/null; then
    log "ports      $GRPC_PORTS reserved from the ephemeral range ($file)"
  else
    log "WARNING: could not reserve $GRPC_PORTS from the ephemeral range (not root?); a service may rarely find its port taken"
  fi
}

ensure() {
  reserve_ports
  ensure_postgres
  ensure_redis
  ensure_mosquitto
  ensure_kafka
  ensure_iot_mosquitto
}

databases() {
  pg_ready || die "PostgreSQL does not answer at $PGURL (run: $0 ensure)"
  local name db created=()
  for name in "${SERVICES[@]}"; do
    db="citybase_$name"
    if [[ -z "$(psql "$PGURL" -qtAX -v ON_ERROR_STOP=1 -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
      # Another process may create it at the same moment; only a database still missing afterwards is an error.
      if ! psql "$PGURL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null 2>&1 &&
        [[ -z "$(psql "$PGURL" -qtAX -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
        die "could not create database $db"
      fi
      created+=("$db")
    fi
  done
  if ((${#created[@]})); then
    log "databases  created ${created[*]} (${#SERVICES[@]} present)"
  else
    log "databases  ok      (${#SERVICES[@]} present: citybase_{$(IFS=,; echo "${SERVICES[*]}")})"
  fi
}

# The local city's secrets (identity's master key, payment's credentials key, the bootstrap admin
# client) belong with the databases, which are machine-wide, so they live in a machine-wide state
# directory too, not in a checkout: a second clone on the same machine runs the same city.
state_dir() {
  printf '%s' "${CITYBASE_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/citybase/${CITY_ID:-demo-city}}"
}

reset_city() {
  pg_ready || die "PostgreSQL does not answer at $PGURL (run: $0 ensure)"
  local name
  for name in "${SERVICES[@]}"; do
    psql "$PGURL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"citybase_$name\" WITH (FORCE)" >/dev/null
  done
  bash "$ROOT/deploy/local/mosquitto.sh" stop
  rm -rf "$(state_dir)"
  log "reset-city dropped citybase_{$(IFS=,; echo "${SERVICES[*]}")} and $(state_dir)"
}

case "${1:-all}" in
  ensure) ensure ;;
  databases) databases ;;
  all) ensure; databases ;;
  reset-city) reset_city ;;
  state-dir) state_dir ;;
  stop-iot-mosquitto) bash "$ROOT/deploy/local/mosquitto.sh" stop ;;
  *) echo "usage: $0 ensure|databases|all|reset-city|state-dir|stop-iot-mosquitto" >&2; exit 2 ;;
esac
