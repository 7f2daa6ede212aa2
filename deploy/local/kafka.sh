#!/usr/bin/env bash
# Real Apache Kafka (KRaft) from Maven Central jars, run with the JDK.
#   deploy/local/kafka.sh fetch|format|start|wait|stop|status|restart|reset
#     one broker+controller on 127.0.0.1:$KAFKA_PORT (9092) for development, tests and demos.
#     Idempotent: "start" fetches and formats when needed and does nothing when the broker already runs.
#   deploy/local/kafka.sh cluster start|stop|status|reset|brokers|pid N|start-node N|stop-node N
#     three broker+controller nodes (replication factor 3, min in-sync replicas 2) on
#     127.0.0.1:$KAFKA_CLUSTER_BASE_PORT+0..2 (19192-19194), controllers on +100..+102 (19292-19294),
#     data under $KAFKA_CLUSTER_DIR (.local/kafka-cluster); "brokers" prints the bootstrap list.
# Everything lives under .local (git-ignored; CITYBASE_LOCAL_DIR moves .local, KAFKA_LIB_DIR the jars:
# deploy/local/netns.sh runs a broker of its own that way). Version: deploy/local/kafka/pom.xml, ADR 0002.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/local/kafka"
BASE="${CITYBASE_LOCAL_DIR:-$ROOT/.local}/kafka"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${KAFKA_HEAP:-512m}"
LIB="${KAFKA_LIB_DIR:-$BASE/lib}" DATA="$BASE/data" LOGS="$BASE/logs" PIDFILE="$BASE/kafka.pid"

