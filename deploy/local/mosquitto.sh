#!/usr/bin/env bash
# Citybase's own Mosquitto (issue 15) with the dynamic-security plugin, on its own port; the
# machine's broker on 1883 allows anonymous clients and is not ours.
#   deploy/local/mosquitto.sh start|stop|restart|status|url|admin-password|reset
# Idempotent: "start" initialises the dynamic-security file (admin account citybase-admin with a
# random password kept in the data dir) when missing and does nothing when the broker runs.
# Everything lives in the broker's data dir (default: <state dir>/mosquitto, see infra.sh state-dir),
# so a second checkout on this machine uses the same broker and accounts.
# Environment:
#   IOT_MQTT_PORT  listener port (default 1885)
#   IOT_MQTT_DIR   data dir (default <state dir>/mosquitto); tests give their own broker a temp dir
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/local/mosquitto"
PORT="${IOT_MQTT_PORT:-1885}"
DIR="${IOT_MQTT_DIR:-$(bash "$ROOT/deploy/local/infra.sh" state-dir)/mosquitto}"
PLUGIN="${MOSQUITTO_DYNSEC_PLUGIN:-/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so}"
ADMIN=citybase-admin
PIDFILE="$DIR/mosquitto.pid"

log() { printf '[mosquitto] %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running_pid() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"; }

init() {
  mkdir -p "$DIR/data"
  chmod 700 "$DIR"
  if [[ ! -s "$DIR/admin-password" ]]; then
    (umask 077; openssl rand -hex 24 > "$DIR/admin-password")
  fi
  if [[ ! -f "$DIR/dynamic-security.json" ]]; then
    [[ -f "$PLUGIN" ]] || { log "ERROR: dynamic-security plugin not found at $PLUGIN"; exit 1; }
    mosquitto_ctrl dynsec init "$DIR/dynamic-security.json" "$ADMIN" "$(cat "$DIR/admin-password")" >/dev/null
    log "initialised $DIR/dynamic-security.json (admin $ADMIN)"
  fi
  sed -e "s#@PORT@#$PORT#g" -e "s#@DIR@#$DIR#g" -e "s#@PLUGIN@#$PLUGIN#g" -e "s#@USER@#$(id -un)#g" \
    "$HERE/mosquitto.conf.tmpl" > "$DIR/mosquitto.conf"
}

start() {
  if pid="$(running_pid)"; then log "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
  if port_open "$PORT"; then log "ERROR: 127.0.0.1:$PORT is taken by a process that is not this broker"; exit 1; fi
  command -v mosquitto >/dev/null || { log "ERROR: mosquitto is not installed"; exit 1; }
  init
  rm -f "$PIDFILE"
  mosquitto -d -c "$DIR/mosquitto.conf"
  local i
  for ((i = 0; i < 120; i++)); do
    if port_open "$PORT" && running_pid >/dev/null; then log "ready on 127.0.0.1:$PORT ($DIR)"; return 0; fi
    sleep 0.25
  done
  log "ERROR: broker not ready after 30s; last log lines:"; tail -20 "$DIR/mosquitto.log" >&2 || true; exit 1
}

stop() {
  local pid i
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; return 0; fi
  log "stopping (pid $pid)"
  kill "$pid"
  for ((i = 0; i < 80; i++)); do kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }; sleep 0.25; done
  log "did not stop in 20s; killing"; kill -9 "$pid" 2>/dev/null || true; rm -f "$PIDFILE"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if pid="$(running_pid)"; then echo "running pid=$pid port=$PORT dir=$DIR"; else echo "stopped"; exit 1; fi ;;
  url) echo "mqtt://127.0.0.1:$PORT" ;;
  admin-password) init; cat "$DIR/admin-password" ;;
  reset) stop; rm -rf "$DIR" ;;
  *) echo "usage: $0 start|stop|restart|status|url|admin-password|reset" >&2; exit 2 ;;
esac
