import { createHash, randomBytes, randomUUID } from 'crypto';
import { Registry } from 'prom-client';
import { IngestMetrics } from './ingest.metrics';
import { deviceEventId } from './ingest.service';

describe('IngestMetrics', () => {
  it('reads the pending count when /metrics is scraped, not when a message moves', async () => {
    const registry = new Registry();
    let pending = 7;
    new IngestMetrics(registry, () => pending);
    expect(await registry.getSingleMetricAsString('iot_ingest_pending')).toMatch(/^iot_ingest_pending 7$/m);
    pending = 0;
    expect(await registry.getSingleMetricAsString('iot_ingest_pending')).toMatch(/^iot_ingest_pending 0$/m);
  });

  it('counts received messages per channel through one child per channel', async () => {
    const registry = new Registry();
    const metrics = new IngestMetrics(registry, () => 0);
    expect(metrics.receivedOn('telemetry')).toBe(metrics.receivedOn('telemetry'));
    metrics.receivedOn('telemetry').inc();
    metrics.receivedOn('telemetry').inc();
    metrics.receivedOn('state').inc();
    const text = await registry.getSingleMetricAsString('iot_ingest_received_total');
    expect(text).toMatch(/^iot_ingest_received_total\{channel="telemetry"\} 2$/m);
    expect(text).toMatch(/^iot_ingest_received_total\{channel="state"\} 1$/m);
  });
});

describe('deviceEventId', () => {
  it('is the same UUID-shaped id for every copy of a device message, and another for another kind or message', () => {
    // pinned: a redelivered copy must get the id its first copy got, also across iot versions
    const id = deviceEventId(
      '7d3f8f4e-52a5-4c39-9f0e-2d4f5a0b1c2d',
      'm-1',
      'citybase.iot.v1.TelemetryReported',
    );
    expect(id).toBe(
      deviceEventId('7d3f8f4e-52a5-4c39-9f0e-2d4f5a0b1c2d', 'm-1', 'citybase.iot.v1.TelemetryReported'),
    );
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id).not.toBe(
      deviceEventId('7d3f8f4e-52a5-4c39-9f0e-2d4f5a0b1c2d', 'm-2', 'citybase.iot.v1.TelemetryReported'),
    );
    expect(id).not.toBe(
      deviceEventId('7d3f8f4e-52a5-4c39-9f0e-2d4f5a0b1c2d', 'm-1', 'citybase.iot.v1.AlarmSignal'),
    );
    // what the Hash-object version (createHash('sha1')) gave for this message
    expect(id).toBe('9bf4ac86-cc92-5d8d-9e91-639ffbc10a5f');
  });

  it('gives every message the id the hex-string version gave it', () => {
    // the earlier formatting, from the SHA-1's hex digits (ids must not change across versions)
    const earlier = (deviceId: string, messageId: string, kind: string) => {
      const h = createHash('sha1').update(`${kind}/${deviceId}/${messageId}`).digest('hex');
      const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
    };
    const cases = Array.from({ length: 2_000 }, (_, i) => [
      randomUUID(),
      i % 3 === 0 ? `设备-${i}` : randomBytes(i % 40).toString('base64url'),
      i % 2 === 0 ? 'citybase.iot.v1.TelemetryReported' : 'citybase.iot.v1.AlarmSignal',
    ]) as [string, string, string][];
    expect(cases.map((c) => deviceEventId(...c))).toEqual(cases.map((c) => earlier(...c)));
  });
});