log() { printf '[kafka] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running_pid() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"; }
java_cp() { java -Xmx256m -cp "$LIB/*" "$@"; }

fetch() {
  local stamp="$LIB/.pom.sha"
  local want; want="$(sha1sum "$HERE/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  log "fetching Kafka jars from Maven Central"
  rm -rf "$LIB"; mkdir -p "$LIB"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB"
  echo "$want" > "$stamp"
}

render_config() {
  mkdir -p "$BASE" "$DATA" "$LOGS"
  sed -e "s#@DATA_DIR@#$DATA#" -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    "$HERE/server.properties.tmpl" > "$BASE/server.properties"
}

format() {
  fetch; render_config
  if [[ -f "$DATA/meta.properties" ]]; then return 0; fi
  local id; id="$(java_cp kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  log "formatting storage (cluster $id)"
  java_cp -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    kafka.tools.StorageTool format --standalone -t "$id" -c "$BASE/server.properties" >"$LOGS/format.log" 2>&1 \
    || { cat "$LOGS/format.log" >&2; exit 1; }
}

wait_ready() {
  local timeout="${1:-90}" i=0
  while (( i < timeout * 4 )); do
    if port_open "$PORT" && grep -q "Kafka Server started" "$LOGS/server.log" 2>/dev/null; then return 0; fi
    if ! running_pid >/dev/null; then log "broker process exited; last log lines:"; tail -30 "$LOGS/server.log" >&2 || true; return 1; fi
    sleep 0.25; i=$((i + 1))
  done
  log "broker not ready after ${timeout}s"; return 1
}

start() {
  if pid="$(running_pid)"; then log "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
  # A broker this checkout did not start (another checkout's, or an operator's) already listens:
  # use it rather than fail; "stop" leaves it alone since its pid is not ours.
  if port_open "$PORT"; then log "a broker not started from this checkout already listens on 127.0.0.1:$PORT; using it"; return 0; fi
  format
  : > "$LOGS/server.log"
  log "starting broker on 127.0.0.1:$PORT"
  nohup java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIB/*" kafka.Kafka "$BASE/server.properties" >"$LOGS/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  wait_ready 120
  log "ready on 127.0.0.1:$PORT"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; return 0; fi
  log "stopping broker (pid $pid)"
  kill "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }; sleep 0.25; done
  log "broker did not stop in 30s; killing"; kill -9 "$pid" 2>/dev/null || true; rm -f "$PIDFILE"
}

# ---- the 3-node cluster: the same jars, one process per node, each with its own ports and data ----
CLUSTER_DIR="${KAFKA_CLUSTER_DIR:-${CITYBASE_LOCAL_DIR:-$ROOT/.local}/kafka-cluster}"
CLUSTER_BASE_PORT="${KAFKA_CLUSTER_BASE_PORT:-19192}"
CLUSTER_NODES=(1 2 3)
node_port() { echo $((CLUSTER_BASE_PORT + $1 - 1)); }
node_controller_port() { echo $((CLUSTER_BASE_PORT + 100 + $1 - 1)); }
node_dir() { echo "$CLUSTER_DIR/node-$1"; }
node_pid() { local f; f="$(node_dir "$1")/kafka.pid"; [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
cluster_brokers() { local n out=(); for n in "${CLUSTER_NODES[@]}"; do out+=("127.0.0.1:$(node_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
check_node() { [[ "${1:-}" =~ ^[123]$ ]] || { echo "node must be 1, 2 or 3" >&2; exit 2; }; }

cluster_format() {
  fetch
  local n voters=() id
  for n in "${CLUSTER_NODES[@]}"; do voters+=("$n@127.0.0.1:$(node_controller_port "$n")"); done
  mkdir -p "$CLUSTER_DIR"
  if [[ -f "$CLUSTER_DIR/cluster.id" ]]; then id="$(cat "$CLUSTER_DIR/cluster.id")"
  else id="$(java_cp kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"; echo "$id" > "$CLUSTER_DIR/cluster.id"; fi
  for n in "${CLUSTER_NODES[@]}"; do
    local dir; dir="$(node_dir "$n")"
    mkdir -p "$dir/data" "$dir/logs"
    sed -e "s#@NODE_ID@#$n#" -e "s#@DATA_DIR@#$dir/data#" -e "s#@PORT@#$(node_port "$n")#g" \
      -e "s#@CONTROLLER_PORT@#$(node_controller_port "$n")#g" -e "s#@VOTERS@#$(IFS=,; echo "${voters[*]}")#" \
      "$HERE/cluster.properties.tmpl" > "$dir/server.properties"
    [[ -f "$dir/data/meta.properties" ]] && continue
    java_cp -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
      kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1 \
      || { cat "$dir/logs/format.log" >&2; exit 1; }
  done
}

# Starts node N (formatted already) unless it runs; does not wait.
node_start() {
  local n="$1" dir pid; dir="$(node_dir "$n")"
  if pid="$(node_pid "$n")"; then log "node $n already running (pid $pid)"; return 0; fi
  if port_open "$(node_port "$n")"; then log "127.0.0.1:$(node_port "$n") is taken by something else"; return 1; fi
  : > "$dir/logs/server.log"
  log "starting node $n on 127.0.0.1:$(node_port "$n") (controller $(node_controller_port "$n"))"
  nohup java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
    -cp "$LIB/*" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
}

node_wait() {
  local n="$1" timeout="${2:-120}" i=0 dir; dir="$(node_dir "$n")"
  while (( i < timeout * 4 )); do
    if port_open "$(node_port "$n")" && grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; then return 0; fi
    if ! node_pid "$n" >/dev/null; then log "node $n exited; last log lines:"; tail -30 "$dir/logs/server.log" >&2 || true; return 1; fi
    sleep 0.25; i=$((i + 1))
  done
  log "node $n not ready after ${timeout}s"; return 1
}

# Stops the given nodes together (one by one, the last would wait for a quorum that is gone).
nodes_stop() {
  local n pid pids=()
  for n in "$@"; do
    if pid="$(node_pid "$n")"; then log "stopping node $n (pid $pid)"; kill "$pid"; pids+=("$n:$pid"); fi
  done
  for entry in "${pids[@]}"; do
    n="${entry%%:*}" pid="${entry#*:}"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then log "node $n did not stop in 30s; killing"; kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$(node_dir "$n")/kafka.pid"
  done
}

cluster() {
  local n
  case "${1:-status}" in
    start)
      cluster_format
      for n in "${CLUSTER_NODES[@]}"; do node_start "$n"; done
      for n in "${CLUSTER_NODES[@]}"; do node_wait "$n" 180; done
      log "cluster ready on $(cluster_brokers)" ;;
    stop) nodes_stop "${CLUSTER_NODES[@]}" ;;
    status)
      local down=0
      for n in "${CLUSTER_NODES[@]}"; do
        if pid="$(node_pid "$n")"; then echo "node $n running pid=$pid port=$(node_port "$n")"
        else echo "node $n stopped"; down=1; fi
      done
      return "$down" ;;
    reset) nodes_stop "${CLUSTER_NODES[@]}"; rm -rf "$CLUSTER_DIR" ;;
    brokers) cluster_brokers ;;
    pid) check_node "${2:-}"; node_pid "$2" || { echo "node $2 is not running" >&2; return 1; } ;;
    start-node) check_node "${2:-}"; cluster_format; node_start "$2"; node_wait "$2" 180 ;;
    stop-node) check_node "${2:-}"; nodes_stop "$2" ;;
    *) echo "usage: $0 cluster start|stop|status|reset|brokers|pid N|start-node N|stop-node N" >&2; exit 2 ;;
  esac
}

case "${1:-start}" in
  cluster) shift; cluster "$@" ;;
  fetch) fetch ;;
  format) format ;;
  start) start ;;
  wait) wait_ready "${2:-90}" ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if pid="$(running_pid)"; then echo "running pid=$pid port=$PORT"; else echo "stopped"; exit 1; fi ;;
  reset) stop; rm -rf "$DATA" "$LOGS" ;;
  *) echo "usage: $0 fetch|format|start|wait|stop|status|restart|reset | cluster ..." >&2; exit 2 ;;
esac
