# Sourced by test.sh and chaos.sh: the endpoints the test kit takes from the environment (each suite
# gets its own databases and topics on these servers), and Nx without cloud or daemon.
export PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-$PGURL}"   # admin URL the test kit creates databases with
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:${KAFKA_PORT:-9092}}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export MQTT_URL="${MQTT_URL:-mqtt://127.0.0.1:1883}"
export IOT_MQTT_URL="${IOT_MQTT_URL:-mqtt://127.0.0.1:${IOT_MQTT_PORT:-1885}}"   # the project's own broker (mosquitto.sh)

# No Nx Cloud (no internet here) and no background daemon left behind by a CI run.
export NX_NO_CLOUD=true NX_DAEMON="${NX_DAEMON:-false}"
