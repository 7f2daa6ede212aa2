import mqttPacket from 'mqtt-packet';
import { pubackBytes } from './mqtt-connection';

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
