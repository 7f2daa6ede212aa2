import { ProviderError } from './errors';
import {
  parseCreateOrder,
  parseJsonObject,
  parseMerchant,
  parsePay,
  parseRefund,
  parseSplit,
  parseSplitReturn,
} from './requests';

const order = {
  outTradeNo: 'pay_01J9ZK3M',
  amount: '12345',
  currency: 'CNY',
  description: '停车费 March',
  notifyUrl: 'http://127.0.0.1:8082/channels/notify?c=1',
  expireAt: '2025-03-01T02:15:00.000Z',
  profitSharing: false,
};

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProviderError && err.status === 400 && err.code === 'PARAM_ERROR') return err.message;
    throw err;
  }
  throw new Error('expected PARAM_ERROR');
}

describe('request bodies', () => {
  it('parses a create-order body into typed values', () => {
    expect(parseCreateOrder(order)).toEqual({
      ...order,
      amount: 12_345n,
      expireAt: new Date('2025-03-01T02:15:00.000Z'),
    });
  });

  it.each([
    ['{', 'body: must be valid JSON'],
    ['[1]', 'body: must be a JSON object'],
    ['null', 'body: must be a JSON object'],
    ['"x"', 'body: must be a JSON object'],
    ['', 'body: must be valid JSON'],
  ])('refuses the raw body %p', (raw, message) => {
    expect(messageOf(() => parseJsonObject(Buffer.from(raw)))).toBe(message);
  });

  const AMOUNT_RULE = 'must be a string of a positive integer number of minor units (at most int64)';
  it.each([
    [{ outTradeNo: undefined }, 'outTradeNo: required'],
    [{ outTradeNo: '' }, 'outTradeNo: must be 1-64 characters of letters, digits, _ - . : | *'],
    [{ outTradeNo: 'a/b' }, 'outTradeNo: must be 1-64 characters of letters, digits, _ - . : | *'],
    [{ outTradeNo: 'x'.repeat(65) }, 'outTradeNo: must be 1-64 characters of letters, digits, _ - . : | *'],
    [{ amount: undefined }, 'amount: required'],
    [{ amount: 100 }, `amount: ${AMOUNT_RULE}`],
    [{ amount: '0' }, `amount: ${AMOUNT_RULE}`],
    [{ amount: '-5' }, `amount: ${AMOUNT_RULE}`],
    [{ amount: '1.5' }, `amount: ${AMOUNT_RULE}`],
    [{ amount: '007' }, `amount: ${AMOUNT_RULE}`],
    [{ amount: '1e3' }, `amount: ${AMOUNT_RULE}`],
    [{ amount: '9223372036854775808' }, `amount: ${AMOUNT_RULE}`],
    [{ currency: 'cny' }, 'currency: must be an ISO 4217 code, e.g. CNY'],
    [
      { description: 7 },
      'description: must be a string of at most 1024 characters without control characters',
    ],
    [
      { description: 'a\u0000b' },
      'description: must be a string of at most 1024 characters without control characters',
    ],
    [{ notifyUrl: 'ftp://x/y' }, 'notifyUrl: must be an absolute http(s) URL of at most 2048 characters'],
    [{ notifyUrl: '/relative' }, 'notifyUrl: must be an absolute http(s) URL of at most 2048 characters'],
    [
      { expireAt: '2025-03-01' },
      'expireAt: must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z',
    ],
    [
      { expireAt: '2025-02-30T00:00:00Z' },
      'expireAt: must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z',
    ],
    [
      { expireAt: '2025-13-01T00:00:00Z' },
      'expireAt: must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z',
    ],
    [
      { expireAt: '2025-01-01T24:00:00+08:00' },
      'expireAt: must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z',
    ],
    [
      { expireAt: 1740795300 },
      'expireAt: must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z',
    ],
    [{ profitSharing: 'false' }, 'profitSharing: must be true or false'],
    [{ profitSharing: undefined }, 'profitSharing: required'],
  ])('refuses an order with %p: %s', (over, message) => {
    expect(messageOf(() => parseCreateOrder({ ...order, ...over }))).toBe(message);
  });

  it('accepts expireAt with an offset', () => {
    expect(parseCreateOrder({ ...order, expireAt: '2025-03-01T10:15:00+08:00' }).expireAt).toEqual(
      new Date('2025-03-01T02:15:00Z'),
    );
  });

  it('accepts the largest int64 amount without losing a unit', () => {
    expect(parseCreateOrder({ ...order, amount: '9223372036854775807' }).amount).toBe(
      9_223_372_036_854_775_807n,
    );
  });

  it('checks refund, split, split-return, pay and merchant bodies field by field', () => {
    const refund = {
      outTradeNo: 'p',
      outRefundNo: 'r',
      amount: '1',
      total: '2',
      reason: '',
      notifyUrl: 'https://x/n',
    };
    expect(parseRefund(refund)).toMatchObject({ amount: 1n, total: 2n, reason: '' });
    expect(messageOf(() => parseRefund({ ...refund, total: '0' }))).toBe(`total: ${AMOUNT_RULE}`);
    expect(messageOf(() => parseRefund({ ...refund, outRefundNo: undefined }))).toBe('outRefundNo: required');

    const split = {
      outTradeNo: 'p',
      outSplitNo: 's',
      receivers: [{ account: 'a', amount: '10', description: 'fee' }],
      unfreezeRest: true,
    };
    expect(parseSplit(split).receivers).toEqual([{ account: 'a', amount: 10n, description: 'fee' }]);
    expect(messageOf(() => parseSplit({ ...split, receivers: [] }))).toBe(
      'receivers: must be a list of 1 to 50 receivers',
    );
    expect(
      messageOf(() => parseSplit({ ...split, receivers: [{ account: 'a', amount: 'x', description: '' }] })),
    ).toBe(`receivers[0].amount: ${AMOUNT_RULE}`);
    expect(
      messageOf(() => parseSplit({ ...split, receivers: [...split.receivers, ...split.receivers] })),
    ).toBe('receivers[1].account: must not repeat an earlier receiver');
    expect(messageOf(() => parseSplit({ ...split, receivers: [5] }))).toBe('receivers[0]: must be an object');
    expect(messageOf(() => parseSplit({ ...split, unfreezeRest: undefined }))).toBe('unfreezeRest: required');

    const ret = { outTradeNo: 'p', outSplitNo: 's', outReturnNo: 'r', account: 'a', amount: '3' };
    expect(parseSplitReturn(ret).amount).toBe(3n);
    expect(messageOf(() => parseSplitReturn({ ...ret, account: '' }))).toBe('account: must not be empty');

    expect(parsePay({ outcome: 'fail' })).toBe('fail');
    expect(messageOf(() => parsePay({ outcome: 'maybe' }))).toBe('outcome: must be "success" or "fail"');
    expect(messageOf(() => parseMerchant({ merchantNo: 'm1', key: '' }))).toBe(
      'key: must be a non-empty string of at most 1024 characters',
    );
  });
});
