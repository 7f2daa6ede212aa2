import { Topics, UP_CHANNELS } from './topics';

describe('Topics.parse', () => {
  const topics = new Topics('city');

  it('reads project, device and channel of every device channel', () => {
    for (const channel of [...UP_CHANNELS, 'commands'] as const) {
      expect(topics.parse(`city/p-1/devices/meter.7/${channel}`)).toEqual({
        projectId: 'p-1',
        deviceId: 'meter.7',
        channel,
      });
    }
  });

  it('refuses topics outside the layout', () => {
    for (const topic of [
      'town/p-1/devices/d/telemetry', // another root
      'city/p-1/things/d/telemetry', // no devices level
      'city/p-1/devices/d/firmware', // no such channel
      'city/p-1/devices/d/commands/ack/x', // a level too many
      'city/p-1/devices/d', // no channel
      'city/p 1/devices/d/telemetry', // a project id that cannot be a level
      'city/_iot/handback/iot-1',
    ]) {
      expect(topics.parse(topic)).toBeUndefined();
    }
  });

  it('answers a topic seen before with the same frozen parts, and the same refusal', () => {
    const first = topics.parse('city/p-2/devices/d-2/telemetry');
    expect(topics.parse('city/p-2/devices/d-2/telemetry')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(topics.parse('city/p-2/devices/d-2/nope')).toBeUndefined();
    expect(topics.parse('city/p-2/devices/d-2/nope')).toBeUndefined();
  });

  it('stays right past the number of topics it keeps (120,000 distinct topics, each asked twice)', () => {
    const many = new Topics('city');
    let wrong = 0;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 120_000; i++) {
        const parsed = many.parse(`city/p/devices/d${i}/${i % 2 === 0 ? 'telemetry' : 'bad'}`);
        if (i % 2 === 0 ? parsed?.deviceId !== `d${i}` : parsed !== undefined) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });
});
