import { parseDeviceMessage } from './ingest.domain';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parsing device messages', () => {
  it('reads telemetry with its id, clock and readings', () => {
    const r = parseDeviceMessage(
      'telemetry',
      json({ id: 's-1', ts: '2026-12-06T07:00:00Z', readings: { temperature_c: 21.5 } }),
    );
    expect(r).toEqual({
      ok: true,
      message: {
        channel: 'telemetry',
        messageId: 's-1',
        ts: new Date('2026-12-06T07:00:00Z'),
        readings: [{ metric: 'temperature_c', value: 21.5 }],
        eventType: '',
      },
    });
  });

  it('refuses what is not JSON of the shape, naming why', () => {
    expect(parseDeviceMessage('telemetry', Buffer.from('{'))).toEqual({ ok: false, reason: 'malformed' });
    expect(parseDeviceMessage('telemetry', json({ readings: { a: 1 } }))).toEqual({
      ok: false,
      reason: 'no_message_id',
    });
    expect(parseDeviceMessage('telemetry', json({ id: 'x', readings: {} }))).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(parseDeviceMessage('telemetry', json({ id: 'x', readings: { t: 'hot' } }))).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(parseDeviceMessage('telemetry', json({ id: 'x', ts: 'yesterday', readings: { t: 1 } }))).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(
      parseDeviceMessage('telemetry', json({ id: 'x', ts: 1_796_668_141_845, readings: { t: 1 } })),
    ).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(parseDeviceMessage('alarms', json({ id: 'x', type: 'SMOKE', active: 'yes' }))).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(parseDeviceMessage('state', json({ id: 'x', online: true }))).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('keeps every reading in the order sent, a "__proto__" metric refused like any other bad name', () => {
    const r = parseDeviceMessage('telemetry', json({ id: 'r', readings: { b_2: 2, a_1: 1, z: -0.5 } }));
    expect(r.ok && r.message.readings).toEqual([
      { metric: 'b_2', value: 2 },
      { metric: 'a_1', value: 1 },
      { metric: 'z', value: -0.5 },
    ]);
    const proto = Buffer.from('{"id":"p","readings":{"t":1,"__proto__":{"x":1}}}');
    expect(parseDeviceMessage('telemetry', proto)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('reads alarms and lifecycle messages', () => {
    const a = parseDeviceMessage(
      'alarms',
      json({ id: 'a', type: 'SMOKE', active: true, severity: 'CRITICAL', value: 500 }),
    );
    expect(a.ok && a.message.alarm).toEqual({
      type: 'SMOKE',
      active: true,
      severity: 'CRITICAL',
      value: 500,
    });
    const s = parseDeviceMessage('state', json({ id: 'w', online: false, session: 17, reason: 'last_will' }));
    expect(s.ok && s.message.state).toEqual({ online: false, session: 17n, reason: 'last_will' });
  });
});
