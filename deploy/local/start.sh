#!/usr/bin/env bash
# `npm start`: the whole Citybase stack on this machine, in the foreground.
#   1. installs dependencies (npm ci) when node_modules is missing or older than the lock
#   2. deploy/local/infra.sh all: PostgreSQL, Redis, Mosquitto, Kafka, the service databases
#   3. builds every project (npx nx run-many -t build; skipped with CITYBASE_SKIP_BUILD=1, below)
#   4. starts the services (SERVICES) as child processes, logs in .local/logs/<name>.log
#   5. waits until every /readyz answers 200 (120s), prints the addresses
#      (also runs the sandbox payment channel on SANDBOX_PORT, default 8090, payer auto-pays)
#   6. starts the city simulator (tools/simulator, docs/simulator.md) at a gentle rate: it builds a
#      city through the public APIs and runs a day of life; its live summary is on this terminal,
#      its log in .local/logs/simulator.log; prints the data dashboard's URL and how to sign in
# Options: --rate N (or CITYBASE_SIM_RATE=N): the simulator's business operations per second
# (default 1; 0: no load, the simulator does not start).
# --replicas N (or CITYBASE_REPLICAS=N, default 1): N processes of every service, as on N machines
# (README "Scale-out on one machine"): replica r of a service listens on its ports + 100*r (payment: gRPC 50052,
# 50152, ...; HTTP 8082, 8182, ...), logs to <service>-<r>.log (replica 0: <service>.log), shares
# the service's database and consumer groups; iot's replicas each have their own MQTT client id
# (iot-<host>-<HTTP port>) and share its subscriptions. Callers get every replica of a service
# (IDENTITY_GRPC_URL=ipv4:127.0.0.1:50051,127.0.0.1:50151: grpc-js fails over between them; the
# simulator takes turns and makes a call that found one down again on another); AUTH_JWKS_URL is
# identity replica 0's. DATABASE_POOL_SIZE becomes 10/N (at least 2) so 7*N processes fit
# PostgreSQL's 100 connections (an explicit DATABASE_POOL_SIZE wins).
# --kafka single|cluster (or CITYBASE_KAFKA, default single): the services use the one broker of
# infra.sh (KAFKA_BROKERS), or the local 3-node cluster (kafka.sh cluster: KRaft, replication
# factor 3, min in-sync replicas 2, 127.0.0.1:19192-19194), started here when it does not run
# (and then stopped again at the end).
# Ctrl-C or SIGTERM stops every process this script started (the simulator first, which then prints
# its invariant checks and report; then the rest: SIGTERM, SIGKILL after 15s), and Kafka
# too when this script was the one that started it. If a service exits on its own, the stack stops.
# Environment (optional): PGURL, KAFKA_PORT, KAFKA_BROKERS, REDIS_URL, MQTT_URL, CITY_ID, LOG_LEVEL,
# OTEL_EXPORTER_OTLP_ENDPOINT (passed through), READY_TIMEOUT (seconds, default 120),
# CITYBASE_LOCAL_DIR (default .local: logs in <it>/logs, Kafka in <it>/kafka), CITYBASE_STATE_DIR
# (the city's secrets and the project Mosquitto; infra.sh state-dir).
# CITYBASE_SKIP_BUILD=1: the projects are built already (the test tier's build step); only the
# entry points are checked. Tests set it: without Nx's daemon every cache hit restores the project's
# dist/ from the cache (removed, then copied), which pulls the files from under the processes that
# the integration suites running beside this one are starting.
# shellcheck disable=SC2317  # stop_services, cleanup and on_signal run from traps
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# Service table: name, gRPC port, HTTP port. Adding a service: docs/adding-a-service.md.
SERVICES=(identity payment settlement points marketing iot data)
declare -A GRPC_PORT=([identity]=50051 [payment]=50052 [settlement]=50053 [points]=50054 [marketing]=50055 [iot]=50056 [data]=50057)
declare -A HTTP_PORT=([identity]=8081 [payment]=8082 [settlement]=8083 [points]=8084 [marketing]=8085 [iot]=8086 [data]=8087)

PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"
KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
MQTT_URL="${MQTT_URL:-mqtt://127.0.0.1:1883}"
# The project's own broker for iot devices (deploy/local/mosquitto.sh), not the machine's on 1883.
IOT_MQTT_URL="${IOT_MQTT_URL:-mqtt://127.0.0.1:${IOT_MQTT_PORT:-1885}}"
CITY_ID="${CITY_ID:-demo-city}"
LOG_LEVEL="${LOG_LEVEL:-info}"
READY_TIMEOUT="${READY_TIMEOUT:-120}"
STOP_GRACE=15
LOG_DIR="${CITYBASE_LOCAL_DIR:-$ROOT/.local}/logs"
SIM_RATE="${CITYBASE_SIM_RATE:-1}"
SIM_STOP_GRACE=60 # the simulator drains its operations (20s at most) and checks the invariants
REPLICAS="${CITYBASE_REPLICAS:-1}"
KAFKA_MODE="${CITYBASE_KAFKA:-single}"
USAGE='usage: npm start [-- --rate N] [--replicas N] [--kafka single|cluster]'
while (($#)); do
  case "$1" in
    --rate | --replicas | --kafka)
      [[ $# -ge 2 ]] || { printf '[start] %s needs a value\n' "$1" >&2; exit 2; }
      case "$1" in --rate) SIM_RATE="$2" ;; --replicas) REPLICAS="$2" ;; --kafka) KAFKA_MODE="$2" ;; esac
      shift 2
      ;;
    --rate=*) SIM_RATE="${1#--rate=}"; shift ;;
    --replicas=*) REPLICAS="${1#--replicas=}"; shift ;;
    --kafka=*) KAFKA_MODE="${1#--kafka=}"; shift ;;
    *) printf '[start] unknown option %s (%s)\n' "$1" "$USAGE" >&2; exit 2 ;;
  esac
