#!/usr/bin/env bash
# `npm run bench [-- args]`: performance measurements (ARCHITECTURE.md section 9: reports carry the
# machine's raw baselines measured in the same run; no timed tests elsewhere).
# Brings up local infrastructure, builds, then runs tools/bench with the given arguments.
# Without tools/bench/dist/main.js there is nothing to measure: it says so and exits 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BENCH="tools/bench/dist/main.js"
# Same endpoints as npm test (deploy/local/test.sh); the environment wins.
export PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-$PGURL}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export MQTT_URL="${MQTT_URL:-mqtt://127.0.0.1:1883}"
export IOT_MQTT_URL="${IOT_MQTT_URL:-mqtt://127.0.0.1:${IOT_MQTT_PORT:-1885}}"   # the project's own broker (mosquitto.sh)

bash deploy/local/install.sh
bash deploy/local/infra.sh all
echo "[bench] building (npx nx run-many -t build)" >&2
npx nx run-many -t build

if [[ ! -f "$BENCH" ]]; then
  echo "[bench] no benchmarks exist yet ($BENCH not found); they come with later issues" >&2
  exit 1
fi
exec node --enable-source-maps "$BENCH" "$@"
