import mqttPacket from 'mqtt-packet';
import { filterLevels, levelsMatch, pubackBytes } from './mqtt-connection';

describe('pubackBytes', () => {
  it('writes the PUBACKs mqtt-packet generates for a success without properties, back to back', () => {
    const ids = [1, 255, 256, 4242, 65535];
    const expected = Buffer.concat(
      ids.map((messageId) =>
        mqttPacket.generate({ cmd: 'puback', messageId, reasonCode: 0 }, { protocolVersion: 5 }),
      ),
    );
    expect(pubackBytes(ids).toString('hex')).toBe(expected.toString('hex'));
    expect(pubackBytes(ids)).toHaveLength(4 * ids.length);
  });

  it('parses back as the same acknowledgements', () => {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const seen: number[] = [];
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'puback') seen.push(p.messageId ?? -1);
    });
    parser.parse(pubackBytes([7, 8, 9]));
    expect(seen).toEqual([7, 8, 9]);
  });
});

describe('topic filter matching', () => {
  const matches = (filter: string, topic: string) => levelsMatch(filterLevels(filter), topic.split('/'));

  it('matches + as one level and # as the rest, level by level', () => {
    expect(matches('city/+/devices/+/telemetry', 'city/p/devices/d/telemetry')).toBe(true);
    expect(matches('city/+/devices/+/telemetry', 'city/p/devices/d/events')).toBe(false);
    expect(matches('city/+/devices/+/telemetry', 'city/p/devices/telemetry')).toBe(false);
    expect(matches('city/+/devices/+/commands/ack', 'city/p/devices/d/commands/ack')).toBe(true);
    expect(matches('city/+/devices/+/commands/ack', 'city/p/devices/d/commands')).toBe(false);
    expect(matches('city/#', 'city/p/devices/d/state')).toBe(true);
    expect(matches('city/_iot/handback/iot-1', 'city/_iot/handback/iot-1')).toBe(true);
    expect(matches('city/_iot/handback/iot-1', 'city/_iot/handback/iot-2')).toBe(false);
  });

  it('matches a shared subscription by its filter without $share/<group>/', () => {
    expect(filterLevels('$share/iot/city/+/devices/+/alarms')).toEqual([
      'city',
      '+',
      'devices',
      '+',
      'alarms',
    ]);
    expect(matches('$share/iot/city/+/devices/+/alarms', 'city/p/devices/d/alarms')).toBe(true);
    expect(matches('$share/iot/city/+/devices/+/alarms', '$share/iot/city/p/devices/d/alarms')).toBe(false);
  });
});
