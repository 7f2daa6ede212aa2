import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChannelAccount,
  ChannelRejectedError,
  ChannelSignatureError,
  ChannelUnavailableError,
} from './channel-adapter';
import { parseStatement, SandboxAdapter, sandboxSignature } from './sandbox-adapter';

const KEY = 'merchant-key-0123456789abcdef';

describe('sandboxSignature', () => {
  // Computed by hand, independently of this code:
  //   printf 'POST\n/v1/orders\n1767225600\nnonce-0123456789\n{"outTradeNo":"pay-1","amount":"100"}' \
  //     | openssl dgst -sha256 -hmac 'merchant-key-0123456789abcdef' -hex
  it('matches the hand-computed vector of a POST', () => {
    expect(
      sandboxSignature(
        KEY,
        'POST',
        '/v1/orders',
        '1767225600',
        'nonce-0123456789',
        '{"outTradeNo":"pay-1","amount":"100"}',
      ),
    ).toBe('a5d23c065fb2aa9749d25a21f6f6fdf175600398379a154472d961f97f467195');
  });

  it('matches the hand-computed vector of a GET (empty body)', () => {
    expect(sandboxSignature(KEY, 'GET', '/v1/orders/pay-1', '1767225600', 'nonce-0123456789', '')).toBe(
      '98dfd355befd7f6e9f01da2b16315de70d065c4f2ef4af756948ab39899e35a3',
    );
  });

  // The sandbox author's fixed vectors (tools/sandbox-channel/src/signing.spec.ts, for its README):
  // both sides must produce the same hex.
  it.each([
    {
      method: 'POST',
      path: '/v1/orders',
      body: '{"outTradeNo":"pay_1","amount":"100"}',
      hex: '55d90e78b4ec5751722b6d06e0528448fe98085c6b05acc42c3cf3a8fade561b',
    },
    {
      method: 'GET',
      path: '/v1/orders/pay_1',
      body: '',
      hex: '17cedbcfaa54b469d3abcd7cecbf81358526bc49f6bfba822166c24e221a4af0',
    },
    {
      method: 'POST',
      path: '/notify/sandbox?x=1',
      body: '{"description":"停车费"}',
      hex: 'aff92c879eed43fa14b27b985fa2df5c6096cce7880d10a94b5bac1d01e426c2',
    },
  ])("matches the sandbox's published vector: $method $path", ({ method, path, body, hex }) => {
    expect(
      sandboxSignature(
        'sandbox-test-key-0123456789abcdef',
        method,
        path,
        '1700000000',
        'n0nce-0123456789',
        body,
      ),
    ).toBe(hex);
  });

  it('signs the raw bytes of a Buffer body like the same UTF-8 string', () => {
    const body = '{"description":"停车费"}';
    expect(sandboxSignature(KEY, 'POST', '/n', '1', 'nonce-0123', Buffer.from(body))).toBe(
      sandboxSignature(KEY, 'POST', '/n', '1', 'nonce-0123', body),
    );
  });
});

/** A fake provider: checks each request's signature itself and answers what the test says. */
interface Seen {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
  signatureOk: boolean;
}

