import { Duplex } from 'stream';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';

/**
 * patches/mqtt+5.16.0.patch (ADR 0012, docs/iot.md "Alarms under load"): mqtt.js handles the
 * packets of what it read one per process.nextTick, so a burst of device messages ran to its end
 * before any other I/O callback (PostgreSQL and Kafka replies of the alarm consumer and the outbox
 * relay) got its turn. Patched, it yields to the event loop every 64 packets. The packets come from
 * an in-process stream here: what is pinned is the client's packet loop, not a broker.
 */
describe('mqtt.js packet loop (patched)', () => {
  const burst = 200;

  function brokerStream(replies: Buffer): Duplex {
    let answered = false;
    const stream: Duplex = new Duplex({
      read: () => undefined,
      write(_chunk, _enc, done) {
        // the client's CONNECT: answer it and the burst in one chunk, as one socket read
        if (!answered) {
          answered = true;
          setImmediate(() => stream.push(replies));
        }
        done();
      },
    });
    return stream;
  }

  function replies(): Buffer {
    const opts = { protocolVersion: 5 as const };
    const packets = [
      mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false, reasonCode: 0 }, opts),
    ];
    for (let i = 0; i < burst; i++)
      packets.push(
        mqttPacket.generate(
          {
            cmd: 'publish',
            topic: 'city/p/devices/d/telemetry',
            payload: Buffer.from(String(i)),
            qos: 0,
            dup: false,
            retain: false,
          },
          opts,
        ),
      );
    return Buffer.concat(packets);
  }

  it('lets other callbacks run within a burst read at once, and still delivers every message in order', async () => {
    const data = replies();
    const client = new mqtt.MqttClient(() => brokerStream(data), {
      protocolVersion: 5,
      reconnectPeriod: 0,
      keepalive: 0,
      log: () => undefined,
    });
    try {
      const seen: number[] = [];
      let handledWhenImmediateRan = -1;
      const all = new Promise<void>((resolve) =>
        client.on('message', (_topic, payload) => {
          if (seen.length === 0) setImmediate(() => (handledWhenImmediateRan = seen.length));
          seen.push(Number(payload.toString()));
          if (seen.length === burst) resolve();
        }),
      );
      await all;
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual(Array.from({ length: burst }, (_, i) => i));
      // unpatched, the whole burst was handled before the immediate (200)
      expect(handledWhenImmediateRan).toBeGreaterThan(0);
      expect(handledWhenImmediateRan).toBeLessThanOrEqual(64);
    } finally {
      client.end(true);
    }
  });
});
