#!/usr/bin/env bash
# Real single-node Apache Kafka (KRaft) from Maven Central jars, run with the JDK.
#   deploy/local/kafka.sh fetch|format|start|wait|stop|status|restart|reset
# Idempotent: "start" fetches and formats when needed and does nothing when the broker already runs.
# Everything lives under .local/kafka (git-ignored; CITYBASE_LOCAL_DIR moves .local, KAFKA_LIB_DIR the
# jars: deploy/local/netns.sh runs a broker of its own that way). Version: deploy/local/kafka/pom.xml, ADR 0002.
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

case "${1:-start}" in
  fetch) fetch ;;
  format) format ;;
  start) start ;;
  wait) wait_ready "${2:-90}" ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if pid="$(running_pid)"; then echo "running pid=$pid port=$PORT"; else echo "stopped"; exit 1; fi ;;
  reset) stop; rm -rf "$DATA" "$LOGS" ;;
  *) echo "usage: $0 fetch|format|start|wait|stop|status|restart|reset" >&2; exit 2 ;;
esac