describe('SandboxAdapter against a local HTTP server', () => {
  let server: Server;
  let endpoint: string;
  let answer: (seen: Seen, res: ServerResponse) => void;
  const seen: Seen[] = [];
  const account = (over: Partial<ChannelAccount> = {}): ChannelAccount => ({
    channelId: 'sandbox',
    endpoint,
    merchantNo: 'm-100',
    credentials: KEY,
    ...over,
  });
  const adapter = new SandboxAdapter({ timeoutMs: 300 });
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const order = {
    outTradeNo: 'pay-1',
    status: 'NOTPAY',
    amount: '9007199254740993',
    currency: 'CNY',
    payUrl: 'http://sandbox/pay/pay-1',
    profitSharing: false,
    held: '0',
    refunded: '0',
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const h = (n: string) => String(req.headers[n] ?? '');
        const expected = createHmac('sha256', KEY)
          .update(`${req.method}\n${req.url}\n${h('x-sandbox-timestamp')}\n${h('x-sandbox-nonce')}\n${body}`)
          .digest('hex');
        const s: Seen = {
          method: req.method ?? '',
          url: req.url ?? '',
          body,
          headers: req.headers,
          signatureOk: expected === h('x-sandbox-signature'),
        };
        seen.push(s);
        answer(s, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('signs createOrder, sends amounts as strings and reads the order with exact int64 amounts', async () => {
    answer = (_s, res) => json(res, 200, order);
    const expiresAt = new Date('2026-11-22T10:00:00.000Z');
    const result = await adapter.createOrder(account(), {
      paymentId: 'pay-1',
      amountMinor: 9_007_199_254_740_993n,
      currency: 'CNY',
      description: 'parking',
      notifyUrl: 'http://payment/channels/sandbox/notifications/pay-1',
      expiresAt,
      profitSharing: true,
    });
    expect(result).toEqual({
      paymentId: 'pay-1',
      status: 'NOTPAY',
      payUrl: 'http://sandbox/pay/pay-1',
      amountMinor: 9_007_199_254_740_993n,
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/orders', signatureOk: true });
    expect(seen[0]!.headers).toMatchObject({
      'x-sandbox-merchant': 'm-100',
      'content-type': 'application/json',
    });
    expect(seen[0]!.headers['x-sandbox-nonce']).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(Number(seen[0]!.headers['x-sandbox-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    expect(JSON.parse(seen[0]!.body)).toEqual({
      outTradeNo: 'pay-1',
      amount: '9007199254740993',
      currency: 'CNY',
      description: 'parking',
      notifyUrl: 'http://payment/channels/sandbox/notifications/pay-1',
      expireAt: '2026-11-22T10:00:00.000Z',
      profitSharing: true,
    });
  });

  it('signs the full request target when the endpoint has a base path, and GETs with an empty body', async () => {
    answer = (_s, res) =>
      json(res, 200, { ...order, status: 'SUCCESS', transactionId: 'tx-1', paidAt: '2026-11-22T10:00:00Z' });
    const result = await adapter.queryOrder(account({ endpoint: `${endpoint}/provider/` }), 'pay-1');
    expect(result).toMatchObject({
      status: 'SUCCESS',
      transactionId: 'tx-1',
      paidAt: new Date('2026-11-22T10:00:00Z'),
    });
    expect(seen[0]).toMatchObject({
      method: 'GET',
      url: '/provider/v1/orders/pay-1',
      body: '',
      signatureOk: true,
    });
  });

  it('maps 400/404/409/401 answers with a code to ChannelRejectedError(code)', async () => {
    for (const [status, code] of [
      [404, 'ORDER_NOT_EXIST'],
      [400, 'NOT_ENOUGH'],
      [409, 'ORDER_MISMATCH'],
      [401, 'SIGN_ERROR'],
    ] as const) {
      answer = (_s, res) => json(res, status, { code });
      const err = await adapter.queryOrder(account(), 'pay-1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChannelRejectedError);
      expect((err as ChannelRejectedError).code).toBe(code);
    }
    answer = (_s, res) => res.writeHead(403).end('nope');
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toMatchObject({ code: 'HTTP_403' });
  });

  it('maps 5xx, 429, a broken connection, no answer in time and an unreadable 200 to ChannelUnavailableError', async () => {
    answer = (_s, res) => json(res, 503, { code: 'SYSTEM_ERROR' });
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toBeInstanceOf(ChannelUnavailableError);
    answer = (_s, res) => json(res, 429, { code: 'FREQUENCY_LIMITED' });
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toBeInstanceOf(ChannelUnavailableError);
    answer = (_s, res) => res.socket?.destroy();
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toBeInstanceOf(ChannelUnavailableError);
    answer = () => undefined; // never answers
    // the adapter's own timeout (300 ms here) ended the call, not a default or the test's
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toThrow(/no answer in time \(300 ms\)/);
    answer = (_s, res) => res.writeHead(200).end('<html>');
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toBeInstanceOf(ChannelUnavailableError);
    answer = (_s, res) => json(res, 200, { ...order, amount: 100 });
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toThrow(/amount/);
    answer = (_s, res) => json(res, 200, { ...order, outTradeNo: 'pay-2' });
    await expect(adapter.queryOrder(account(), 'pay-1')).rejects.toBeInstanceOf(ChannelUnavailableError);
    await expect(
      adapter.queryOrder(account({ endpoint: 'http://127.0.0.1:1' }), 'pay-1'),
    ).rejects.toBeInstanceOf(ChannelUnavailableError);
  });

  it('sends refunds, splits, unfreezes and split returns as the doc says', async () => {
    answer = (s, res) => {
      if (s.url === '/v1/refunds')
        return json(res, 200, {
          outRefundNo: 'r-1',
          outTradeNo: 'pay-1',
          refundId: 'sr-1',
          status: 'PROCESSING',
          amount: '40',
        });
      if (s.url === '/v1/splits') return json(res, 200, { outSplitNo: 's-1', status: 'FINISHED' });
      if (s.url === '/v1/splits/unfreeze')
        return json(res, 200, { outSplitNo: 's-2', status: 'FINISHED', receivers: [] });
      if (s.url === '/v1/split-returns') return json(res, 200, { outReturnNo: 'ret-1', status: 'SUCCESS' });
      json(res, 404, { code: 'NOPE' });
    };
    await expect(
      adapter.refund(account(), {
        paymentId: 'pay-1',
        refundId: 'r-1',
        amountMinor: 40n,
        totalMinor: 100n,
        reason: 'broken',
        notifyUrl: 'http://n',
      }),
    ).resolves.toEqual({
      refundId: 'r-1',
      paymentId: 'pay-1',
      status: 'PROCESSING',
      amountMinor: 40n,
      channelRefundId: 'sr-1',
    });
    const receivers = [{ account: 'platform', amountMinor: 6n, description: 'fee' }];
    await expect(
      adapter.split(account(), { paymentId: 'pay-1', splitId: 's-1', receivers, unfreezeRest: true }),
    ).resolves.toEqual({
      splitId: 's-1',
      status: 'FINISHED',
      receivers: [{ ...receivers[0], result: 'SUCCESS' }],
    });
    await expect(adapter.unfreeze(account(), { paymentId: 'pay-1', splitId: 's-2' })).resolves.toEqual({
      splitId: 's-2',
      status: 'FINISHED',
      receivers: [],
    });
    await expect(
      adapter.splitReturn(account(), {
        paymentId: 'pay-1',
        splitId: 's-1',
        returnId: 'ret-1',
        account: 'platform',
        amountMinor: 6n,
      }),
    ).resolves.toEqual({ returnId: 'ret-1', status: 'SUCCESS' });
    expect(seen.map((s) => [s.url, s.signatureOk, JSON.parse(s.body)])).toEqual([
      [
        '/v1/refunds',
        true,
        {
          outTradeNo: 'pay-1',
          outRefundNo: 'r-1',
          amount: '40',
          total: '100',
          reason: 'broken',
          notifyUrl: 'http://n',
        },
      ],
      [
        '/v1/splits',
        true,
        {
          outTradeNo: 'pay-1',
          outSplitNo: 's-1',
          receivers: [{ account: 'platform', amount: '6', description: 'fee' }],
          unfreezeRest: true,
        },
      ],
      ['/v1/splits/unfreeze', true, { outTradeNo: 'pay-1', outSplitNo: 's-2' }],
      [
        '/v1/split-returns',
        true,
        { outTradeNo: 'pay-1', outSplitNo: 's-1', outReturnNo: 'ret-1', account: 'platform', amount: '6' },
      ],
    ]);
  });

  it('reads the statement CSV', async () => {
    answer = (_s, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end(
        'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\r\n' +
          'PAYMENT,tx-1,pay-1,,1000,6,2026-11-22T02:00:00.000Z\r\n' +
          'REFUND,sr-1,pay-1,r-1,400,2,2026-11-22T03:00:00.000Z\r\n',
      );
    };
    await expect(adapter.statement(account(), '2026-11-22')).resolves.toEqual([
      {
        kind: 'PAYMENT',
        transactionId: 'tx-1',
        paymentId: 'pay-1',
        amountMinor: 1000n,
        feeMinor: 6n,
        at: new Date('2026-11-22T02:00:00.000Z'),
      },
      {
        kind: 'REFUND',
        transactionId: 'sr-1',
        paymentId: 'pay-1',
        refundId: 'r-1',
        amountMinor: 400n,
        feeMinor: 2n,
        at: new Date('2026-11-22T03:00:00.000Z'),
      },
    ]);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v1/statements/2026-11-22', signatureOk: true });
    await expect(adapter.statement(account(), '2026/11/22')).rejects.toThrow(RangeError);
  });
});

describe('parseStatement', () => {
  it('reads an empty statement and quoted cells; refuses a foreign header', () => {
    expect(parseStatement('kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n')).toEqual([]);
    expect(
      parseStatement(
        'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n"PAYMENT","t,1","p",,"5","0",2026-01-01T00:00:00Z',
      ),
    ).toMatchObject([{ transactionId: 't,1', amountMinor: 5n }]);
    expect(() => parseStatement('a,b\n1,2')).toThrow(/header/);
  });
});

describe('SandboxAdapter.verifyNotification', () => {
  const now = new Date('2026-11-22T10:00:00Z');
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const adapter = new SandboxAdapter({ timeoutMs: 1000, now: () => now });
  const account: ChannelAccount = {
    channelId: 'sandbox',
    endpoint: 'http://x',
    merchantNo: 'm-100',
    credentials: KEY,
  };
  const path = '/channels/sandbox/notifications/pay-1';
  const body = Buffer.from(
    JSON.stringify({
      notificationId: 'n-1',
      type: 'ORDER',
      order: {
        ...{ outTradeNo: 'pay-1', status: 'SUCCESS', amount: '100', currency: 'CNY', payUrl: '' },
        transactionId: 'tx-9',
        paidAt: '2026-11-22T09:59:00Z',
      },
    }),
  );
  const headers = (over: Record<string, string | undefined> = {}, raw = body, ts = nowSeconds) => ({
    ':path': path,
    'x-sandbox-merchant': 'm-100',
    'x-sandbox-timestamp': String(ts),
    'x-sandbox-nonce': 'nonce-abcdef',
    'x-sandbox-signature': sandboxSignature(KEY, 'POST', path, String(ts), 'nonce-abcdef', raw),
    ...over,
  });

  it('accepts a signed order notification and parses it', () => {
    expect(adapter.verifyNotification(account, headers(), body)).toEqual({
      kind: 'order',
      notificationId: 'n-1',
      order: {
        paymentId: 'pay-1',
        status: 'SUCCESS',
        payUrl: '',
        amountMinor: 100n,
        transactionId: 'tx-9',
        paidAt: new Date('2026-11-22T09:59:00Z'),
      },
    });
  });

  it('accepts a refund notification, with headers in any case', () => {
    const raw = Buffer.from(
      JSON.stringify({
        notificationId: 'n-2',
        type: 'REFUND',
        refund: {
          outRefundNo: 'r-1',
          outTradeNo: 'pay-1',
          refundId: 'sr-1',
          status: 'SUCCESS',
          amount: '40',
          completedAt: '2026-11-22T09:59:30Z',
        },
      }),
    );
    const upper = Object.fromEntries(Object.entries(headers({}, raw)).map(([k, v]) => [k.toUpperCase(), v]));
    expect(adapter.verifyNotification(account, upper, raw)).toMatchObject({
      kind: 'refund',
      refund: { refundId: 'r-1', status: 'SUCCESS', amountMinor: 40n, channelRefundId: 'sr-1' },
    });
  });

  it('accepts a timestamp up to 300 s old and refuses an older or far-future one', () => {
    expect(() =>
      adapter.verifyNotification(account, headers({}, body, nowSeconds - 300), body),
    ).not.toThrow();
    expect(() => adapter.verifyNotification(account, headers({}, body, nowSeconds - 301), body)).toThrow(
      ChannelSignatureError,
    );
    expect(() => adapter.verifyNotification(account, headers({}, body, nowSeconds + 301), body)).toThrow(
      ChannelSignatureError,
    );
  });

  const refused: [string, Record<string, string | undefined>, Buffer?][] = [
    ['a tampered body', {}, Buffer.from(body.toString().replace('"100"', '"1"'))],
    [
      'a signature by another key',
      {
        'x-sandbox-signature': sandboxSignature(
          'another-key-000000',
          'POST',
          path,
          String(nowSeconds),
          'nonce-abcdef',
          body,
        ),
      },
    ],
    ['a signature for another path', { ':path': '/channels/sandbox/notifications/pay-2' }],
    ['another merchant', { 'x-sandbox-merchant': 'm-200' }],
    ['no signature', { 'x-sandbox-signature': undefined }],
    ['a short signature', { 'x-sandbox-signature': 'abcd' }],
    [
      'an uppercase-hex signature',
      {
        'x-sandbox-signature': sandboxSignature(
          KEY,
          'POST',
          path,
          String(nowSeconds),
          'nonce-abcdef',
          body,
        ).toUpperCase(),
      },
    ],
    ['no timestamp', { 'x-sandbox-timestamp': undefined }],
    ['no nonce', { 'x-sandbox-nonce': undefined }],
    ['no path', { ':path': undefined }],
  ];
  it.each(refused)('refuses %s', (...[, over, raw]) => {
    expect(() => adapter.verifyNotification(account, headers(over), raw ?? body)).toThrow(
      ChannelSignatureError,
    );
  });

  it('refuses a correctly signed body that is not a notification', () => {
    for (const text of [
      'not json',
      '{"type":"ORDER"}',
      '{"notificationId":"n","type":"ORDER","order":{"status":"WAT"}}',
    ]) {
      const raw = Buffer.from(text);
      expect(() => adapter.verifyNotification(account, headers({}, raw), raw)).toThrow(ChannelSignatureError);
    }
  });
});
