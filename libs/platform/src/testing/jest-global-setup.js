// Jest globalSetup for every integration suite: make sure the real servers the tests talk to are
// there. Endpoints from the environment always win. Without them, local servers are used and
// started if down (deploy/local/infra.sh ensure: PostgreSQL, Redis, Mosquitto, Kafka from jars).
// Only where a container runtime exists and CITYBASE_TESTCONTAINERS=1 are containers used instead.
const net = require('net');
const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '../../../..');

function reachable(hostPort, timeoutMs = 1000) {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const hostPortOf = (url, defPort) => {
  const u = new URL(url);
  return `${u.hostname}:${u.port || defPort}`;
};

function endpoints() {
  return {
    postgres: hostPortOf(
      process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
      5432,
    ),
    redis: hostPortOf(process.env.REDIS_URL || 'redis://127.0.0.1:6379', 6379),
    mqtt: hostPortOf(process.env.MQTT_URL || 'mqtt://127.0.0.1:1883', 1883),
    // the project's own Mosquitto (deploy/local/mosquitto.sh), which infra.sh ensure starts
    iotMqtt: hostPortOf(process.env.IOT_MQTT_URL || 'mqtt://127.0.0.1:1885', 1885),
    kafka: (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',')[0].trim(),
  };
}

async function startContainers() {
  const { GenericContainer, Wait } = require('testcontainers');
  const pg = await new GenericContainer('postgres:15')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
    .start();
  const redis = await new GenericContainer('redis:7').withExposedPorts(6379).start();
  const mqtt = await new GenericContainer('eclipse-mosquitto:2')
    .withCommand(['mosquitto', '-c', '/mosquitto-no-auth.conf'])
    .withExposedPorts(1883)
    .start();
  const kafkaPort = 19092;
  const kafka = await new GenericContainer('apache/kafka:4.1.0')
    .withExposedPorts({ container: kafkaPort, host: kafkaPort })
    .withEnvironment({
      KAFKA_LISTENERS: `PLAINTEXT://:${kafkaPort},CONTROLLER://:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
    })
    .start();
  process.env.TEST_POSTGRES_URL = `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/postgres`;
  process.env.REDIS_URL = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  process.env.MQTT_URL = `mqtt://${mqtt.getHost()}:${mqtt.getMappedPort(1883)}`;
  process.env.KAFKA_BROKERS = `127.0.0.1:${kafkaPort}`;
  globalThis.__CITYBASE_CONTAINERS__ = [pg, redis, mqtt, kafka];
}

module.exports = async function globalSetup() {
  if (process.env.__CITYBASE_INFRA_CHECKED__) return;
  const configured = ['TEST_POSTGRES_URL', 'REDIS_URL', 'MQTT_URL', 'KAFKA_BROKERS'].some(
    (k) => process.env[k],
  );
  const containerRuntime = fs.existsSync('/var/run/docker.sock') || !!process.env.DOCKER_HOST;
  if (!configured && containerRuntime && process.env.CITYBASE_TESTCONTAINERS === '1') {
    await startContainers();
  }
  let down = [];
  for (const [name, hp] of Object.entries(endpoints())) if (!(await reachable(hp))) down.push(name);
  if (down.length > 0 && !configured) {
    execFileSync('bash', [path.join(ROOT, 'deploy/local/infra.sh'), 'ensure'], { stdio: 'inherit' });
    down = [];
    for (const [name, hp] of Object.entries(endpoints())) if (!(await reachable(hp))) down.push(name);
  }
  if (down.includes('iotMqtt') && !process.env.IOT_MQTT_URL) {
    // the project's own broker is this checkout's to start, whatever else is configured
    execFileSync('bash', [path.join(ROOT, 'deploy/local/mosquitto.sh'), 'start'], { stdio: 'inherit' });
    down = down.filter((n) => n !== 'iotMqtt');
  }
  if (down.length > 0) {
    throw new Error(
      `integration tests need real servers, and these do not answer: ${down.map((n) => `${n} (${endpoints()[n]})`).join(', ')}`,
    );
  }
  process.env.__CITYBASE_INFRA_CHECKED__ = '1';
};
