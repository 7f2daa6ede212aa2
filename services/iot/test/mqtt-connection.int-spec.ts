import mqtt from 'mqtt';
import { testEndpoints, uniqueName } from '@citybase/platform/testing';
import { MessageHandler, MqttConnection, servicePassword } from '../src/mqtt';
import { IotHarness, startIotHarness, waitFor } from './iot-harness';

/**
 * iot's ingest connection mostly receives. mqtt.js takes a connection for dead when no PINGRESP
 * (or ack of its own publishes) arrived within 1.5 x keepalive, and a PINGRESP waits behind every
 * PUBLISH the broker already wrote to the socket: with a backlog longer than that to read, it
 * closed the connection, dropped the held PUBACKs and reconnected, over and over (bench iot under
 * load: every ~45 s at keepalive 30). Incoming PUBLISHes now count as liveness.
 */
describe('iot: the MQTT connection stays up while it reads a backlog (project Mosquitto)', () => {
  let h: IotHarness;
  beforeAll(async () => {
    h = await startIotHarness('mqtt-keepalive'); // its boot creates the service's broker user
  });
  afterAll(() => h?.stop());

  it('receives a backlog that takes longer to read than 1.5 x keepalive on one connection, each message once', async () => {
    const admin = testEndpoints.iotMqttAdmin();
    const username = `iot-${h.topicRoot}`;
    const password = servicePassword(admin.password, username);
    const topic = `${h.topicRoot}/_iot/keepalive-test`;
    const clientId = uniqueName('iot-ka');
    const events: string[] = [];
    const connection = (onMessage: MessageHandler) => {
      const c = new MqttConnection({
        url: testEndpoints.iotMqttUrl(),
        username,
        password,
        clientId,
        clean: false,
        sessionExpiryS: 120,
        keepaliveS: 2, // mqtt.js pings after 2 s without a sign of life and gives up 1 s later
        onEvent: (e, detail) => events.push(detail ? `${e}: ${detail}` : e),
      });
      void c.subscribe(topic, onMessage, { ackAfterHandled: true });
      return c;
    };

    // the session subscribes, then the broker queues N messages for it while it is away
    const first = connection(() => undefined);
    await first.connect();
    await waitFor('subscribed', async () => (first.connected ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    await first.end();

    const N = 1_000;
    const publisher = await mqtt.connectAsync(testEndpoints.iotMqttUrl(), {
      username,
      password,
      clientId: uniqueName('iot-ka-pub'),
      protocolVersion: 5,
    });
    // 2 KB each: a socket read holds about 30 of them, and mqtt.js handles a read's packets without
    // going back to the event loop, so its PUBACKs reach the broker at least every 0.3 s or so and
    // the broker never times the client out itself
    const pad = 'x'.repeat(2_000);
    await Promise.all(
      Array.from({ length: N }, (_, i) => publisher.publishAsync(topic, `${i}:${pad}`, { qos: 1 })),
    );
    await publisher.endAsync();

    // each message costs 10 ms of the event loop: what the broker has sent ahead of a PINGRESP
    // (up to its in-flight window, 1,000 messages, deploy/local/mosquitto) takes longer to read
    // than the 1 s mqtt.js waits for one
    const seen = new Map<string, number>();
    const second = connection((_topic, payload) => {
      const until = Date.now() + 10;
      while (Date.now() < until);
      const id = payload.toString().split(':')[0]!;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    });
    events.length = 0;
    await second.connect();
    try {
      await waitFor('every queued message read', async () => (seen.size === N ? true : undefined), 60_000);
      expect(events.filter((e) => !e.startsWith('connect'))).toEqual([]); // no offline, no reconnect
      expect([...seen.values()].filter((n) => n > 1)).toEqual([]); // none sent again
    } finally {
      await second.end();
    }
  }, 90_000);

  it('has at most its Receive Maximum of messages unacknowledged: the rest wait at the broker until PUBACKs free the window', async () => {
    const admin = testEndpoints.iotMqttAdmin();
    const username = `iot-${h.topicRoot}`;
    const topic = `${h.topicRoot}/_iot/window-test`;
    const held: (() => void)[] = [];
    const received: string[] = [];
    const c = new MqttConnection({
      url: testEndpoints.iotMqttUrl(),
      username,
      password: servicePassword(admin.password, username),
      clientId: uniqueName('iot-win'),
      clean: false,
      sessionExpiryS: 120,
      receiveMaximum: 10,
    });
    // every PUBACK waits until the test releases it (as ingest's waits for Kafka)
    void c.subscribe(
      topic,
      (_topic, payload) => {
        received.push(payload.toString());
        return new Promise<void>((resolve) => held.push(resolve));
      },
      { ackAfterHandled: true },
    );
    await c.connect();
    const publisher = await mqtt.connectAsync(testEndpoints.iotMqttUrl(), {
      username,
      password: servicePassword(admin.password, username),
      clientId: uniqueName('iot-win-pub'),
      protocolVersion: 5,
    });
    try {
      await waitFor('subscribed', async () => (c.connected ? true : undefined));
      await new Promise((r) => setTimeout(r, 200));
      const N = 50;
      await Promise.all(
        Array.from({ length: N }, (_, i) => publisher.publishAsync(topic, `${i}`, { qos: 1 })),
      );
      await waitFor('the window full', async () => (received.length >= 10 ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      // the broker's own max_inflight_messages (1,000) would have let all 50 through
      expect(received).toHaveLength(10);
      expect(c.pendingAcks).toBe(10);
      // Mosquitto 2.0.11 (Debian's) sends past the window after a PUBACK
      // (eclipse-mosquitto/mosquitto#2301): the connection itself reads no further while 10 are
      // held, so never more than 10 are being handled, and every message still comes once
      let most = 0;
      while (received.length < N) {
        const before = received.length;
        held.splice(0, 3).forEach((release) => release());
        await waitFor('the next messages', async () => (received.length > before ? true : undefined));
        await new Promise((r) => setTimeout(r, 100));
        most = Math.max(most, c.pendingAcks, held.length);
      }
      expect(most).toBe(10);
      held.splice(0).forEach((release) => release());
      expect(new Set(received).size).toBe(N);
    } finally {
      await publisher.endAsync();
      await c.end();
    }
  }, 60_000);
});
