// patches/kafkajs+2.2.4.patch (applied by `npm ci`'s postinstall, patch-package): kafkajs's record
// encoder allocated a zero-filled 512-byte buffer for every record and every header and an array
// plus a Buffer for every varint; the patch sizes the record's buffer, writes its headers into it
// (no object and no encoder per header), writes varints in place and a number's varlong without
// Long objects. The wire format must not change: these bytes are what kafkajs 2.2.4 writes without
// the patch (checked against an unpatched copy, and 20,000 random records compared each time the
// patch was changed).
export {};

const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => { buffer: Buffer };
const Header = require('kafkajs/src/protocol/recordBatch/header/v0') as (h: object) => { buf: Buffer };
const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
  writeVarInt(v: number): unknown;
  buffer: Buffer;
};
const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): unknown };
type Enc = {
  writeVarLong(v: unknown): Enc;
  writeInt32(v: number): Enc;
  writeEncoderArray(a: Enc[]): Enc;
  buffer: Buffer;
};
const Encoders = Encoder as unknown as new (size?: number) => Enc;
const EncoderStatics = Encoder as unknown as { sizeOfVarLong(v: unknown): number };

describe('kafkajs record encoding (patched)', () => {
  it('writes the same bytes as unpatched kafkajs 2.2.4', () => {
    const record = Record({
      offsetDelta: 300,
      timestampDelta: Long.fromNumber(1_234_567),
      key: Buffer.from('device-1'),
      value: Buffer.from([1, 2, 3]),
      headers: {
        ce_type: 'citybase.iot.v1.TelemetryReported',
        ce_id: Buffer.from('id-1'),
        multi: ['a', 'bc'],
      },
    });
    const hex = (text: string) => Buffer.from(text).toString('hex');
    // a header: key length, key, value length, value (lengths as zigzag varints)
    const header = (key: string, value: string, keyLen: string, valueLen: string) =>
      keyLen + hex(key) + valueLen + hex(value);
    expect(record.buffer.toString('hex')).toBe(
      'b60100' + // length 91 (zigzag varint), attributes
        '8eda9601' + // timestampDelta 1,234,567 (zigzag varlong)
        'd804' + // offsetDelta 300
        ('10' + hex('device-1')) + // key
        '06010203' + // value
        '08' + // 4 headers
        header('ce_type', 'citybase.iot.v1.TelemetryReported', '0e', '42') +
        header('ce_id', 'id-1', '0a', '08') +
        header('multi', 'a', '0a', '02') +
        header('multi', 'bc', '0a', '04'),
    );
  });

  it('writes varints at their boundaries as before', () => {
    const hex = (v: number) => {
      const e = new Encoder();
      e.writeVarInt(v);
      return e.buffer.toString('hex');
    };
    expect([0, -1, 63, -64, 64, 8191, 8192, 2 ** 31 - 1, -(2 ** 31)].map(hex)).toEqual([
      '00',
      '01',
      '7e',
      '7f',
      '8001',
      'fe7f',
      '808001',
      'feffffff0f',
      'ffffffff0f',
    ]);
  });

  it('writes a timestamp delta given as a number as it writes the same value as a Long', () => {
    const values = [
      0,
      1,
      -1,
      63,
      -64,
      64,
      8191,
      8192,
      2 ** 31,
      -(2 ** 31),
      2 ** 35 + 7,
      2 ** 49 - 1,
      -(2 ** 49),
    ];
    for (const v of [...values, 1_796_668_141_845]) {
      const asNumber = new Encoders().writeVarLong(v).buffer.toString('hex');
      expect(asNumber).toBe(new Encoders().writeVarLong(Long.fromNumber(v)).buffer.toString('hex'));
      expect(EncoderStatics.sizeOfVarLong(v)).toBe(asNumber.length / 2);
    }
    // 1,234,567 as in the golden record above, and -1 (zigzag 1)
    expect(new Encoders().writeVarLong(1_234_567).buffer.toString('hex')).toBe('8eda9601');
    expect(new Encoders().writeVarLong(-1).buffer.toString('hex')).toBe('01');
  });

  it('copies encoders one after another, as before', () => {
    const parts = ['0a', '0b0c', ''].map((h) => {
      const e = new Encoders();
      e.writeInt32(parseInt(h || '0', 16));
      return e;
    });
    const out = new Encoders(4).writeInt32(7).writeEncoderArray(parts);
    expect(out.buffer.toString('hex')).toBe('00000007' + '0000000a' + '00000b0c' + '00000000');
  });

  it('refuses a header value that is neither a string nor a Buffer, as before', () => {
    expect(() => Record({ key: 'k', value: Buffer.from('v'), headers: { h: null } })).toThrow(
      /"string" argument must be/,
    );
    expect(() => Record({ key: 'k', value: Buffer.from('v'), headers: { h: undefined } })).toThrow(
      /"string" argument must be/,
    );
  });

  it('is the patched kafkajs: a header gets a buffer of its size, not 512 bytes', () => {
    expect(Header({ key: 'ce_id', value: Buffer.from('id-1') }).buf.length).toBeLessThan(64);
  });
});