done
if ! [[ "$SIM_RATE" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  printf '[start] the simulator rate must be a number of operations per second (got %s)\n' "$SIM_RATE" >&2
  exit 2
fi
if ! [[ "$REPLICAS" =~ ^[1-9]$ ]]; then
  printf '[start] the replicas of each service must be 1-9 (got %s)\n' "$REPLICAS" >&2
  exit 2
fi
if [[ "$KAFKA_MODE" != single && "$KAFKA_MODE" != cluster ]]; then
  printf '[start] --kafka must be single or cluster (got %s)\n' "$KAFKA_MODE" >&2
  exit 2
fi
if ((REPLICAS > 1)) && [[ -z "${DATABASE_POOL_SIZE:-}" ]]; then
  DATABASE_POOL_SIZE=$((10 / REPLICAS < 2 ? 2 : 10 / REPLICAS))
fi

declare -A PIDS=()   # process (service name, or <name>-<r> for replica r > 0) -> pid of its node process (leader of its own process group)
KAFKA_OURS=0         # 1 when this script started the broker, so it stops it again
KAFKA_CLUSTER_OURS=0 # the same for the 3-node cluster (--kafka cluster)
IOT_MQTT_OURS=0      # the same for the project's Mosquitto
STOPPING=0

log() { printf '[start] %s\n' "$*" >&2; }
# Replica r of a service: its process key (and log name) and its ports.
proc_key() { if (($2 == 0)); then printf '%s' "$1"; else printf '%s-%s' "$1" "$2"; fi; }
grpc_port() { echo $((GRPC_PORT[$1] + 100 * $2)); }
http_port() { echo $((HTTP_PORT[$1] + 100 * $2)); }
# What a caller of a service is given: its one address, or all its replicas' as a grpc-js target.
grpc_target() {
  local r out=()
  for ((r = 0; r < REPLICAS; r++)); do out+=("127.0.0.1:$(grpc_port "$1" "$r")"); done
  if ((REPLICAS == 1)); then printf '%s' "${out[0]}"; else (IFS=,; printf 'ipv4:%s' "${out[*]}"); fi
}
identity_http_urls() {
  local r out=()
  for ((r = 0; r < REPLICAS; r++)); do out+=("http://127.0.0.1:$(http_port identity "$r")"); done
  (IFS=,; printf '%s' "${out[*]}")
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

# postgres://user@host:port/postgres?opts -> postgres://user@host:port/citybase_<name>?opts
database_url() {
  local base="${PGURL%%\?*}"
  local query="${PGURL:${#base}}"
  printf '%s/citybase_%s%s' "${base%/*}" "$1" "$query"
}

show_log_tail() {
  local name="$1"
  printf -- '----- last lines of %s/%s.log -----\n' "$LOG_DIR" "$name" >&2
  tail -n 40 "$LOG_DIR/$name.log" >&2 2>/dev/null || true
  printf -- '----- end of %s.log -----\n' "$name" >&2
}

stop_services() {
  local name pid remaining i
  ((${#PIDS[@]})) || return 0
  # the simulator first, while the services still answer its invariant checks
  if [[ -n "${PIDS[simulator]:-}" ]]; then
    pid="${PIDS[simulator]}"
    log "stopping the simulator (it checks the invariants; up to ${SIM_STOP_GRACE}s)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < SIM_STOP_GRACE * 4; i++)); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[simulator]'
  fi
  ((${#PIDS[@]})) || return 0
  log "stopping services (SIGTERM)"
  for name in "${!PIDS[@]}"; do kill -TERM -- "-${PIDS[$name]}" 2>/dev/null || true; done
  for ((i = 0; i < STOP_GRACE * 4; i++)); do
    remaining=0
    for pid in "${PIDS[@]}"; do alive "$pid" && remaining=1; done
    ((remaining)) || break
    sleep 0.25
  done
  for name in "${!PIDS[@]}"; do
    pid="${PIDS[$name]}"
    if alive "$pid"; then
      log "$name (pid $pid) did not stop within ${STOP_GRACE}s; SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  PIDS=()
}

cleanup() {
  local status=$?
  ((STOPPING)) && return
  STOPPING=1
  set +e
  stop_services
  if ((KAFKA_OURS)); then
    log "stopping Kafka (started by this script)"
    bash "$ROOT/deploy/local/kafka.sh" stop
  fi
  if ((KAFKA_CLUSTER_OURS)); then
    log "stopping the Kafka cluster (started by this script)"
    bash "$ROOT/deploy/local/kafka.sh" cluster stop
  fi
  if ((IOT_MQTT_OURS)); then
    log "stopping the project's Mosquitto (started by this script)"
    bash "$ROOT/deploy/local/mosquitto.sh" stop
  fi
  exit "$status"
}

# A requested stop is a normal end of the stack: exit 0 once everything is down.
on_signal() {
  log "received SIG$1"
  exit 0
}

trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

# --- 1. dependencies ---------------------------------------------------------------------------
bash deploy/local/install.sh

# --- 2. infrastructure -------------------------------------------------------------------------
if ! bash deploy/local/kafka.sh status >/dev/null 2>&1; then KAFKA_OURS=1; fi
if ! bash deploy/local/mosquitto.sh status >/dev/null 2>&1; then IOT_MQTT_OURS=1; fi
bash deploy/local/infra.sh all
IOT_MQTT_ADMIN_PASSWORD="$(bash deploy/local/mosquitto.sh admin-password)"
if [[ "$KAFKA_MODE" == cluster ]]; then
  if ! bash deploy/local/kafka.sh cluster status >/dev/null 2>&1; then
    KAFKA_CLUSTER_OURS=1
    bash deploy/local/kafka.sh cluster start
  fi
  KAFKA_BROKERS="$(bash deploy/local/kafka.sh cluster brokers)"
fi

# --- 3. build ----------------------------------------------------------------------------------
if [[ "${CITYBASE_SKIP_BUILD:-}" == 1 ]]; then
  log "not building (CITYBASE_SKIP_BUILD=1)"
else
  log "building (npx nx run-many -t build)"
  npx nx run-many -t build
fi

missing=()
for name in "${SERVICES[@]}"; do
  [[ -f "services/$name/dist/main.js" ]] || missing+=("services/$name/dist/main.js")
done
if ((${#missing[@]})); then
  log "ERROR: the build produced no entry point for: ${missing[*]}"
  log "each service needs src/main.ts (compiled by its build target to dist/main.js)"
  exit 1
fi

for name in "${SERVICES[@]}"; do
  for ((r = 0; r < REPLICAS; r++)); do
    for port in "$(grpc_port "$name" "$r")" "$(http_port "$name" "$r")"; do
      if port_open "$port"; then
        log "ERROR: port $port ($(proc_key "$name" "$r")) is already in use; is another stack running?"
        exit 1
      fi
    done
  done
done

# --- 4. services -------------------------------------------------------------------------------
mkdir -p "$LOG_DIR"
# The local city's secrets live with its machine-wide databases (infra.sh state-dir): identity's
# master key (personal data, signing keys) and payment's channel-credentials key, from the
# environment or generated once; the bootstrap admin client's credentials (step 5b).
STATE_DIR="$(CITY_ID="$CITY_ID" bash deploy/local/infra.sh state-dir)"
(umask 077 && mkdir -p "$STATE_DIR")
NEW_IDENTITY_KEY=0
secret_from_state() { # <variable> <file>
  local var="$1" file="$STATE_DIR/$2"
  if [[ -z "${!var:-}" ]]; then
    if [[ ! -s "$file" ]]; then
      (umask 077 && node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64'))" >"$file")
      log "generated $var in $file"
      [[ "$var" == IDENTITY_MASTER_KEY ]] && NEW_IDENTITY_KEY=1
    fi
    printf -v "$var" '%s' "$(cat "$file")"
  fi
  export "${var?}"
}
secret_from_state IDENTITY_MASTER_KEY identity-master.key
secret_from_state PAYMENT_CREDENTIALS_KEY payment-credentials.key
# the access log's Ed25519 seed (data: signs the Merkle checkpoints of feeds' access log)
secret_from_state DATA_SIGNING_KEY data-signing.key
if ((NEW_IDENTITY_KEY)) &&
  [[ "$(psql "$(database_url identity)" -qtAX -c "SELECT count(*) FROM signing_keys" 2>/dev/null || echo 0)" != 0 ]]; then
  log "ERROR: the local identity database holds data sealed with a master key that is gone"
  log "(its state directory was removed). Start a new local city with: bash deploy/local/infra.sh reset-city"
  rm -f "$STATE_DIR/identity-master.key"
  exit 1
fi
# Services that call other services (docs/adr/0010-service-to-service-calls.md) authenticate as
# their own API client at identity: created once per local city in step 5c, its credentials kept
# in the state directory as <name>-client.json and passed as <NAME>_CLIENT_ID / _CLIENT_SECRET.
CALLING_SERVICES=(marketing payment iot)
client_env() { # <name>: the service's own client credentials as env assignments, if it has them
  local file="$STATE_DIR/$1-client.json" upper
  upper="$(tr '[:lower:]' '[:upper:]' <<<"$1")"
  [[ -s "$file" ]] || return 0
  node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`${process.argv[2]}_CLIENT_ID=${c.client_id}`);
    console.log(`${process.argv[2]}_CLIENT_SECRET=${c.client_secret}`);' "$file" "$upper"
}
start_service() { # <name> [replica, default 0]
  local name="$1" r="${2:-0}" key extra=() jwks_port
  key="$(proc_key "$name" "$r")"
  mapfile -t extra < <(client_env "$name")
  [[ -n "${DATABASE_POOL_SIZE:-}" ]] && extra+=("DATABASE_POOL_SIZE=$DATABASE_POOL_SIZE")
  # identity's replicas each serve the city's keys; every other process asks identity replica 0
  jwks_port="${HTTP_PORT[identity]}"
  [[ "$name" == identity ]] && jwks_port="$(http_port identity "$r")"
  # setsid: each service leads its own process group, so a terminal Ctrl-C reaches only this
  # script, which then stops the services in order (and their children with them).
  env GRPC_PORT="$(grpc_port "$name" "$r")" HTTP_PORT="$(http_port "$name" "$r")" \
    DATABASE_URL="$(database_url "$name")" KAFKA_BROKERS="$KAFKA_BROKERS" \
    REDIS_URL="$REDIS_URL" MQTT_URL="$MQTT_URL" IOT_MQTT_URL="$IOT_MQTT_URL" \
    IOT_MQTT_ADMIN_PASSWORD="$IOT_MQTT_ADMIN_PASSWORD" CITY_ID="$CITY_ID" LOG_LEVEL="$LOG_LEVEL" \
    AUTH_JWKS_URL="http://127.0.0.1:$jwks_port/.well-known/jwks.json" \
    IDENTITY_GRPC_URL="$(grpc_target identity)" PAYMENT_GRPC_URL="$(grpc_target payment)" \
    SETTLEMENT_GRPC_URL="$(grpc_target settlement)" POINTS_GRPC_URL="$(grpc_target points)" \
    MARKETING_GRPC_URL="$(grpc_target marketing)" "${extra[@]}" \
    setsid node --enable-source-maps "services/$name/dist/main.js" >>"$LOG_DIR/$key.log" 2>&1 </dev/null &
  PIDS[$key]=$!
}
# waits until a process answers /readyz 200 (READY_TIMEOUT); 1 when it exited or did not
wait_ready() { # <process key> <HTTP port>
  local key="$1" port="$2" i
  for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
    alive "${PIDS[$key]}" || return 1
    [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)" == 200 ]] && return 0
    sleep 0.5
  done
  return 1
}
# replica 0 of each service first: it alone migrates the database; the others start in step 5d
for name in "${SERVICES[@]}"; do
  : >"$LOG_DIR/$name.log"
  start_service "$name" 0
done
# The sandbox payment channel (docs/sandbox-channel.md): the provider stand-in of the local city.
SANDBOX_PORT="${SANDBOX_PORT:-8090}"
if port_open "$SANDBOX_PORT"; then
  log "ERROR: port $SANDBOX_PORT (sandbox channel) is already in use; is another stack running?"
  exit 1
fi
env SANDBOX_PORT="$SANDBOX_PORT" SANDBOX_AUTO_PAY="${SANDBOX_AUTO_PAY:-success}" \
  setsid node --enable-source-maps tools/sandbox-channel/dist/main.js >"$LOG_DIR/sandbox-channel.log" 2>&1 </dev/null &
PIDS[sandbox-channel]=$!
log "started ${SERVICES[*]}; waiting for /readyz (up to ${READY_TIMEOUT}s)"

# --- 5. readiness ------------------------------------------------------------------------------
declare -A READY=() LAST_CODE=()
deadline=$((SECONDS + READY_TIMEOUT))
while ((${#READY[@]} < ${#SERVICES[@]})); do
  for name in "${SERVICES[@]}"; do
    [[ -n "${READY[$name]:-}" ]] && continue
    if ! alive "${PIDS[$name]}"; then
      status=0; wait "${PIDS[$name]}" || status=$?
      unset 'PIDS[$name]'
      log "ERROR: $name exited during startup (status $status)"
      show_log_tail "$name"
      exit 1
    fi
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:${HTTP_PORT[$name]}/readyz" || true)"
    LAST_CODE[$name]="$code"
    [[ "$code" == 200 ]] && READY[$name]=1
  done
  ((${#READY[@]} == ${#SERVICES[@]})) && break
  if ((SECONDS >= deadline)); then
    for name in "${SERVICES[@]}"; do
      [[ -n "${READY[$name]:-}" ]] && continue
      log "ERROR: $name not ready after ${READY_TIMEOUT}s (GET /readyz -> ${LAST_CODE[$name]:-no answer})"
      show_log_tail "$name"
    done
    exit 1
  fi
  sleep 0.5
done

sandbox_ready=0
for ((i = 0; i < 60; i++)); do
  if [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$SANDBOX_PORT/healthz" || true)" == 200 ]]; then
    sandbox_ready=1
    break
  fi
  alive "${PIDS[sandbox-channel]}" || break
  sleep 0.5
done
if ((!sandbox_ready)); then
  log "ERROR: the sandbox channel did not answer /healthz on port $SANDBOX_PORT"
  show_log_tail sandbox-channel
  exit 1
fi

# --- 5b. the city's first admin client --------------------------------------------------------
# Once per local database: `citybase init` creates the bootstrap admin client and saves its
# credentials (mode 0600) for the operator's later `citybase` commands.
ADMIN_FILE="$STATE_DIR/city-admin.json"
if [[ ! -s "$ADMIN_FILE" ]]; then
  if DATABASE_URL="$(database_url identity)" CITY_ID="$CITY_ID" \
    node tools/cli/bin/citybase.js init --name "City admin" --save "$ADMIN_FILE" >/dev/null; then
    log "city initialised: admin client credentials in $ADMIN_FILE"
  else
    log "citybase init did not create an admin client (see above); use the credentials you saved earlier"
  fi
fi

# --- 5c. the calling services' own clients ----------------------------------------------------
# Once per local city, with the admin client: an API client per calling service with the scopes
# its calls need; a service started without it (the first run) is restarted with it.
for name in "${CALLING_SERVICES[@]}"; do
  file="$STATE_DIR/$name-client.json"
  [[ -s "$file" || ! -s "$ADMIN_FILE" ]] && continue
  case "$name" in
    marketing) scopes="payment:write,payment:read,payment:refund,settlement:write,city:admin" ;;
    # checkouts (docs/payment-checkout.md): reserve, confirm and cancel points and coupons
    payment) scopes="points:write,points:read,marketing:redeem,marketing:claim,city:admin" ;;
    iot) scopes="payment:write,payment:read,city:admin" ;; # city-wide: a client bound to no operator acts in none without it (libs/platform auth/claims.ts)
  esac
  if ! CITYBASE_IDENTITY_URL="http://127.0.0.1:${HTTP_PORT[identity]}" \
    CITYBASE_IDENTITY_GRPC="127.0.0.1:${GRPC_PORT[identity]}" \
    node tools/cli/bin/citybase.js client create --name "$name service" --scope "$scopes" \
    --credentials "$ADMIN_FILE" --save "$file" >/dev/null; then
    log "ERROR: could not create $name's own API client (see above)"
    exit 1
  fi
  log "created $name's own API client ($file); restarting $name with it"
  pid="${PIDS[$name]}"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE * 4; i++)); do alive "$pid" || break; sleep 0.25; done
  if alive "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  start_service "$name" 0
  if ! wait_ready "$name" "${HTTP_PORT[$name]}"; then
    log "ERROR: $name did not come back ready with its own client"
    show_log_tail "$name"
    exit 1
  fi
done

# --- 5d. the other replicas (--replicas N) -----------------------------------------------------
# On the migrated databases, with the calling services' clients: the same configuration, own ports.
if ((REPLICAS > 1)); then
  for name in "${SERVICES[@]}"; do
    for ((r = 1; r < REPLICAS; r++)); do
      : >"$LOG_DIR/$(proc_key "$name" "$r").log"
      start_service "$name" "$r"
    done
  done
  log "started replicas 1-$((REPLICAS - 1)) of every service; waiting for /readyz (up to ${READY_TIMEOUT}s each)"
  for name in "${SERVICES[@]}"; do
    for ((r = 1; r < REPLICAS; r++)); do
      key="$(proc_key "$name" "$r")"
      if ! wait_ready "$key" "$(http_port "$name" "$r")"; then
        log "ERROR: $key not ready (GET http://127.0.0.1:$(http_port "$name" "$r")/readyz)"
        show_log_tail "$key"
        exit 1
      fi
    done
  done
fi

printf '\nCitybase is up (city %s%s)\n' "$CITY_ID" "$( ((REPLICAS > 1)) && printf ', %s replicas of each service' "$REPLICAS")"
printf '  %-11s %-17s %-23s %s\n' SERVICE gRPC HTTP LOG
for name in "${SERVICES[@]}"; do
  for ((r = 0; r < REPLICAS; r++)); do
    key="$(proc_key "$name" "$r")"
    printf '  %-11s %-17s %-23s %s\n' "$key" "127.0.0.1:$(grpc_port "$name" "$r")" \
      "http://127.0.0.1:$(http_port "$name" "$r")" "${LOG_DIR#"$ROOT/"}/$key.log"
  done
done
printf '  %-11s %-17s %-23s %s\n' sandbox - "http://127.0.0.1:$SANDBOX_PORT" "${LOG_DIR#"$ROOT/"}/sandbox-channel.log"
printf '  Kafka %s   PostgreSQL %s   Redis %s   MQTT %s   iot MQTT %s\n' "$KAFKA_BROKERS" "$(database_url '<name>')" "$REDIS_URL" "$MQTT_URL" "$IOT_MQTT_URL"
[[ -s "$ADMIN_FILE" ]] && printf '  City admin client credentials: %s (see README: citybase)\n' "$ADMIN_FILE"
printf 'Ctrl-C stops the stack.\n\n'

# --- 6. the city comes alive --------------------------------------------------------------------
# The simulator builds a new city of this run through the public APIs (operators, communities,
# households, devices on the project's Mosquitto, an agency) and runs a day of life at SIM_RATE.
# Its live summary goes to this terminal (stdout), its progress and invariant checks to its log.
if [[ "$SIM_RATE" =~ ^0+([.]0+)?$ ]]; then
  log "no demo load (rate 0)"
elif [[ ! -s "$ADMIN_FILE" ]]; then
  log "no demo load: the simulator needs the city admin's credentials ($ADMIN_FILE)"
else
  : >"$LOG_DIR/simulator.log"
  env IDENTITY_GRPC_URL="$(grpc_target identity)" PAYMENT_GRPC_URL="$(grpc_target payment)" \
    SETTLEMENT_GRPC_URL="$(grpc_target settlement)" POINTS_GRPC_URL="$(grpc_target points)" \
    MARKETING_GRPC_URL="$(grpc_target marketing)" IOT_GRPC_URL="$(grpc_target iot)" \
    DATA_GRPC_URL="$(grpc_target data)" IDENTITY_HTTP_URL="$(identity_http_urls)" \
    SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT" IOT_MQTT_URL="$IOT_MQTT_URL" \
    SETTLEMENT_DATABASE_URL="$(database_url settlement)" \
    setsid node --enable-source-maps tools/simulator/dist/main.js --rate "$SIM_RATE" \
    --credentials "$ADMIN_FILE" 2>>"$LOG_DIR/simulator.log" </dev/null &
  PIDS[simulator]=$!
  log "the city simulator runs at $SIM_RATE operations/s (npm start -- --rate N; 0: none); log ${LOG_DIR#"$ROOT/"}/simulator.log"
fi
printf '\nDashboard: http://127.0.0.1:%s/dashboard\n' "${HTTP_PORT[data]}"
printf '  sign in with the client_id and client_secret of %s\n' "$ADMIN_FILE"
printf '  (the city admin sees the whole city; an operator client sees its own projects)\n\n'

# --- 7. run until stopped ----------------------------------------------------------------------
# Returns when a service exits on its own; a signal runs on_signal instead. The simulator ending on
# its own (its duration, or a failure) leaves the stack running.
while :; do
  exited=""
  status=0
  wait -n -p exited "${PIDS[@]}" || status=$?
  if [[ -n "${PIDS[simulator]:-}" && "${PIDS[simulator]}" == "$exited" ]]; then
    unset 'PIDS[simulator]'
    log "the simulator ended (status $status; see ${LOG_DIR#"$ROOT/"}/simulator.log); the stack keeps running"
    continue
  fi
  break
done
for name in "${!PIDS[@]}"; do
  if [[ "${PIDS[$name]}" == "$exited" ]]; then
    unset 'PIDS[$name]'
    log "ERROR: $name exited on its own (status $status); stopping the stack"
    show_log_tail "$name"
  fi
done
exit 1
