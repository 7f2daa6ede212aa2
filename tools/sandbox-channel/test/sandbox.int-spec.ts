import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  freePort,
  REPO_ROOT,
  spawnSandboxChannel,
  uniqueName,
  waitFor,
  type SandboxChannelProcess,
} from '@citybase/platform/testing';
import { DEFAULT_BEHAVIOUR } from '../src/config';

// The built process (tools/sandbox-channel/dist/main.js) over HTTP, as payment's SandboxAdapter sees
// it. Requests are signed and notifications verified here with node:crypto straight from
// docs/sandbox-channel.md, not with the sandbox's own signing module.

const hmacHex = (key: string, method: string, path: string, ts: string, nonce: string, body: Buffer) =>
  createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${method}\n${path}\n${ts}\n${nonce}\n`), body]))
    .digest('hex');

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  json: {
    notificationId: string;
    type: 'ORDER' | 'REFUND';
    order?: Record<string, unknown>;
    refund?: Record<string, unknown>;
  };
  at: number;
}

/** A notify_url receiver, as Citybase payment has one. `answer` picks the status of each POST. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  answer: (d: Delivery) => number = () => 200;
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let json: Delivery['json'];
        try {
          json = JSON.parse(raw.toString('utf8')) as Delivery['json'];
        } catch {
          res.writeHead(400).end();
          return;
        }
        const d: Delivery = { path: req.url ?? '', headers: req.headers, raw, json, at: Date.now() };
        this.deliveries.push(d);
        res.writeHead(this.answer(d)).end('ok');
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  of(outTradeNo: string): Delivery[] {
    return this.deliveries.filter(
      (d) => d.json.order?.outTradeNo === outTradeNo || d.json.refund?.outTradeNo === outTradeNo,
    );
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Checks a notification's headers and signature against the merchant key, as payment must. */
function verifiedBy(key: string, merchantNo: string, d: Delivery): boolean {
  const h = (n: string) => String(d.headers[n] ?? '');
  const ts = h('x-sandbox-timestamp');
  return (
    h('x-sandbox-merchant') === merchantNo &&
    Math.abs(Date.now() / 1000 - Number(ts)) <= 300 &&
    h('x-sandbox-nonce').length >= 8 &&
    h('x-sandbox-signature') === hmacHex(key, 'POST', d.path, ts, h('x-sandbox-nonce'), d.raw)
  );
}

describe('sandbox channel process (built, over HTTP)', () => {
  let sandbox: SandboxChannelProcess;
  const receiver = new Receiver();
  const MERCHANT = uniqueName('m')
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 64);
  const KEY = randomBytes(24).toString('base64');

  beforeAll(async () => {
    sandbox = await spawnSandboxChannel();
    await sandbox.registerMerchant(MERCHANT, KEY);
    await receiver.start();
  });
  afterAll(async () => {
    await sandbox?.stop();
    await receiver.stop();
  });
  beforeEach(async () => {
    await sandbox.configure(DEFAULT_BEHAVIOUR);
    receiver.answer = () => 200;
  });

  interface Answer {
    status: number;
    text: string;
    json: Record<string, unknown>;
    contentType: string;
  }

  async function api(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    opts: {
      merchant?: string;
      key?: string;
      ts?: number;
      /** Signed and sent instead of JSON.stringify(body). */
      rawBody?: string;
      /** Changes the body after it was signed. */
      tamper?: (raw: string) => string;
      signal?: AbortSignal;
    } = {},
  ): Promise<Answer> {
    const raw = opts.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
    const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
    const nonce = randomBytes(12).toString('hex');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-sandbox-merchant': opts.merchant ?? MERCHANT,
      'x-sandbox-timestamp': ts,
      'x-sandbox-nonce': nonce,
      'x-sandbox-signature': hmacHex(opts.key ?? KEY, method, path, ts, nonce, Buffer.from(raw)),
    };
    const res = await fetch(`${sandbox.url}${path}`, {
      method,
      headers,
      body: method === 'GET' ? undefined : (opts.tamper ?? ((s) => s))(raw),
      signal: opts.signal,
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // text/csv or empty
    }
    return { status: res.status, text, json, contentType: res.headers.get('content-type') ?? '' };
  }

  const orderBody = (outTradeNo: string, over: Record<string, unknown> = {}) => ({
    outTradeNo,
    amount: '10000',
    currency: 'CNY',
    description: '物业费 2025-03',
    notifyUrl: `${receiver.url}/channels/sandbox/notify?c=ch-1`,
    expireAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    profitSharing: false,
    ...over,
  });
  const refundBody = (outTradeNo: string, outRefundNo: string, amount: string, total = '10000') => ({
    outTradeNo,
    outRefundNo,
    amount,
    total,
    reason: 'resident moved out',
    notifyUrl: `${receiver.url}/channels/sandbox/notify-refund`,
  });
  const id = (p: string) =>
    uniqueName(p)
      .replace(/[^A-Za-z0-9_-]/g, '_')
      .slice(-40);
  const paidOrder = async (over: Record<string, unknown> = {}) => {
    const o = id('pay');
    expect((await api('POST', '/v1/orders', orderBody(o, over))).status).toBe(200);
    await sandbox.pay(o, 'success');
    return o;
  };
  const notificationsOf = async (outTradeNo: string) => {
    const res = await fetch(`${sandbox.url}/sandbox/orders/${outTradeNo}/notifications`);
    return ((await res.json()) as { notifications: Record<string, unknown>[] }).notifications;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('order -> pay -> a signed ORDER notification arrives and verifies with the merchant key', async () => {
    const o = id('pay');
    const created = await api('POST', '/v1/orders', orderBody(o));
    expect(created.status).toBe(200);
    expect(created.json).toEqual({
      outTradeNo: o,
      status: 'NOTPAY',
      amount: '10000',
      currency: 'CNY',
      payUrl: `${sandbox.url}/sandbox/orders/${o}/pay`,
      profitSharing: false,
      held: '0',
      refunded: '0',
    });
    expect((await api('GET', `/v1/orders/${o}`)).json.status).toBe('NOTPAY');

    await sandbox.pay(o, 'success');
    const [d] = await waitFor(
      'the notification',
      async () => (receiver.of(o).length > 0 ? receiver.of(o) : undefined),
      10_000,
      20,
    );
    expect(d.path).toBe('/channels/sandbox/notify?c=ch-1');
    expect(d.headers['content-type']).toBe('application/json');
    expect(verifiedBy(KEY, MERCHANT, d)).toBe(true);
    expect(verifiedBy('other-key', MERCHANT, d)).toBe(false);
    expect(d.json).toMatchObject({
      type: 'ORDER',
      order: { outTradeNo: o, status: 'SUCCESS', amount: '10000' },
    });
    expect(d.json.notificationId).toMatch(/^N[0-9a-f]{32}$/);
    const order = (await api('GET', `/v1/orders/${o}`)).json;
    expect(order).toMatchObject({ status: 'SUCCESS', transactionId: d.json.order?.transactionId });
    expect(Date.parse(String(order.paidAt))).toBeLessThanOrEqual(d.at);

    // Idempotent by outTradeNo: the existing order; another amount is a mismatch.
    expect((await api('POST', '/v1/orders', orderBody(o))).json).toEqual(order);
    const mismatch = await api('POST', '/v1/orders', orderBody(o, { amount: '10001' }));
    expect(mismatch.status).toBe(409);
    expect(mismatch.json.code).toBe('ORDER_MISMATCH');

    await sleep(100);
    expect(receiver.of(o)).toHaveLength(1);
    expect(await notificationsOf(o)).toEqual([
      expect.objectContaining({
        notificationId: d.json.notificationId,
        type: 'ORDER',
        status: 'DELIVERED',
        attempts: 1,
        delivered: 1,
        body: d.raw.toString('utf8'),
      }),
    ]);
  });

  it('a declined payment notifies PAYERROR; close answers a paid order as SUCCESS', async () => {
    const declined = id('pay');
    await api('POST', '/v1/orders', orderBody(declined));
    await sandbox.pay(declined, 'fail');
    await waitFor('PAYERROR notification', async () => receiver.of(declined)[0], 10_000, 20);
    expect(receiver.of(declined)[0].json.order).toMatchObject({
      status: 'PAYERROR',
      failureReason: 'BANK_DECLINED',
    });

    const paid = await paidOrder();
    expect((await api('POST', `/v1/orders/${paid}/close`, {})).json.status).toBe('SUCCESS');
    const open = id('pay');
    await api('POST', '/v1/orders', orderBody(open));
    expect((await api('POST', `/v1/orders/${open}/close`, {})).json.status).toBe('CLOSED');
    await expect(sandbox.pay(open, 'success')).rejects.toThrow(/HTTP 409 .*ORDER_CLOSED/);
  });

  it('retries a notification with 1 s, 2 s backoff until the receiver answers 2xx', async () => {
    const o = id('pay');
    receiver.answer = (d) => (receiver.of(String(d.json.order?.outTradeNo)).length <= 2 ? 500 : 204);
    await api('POST', '/v1/orders', orderBody(o));
    await sandbox.pay(o, 'success');
    await waitFor('3 attempts', async () => (receiver.of(o).length >= 3 ? true : undefined), 15_000, 50);
    const times = receiver.of(o).map((d) => d.at);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(1950);
    expect(new Set(receiver.of(o).map((d) => d.json.notificationId)).size).toBe(1);
    const [n] = await notificationsOf(o);
    expect(n).toMatchObject({ status: 'DELIVERED', attempts: 3, delivered: 1 });
    expect((n.history as { httpStatus: number }[]).map((h) => h.httpStatus)).toEqual([500, 500, 204]);
  });

  it('SANDBOX_DUPLICATE_RATE=1 sends every notification twice, same id and body', async () => {
    await sandbox.configure({ duplicateRate: 1 });
    const o = await paidOrder();
    await waitFor('two copies', async () => (receiver.of(o).length === 2 ? true : undefined), 10_000, 20);
    const [a, b] = receiver.of(o);
    expect(a.raw.equals(b.raw)).toBe(true);
    expect(a.headers['x-sandbox-nonce']).not.toBe(b.headers['x-sandbox-nonce']);
    expect(verifiedBy(KEY, MERCHANT, a) && verifiedBy(KEY, MERCHANT, b)).toBe(true);
    expect((await notificationsOf(o))[0]).toMatchObject({ duplicate: true, delivered: 2 });
  });

  it('keeps the notifications of an order in order, and SANDBOX_REORDER=true lets later ones overtake', async () => {
    const run = async (reorder: boolean) => {
      await sandbox.configure({ reorder, notifyDelayMs: 600, refundDelayMs: 20 });
      const o = await paidOrder();
      for (const r of ['a', 'b'])
        expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-${r}`, '100'))).status).toBe(200);
      await waitFor(
        '3 notifications',
        async () => (receiver.of(o).length === 3 ? true : undefined),
        10_000,
        20,
      );
      return receiver
        .of(o)
        .map((d) => (d.json.type === 'ORDER' ? 'ORDER' : String(d.json.refund?.outRefundNo).slice(-1)));
    };
    expect(await run(false)).toEqual(['ORDER', 'a', 'b']);
    expect(await run(true)).toEqual(['b', 'a', 'ORDER']);
  });

  it('SANDBOX_FAILURE_RATE=1 answers 503 without doing anything', async () => {
    await sandbox.configure({ failureRate: 1 });
    const o = id('pay');
    const res = await api('POST', '/v1/orders', orderBody(o));
    expect(res.status).toBe(503);
    expect(res.json.code).toBe('SYSTEM_ERROR');
    await sandbox.configure({ failureRate: 0 });
    expect((await api('GET', `/v1/orders/${o}`)).json.code).toBe('ORDER_NOT_EXIST');
  });

  it('SANDBOX_TIMEOUT_RATE=1 does the work but never answers, so the caller times out', async () => {
    await sandbox.configure({ timeoutRate: 1 });
    const o = id('pay');
    const started = Date.now();
    await expect(
      api('POST', '/v1/orders', orderBody(o), { signal: AbortSignal.timeout(800) }),
    ).rejects.toThrow(/aborted|timeout/i);
    expect(Date.now() - started).toBeGreaterThanOrEqual(790);
    await sandbox.configure({ timeoutRate: 0 });
    expect((await api('GET', `/v1/orders/${o}`)).json.status).toBe('NOTPAY');
  });

  it('SANDBOX_LATENCY_MS delays every API answer', async () => {
    await sandbox.configure({ latencyMs: 300 });
    const started = Date.now();
    expect((await api('GET', '/v1/orders/nothing-here')).status).toBe(404);
    expect(Date.now() - started).toBeGreaterThanOrEqual(295);
  });

  it('SANDBOX_AUTO_PAY pays new orders by itself after the delay', async () => {
    await sandbox.configure({ autoPay: 'success', autoPayDelayMs: 100 });
    const o = id('pay');
    await api('POST', '/v1/orders', orderBody(o));
    await waitFor(
      'auto pay',
      async () => ((await api('GET', `/v1/orders/${o}`)).json.status === 'SUCCESS' ? true : undefined),
      5000,
      50,
    );
    await waitFor('notification', async () => receiver.of(o)[0], 5000, 20);
  });

  it('100 concurrent refunds against one order never exceed its amount', async () => {
    const o = await paidOrder();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => api('POST', '/v1/refunds', refundBody(o, `${o}-r${i}`, '150'))),
    );
    const accepted = answers.filter((a) => a.status === 200);
    expect(accepted).toHaveLength(66); // floor(10000 / 150)
    expect(accepted.every((a) => a.json.status === 'PROCESSING')).toBe(true);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.every((a) => a.status === 400 && a.json.code === 'NOT_ENOUGH')).toBe(true);
    await waitFor(
      'refunds done',
      async () => {
        const order = (await api('GET', `/v1/orders/${o}`)).json;
        return order.refunded === '9900' ? order : undefined;
      },
      10_000,
      50,
    );
    // The rest is still refundable, exactly.
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-last`, '101'))).json.code).toBe(
      'NOT_ENOUGH',
    );
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-last`, '100'))).status).toBe(200);
  });

  it('100 concurrent copies of one refund request make one refund (idempotent by outRefundNo)', async () => {
    const o = await paidOrder();
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => api('POST', '/v1/refunds', refundBody(o, `${o}-same`, '7000'))),
    );
    expect(new Set(answers.map((a) => `${a.status} ${String(a.json.refundId)}`)).size).toBe(1);
    expect(answers[0].status).toBe(200);
    const mismatch = await api('POST', '/v1/refunds', refundBody(o, `${o}-same`, '7001'));
    expect([mismatch.status, mismatch.json.code]).toEqual([409, 'REFUND_MISMATCH']);
    await waitFor(
      'refund notification',
      async () => receiver.of(o).find((d) => d.json.type === 'REFUND'),
      10_000,
      20,
    );
    const refund = (await api('GET', `/v1/refunds/${o}-same`)).json;
    expect(refund).toMatchObject({
      status: 'SUCCESS',
      amount: '7000',
      outTradeNo: o,
      refundId: answers[0].json.refundId,
    });
    expect((await api('GET', `/v1/orders/${o}`)).json.refunded).toBe('7000');
  });

  it('refund refusals: an unpaid order, a wrong total; ABNORMAL refunds give the amount back', async () => {
    const unpaid = id('pay');
    await api('POST', '/v1/orders', orderBody(unpaid));
    const r1 = await api('POST', '/v1/refunds', refundBody(unpaid, `${unpaid}-r`, '1'));
    expect([r1.status, r1.json.code]).toEqual([400, 'ORDER_NOT_PAID']);
    const o = await paidOrder();
    const r2 = await api('POST', '/v1/refunds', refundBody(o, `${o}-r`, '1', '9999'));
    expect([r2.status, r2.json.code]).toEqual([400, 'PARAM_ERROR']);

    await sandbox.configure({ refundFailureRate: 1 });
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-x`, '10000'))).status).toBe(200);
    const failed = await waitFor(
      'ABNORMAL',
      async () => {
        const r = (await api('GET', `/v1/refunds/${o}-x`)).json;
        return r.status === 'ABNORMAL' ? r : undefined;
      },
      5000,
      50,
    );
    expect(failed.failureReason).toBeTruthy();
    await waitFor(
      'REFUND notification',
      async () => receiver.of(o).find((d) => d.json.refund?.status === 'ABNORMAL'),
      5000,
      20,
    );
    await sandbox.configure({ refundFailureRate: 0 });
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-y`, '10000'))).status).toBe(200);
    expect((await api('GET', '/v1/refunds/nope')).json.code).toBe('REFUND_NOT_EXIST');
  });

  it('profit sharing: held after payment, splits to receivers, unfreeze of the rest, split return back to held', async () => {
    const o = await paidOrder({ profitSharing: true });
    expect((await api('GET', `/v1/orders/${o}`)).json.held).toBe('10000');
    const split = (outSplitNo: string, receivers: [string, string][], unfreezeRest = false) =>
      api('POST', '/v1/splits', {
        outTradeNo: o,
        outSplitNo,
        receivers: receivers.map(([account, amount]) => ({ account, amount, description: `to ${account}` })),
        unfreezeRest,
      });
    const s1 = await split(`${o}-s1`, [
      ['platform', '600'],
      ['property-co', '3000'],
    ]);
    expect(s1.status).toBe(200);
    expect(s1.json).toMatchObject({ status: 'FINISHED', unfrozen: '0' });
    expect(s1.json.receivers).toEqual([
      { account: 'platform', amount: '600', description: 'to platform', result: 'SUCCESS' },
      { account: 'property-co', amount: '3000', description: 'to property-co', result: 'SUCCESS' },
    ]);
    expect(
      (
        await split(`${o}-s1`, [
          ['platform', '600'],
          ['property-co', '3000'],
        ])
      ).json,
    ).toEqual(s1.json);
    expect((await api('GET', `/v1/orders/${o}`)).json.held).toBe('6400');
    const tooMuch = await split(`${o}-s2`, [['platform', '6401']]);
    expect([tooMuch.status, tooMuch.json.code]).toEqual([400, 'NOT_ENOUGH']);
    // Refunds can only take what is not with receivers.
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-r1`, '6401'))).json.code).toBe('NOT_ENOUGH');

    const unfreeze = await api('POST', '/v1/splits/unfreeze', { outTradeNo: o, outSplitNo: `${o}-u1` });
    expect(unfreeze.json).toMatchObject({ status: 'FINISHED', unfrozen: '6400', receivers: [] });
    expect((await api('GET', `/v1/orders/${o}`)).json.held).toBe('0');

    const ret = {
      outTradeNo: o,
      outSplitNo: `${o}-s1`,
      outReturnNo: `${o}-ret1`,
      account: 'property-co',
      amount: '3000',
    };
    const returned = await api('POST', '/v1/split-returns', ret);
    expect(returned.json).toMatchObject({ outReturnNo: `${o}-ret1`, status: 'SUCCESS' });
    expect((await api('GET', `/v1/orders/${o}`)).json.held).toBe('3000');
    const again = await api('POST', '/v1/split-returns', { ...ret, outReturnNo: `${o}-ret2`, amount: '1' });
    expect([again.status, again.json.code]).toEqual([400, 'NOT_ENOUGH']);
    // Everything but the platform's 600 can be refunded now.
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-r2`, '9400'))).status).toBe(200);
    expect((await api('POST', '/v1/refunds', refundBody(o, `${o}-r3`, '1'))).json.code).toBe('NOT_ENOUGH');

    const plain = await paidOrder();
    const refused = await api('POST', '/v1/splits', {
      outTradeNo: plain,
      outSplitNo: `${plain}-s`,
      receivers: [{ account: 'platform', amount: '1', description: '' }],
      unfreezeRest: true,
    });
    expect([refused.status, refused.json.code]).toEqual([400, 'NOT_PROFIT_SHARING']);
  });

  it("the statement CSV lists the merchant's successful payments and refunds of the day (UTC+8) with 0.6% fees", async () => {
    const merchant = id('stm');
    await sandbox.registerMerchant(merchant, 'statement-key');
    const as = { merchant, key: 'statement-key' };
    const o = id('pay');
    await api('POST', '/v1/orders', orderBody(o, { amount: '12345' }), as);
    await sandbox.pay(o, 'success');
    const declined = id('pay');
    await api('POST', '/v1/orders', orderBody(declined), as);
    await sandbox.pay(declined, 'fail');
    await api('POST', '/v1/refunds', refundBody(o, `${o}-r`, '250', '12345'), as);
    await waitFor(
      'refund',
      async () =>
        (await api('GET', `/v1/refunds/${o}-r`, undefined, as)).json.status === 'SUCCESS' ? true : undefined,
      5000,
      50,
    );
    const order = (await api('GET', `/v1/orders/${o}`, undefined, as)).json;
    const refund = (await api('GET', `/v1/refunds/${o}-r`, undefined, as)).json;
    const dayOf = (iso: string) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 10);
    const day = dayOf(String(order.paidAt));
    const res = await api('GET', `/v1/statements/${day}`, undefined, as);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/csv/);
    const expected = [
      'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at',
      `PAYMENT,${order.transactionId},${o},,12345,74,${order.paidAt}`,
    ];
    // A refund that completed after midnight UTC+8 belongs to the next day's statement.
    if (dayOf(String(refund.completedAt)) === day) {
      expected.push(`REFUND,${order.transactionId},${o},${o}-r,250,2,${refund.completedAt}`);
    }
    expect(res.text).toBe(`${expected.join('\n')}\n`);
    // Another merchant's statement does not show them.
    expect((await api('GET', `/v1/statements/${day}`)).text).not.toContain(o);
    const bad = await api('GET', '/v1/statements/2025-02-30', undefined, as);
    expect([bad.status, bad.json.code]).toEqual([400, 'PARAM_ERROR']);
  });

  it('refuses bad signatures and stale timestamps; merchants see only their own orders', async () => {
    const o = id('pay');
    const body = orderBody(o);
    const wrongKey = await api('POST', '/v1/orders', body, { key: 'not-the-key' });
    expect([wrongKey.status, wrongKey.json.code]).toEqual([401, 'SIGN_ERROR']);
    const tampered = await api('POST', '/v1/orders', body, {
      tamper: (raw) => raw.replace('"10000"', '"1"'),
    });
    expect([tampered.status, tampered.json.code]).toEqual([401, 'SIGN_ERROR']);
    const unknown = await api('POST', '/v1/orders', body, { merchant: 'nobody' });
    expect([unknown.status, unknown.json.code]).toEqual([401, 'SIGN_ERROR']);
    const stale = await api('POST', '/v1/orders', body, { ts: Math.floor(Date.now() / 1000) - 301 });
    expect([stale.status, stale.json.code]).toEqual([401, 'TIMESTAMP_EXPIRED']);
    const future = await api('POST', '/v1/orders', body, { ts: Math.floor(Date.now() / 1000) + 400 });
    expect([future.status, future.json.code]).toEqual([401, 'TIMESTAMP_EXPIRED']);
    const noHeaders = await fetch(`${sandbox.url}/v1/orders/${o}`);
    expect(noHeaders.status).toBe(401);
    expect((await api('GET', `/v1/orders/${o}`)).json.code).toBe('ORDER_NOT_EXIST');

    expect((await api('POST', '/v1/orders', body)).status).toBe(200);
    const other = id('other');
    await sandbox.registerMerchant(other, 'other-key');
    const foreign = await api('GET', `/v1/orders/${o}`, undefined, { merchant: other, key: 'other-key' });
    expect([foreign.status, foreign.json.code]).toEqual([404, 'ORDER_NOT_EXIST']);
  });

  it('closes an unpaid order by itself once past expireAt; it cannot be paid then', async () => {
    const o = id('pay');
    await api('POST', '/v1/orders', orderBody(o, { expireAt: new Date(Date.now() + 1200).toISOString() }));
    expect((await api('GET', `/v1/orders/${o}`)).json.status).toBe('NOTPAY');
    await sleep(1300);
    expect((await api('GET', `/v1/orders/${o}`)).json.status).toBe('CLOSED');
    await expect(sandbox.pay(o, 'success')).rejects.toThrow(/HTTP 409/);
    const past = await api(
      'POST',
      '/v1/orders',
      orderBody(id('pay'), { expireAt: new Date(Date.now() - 1000).toISOString() }),
    );
    expect(past.json).toEqual({ code: 'PARAM_ERROR', message: 'expireAt: must be in the future' });
  });

  it('answers bad input with 400 PARAM_ERROR "<field>: <rule>", writes nothing and keeps running', async () => {
    const o = id('pay');
    const cases: [unknown, string][] = [
      [{ ...orderBody(o), amount: '1.5' }, 'amount: '],
      [{ ...orderBody(o), amount: '-100' }, 'amount: '],
      [{ ...orderBody(o), amount: '0' }, 'amount: '],
      [{ ...orderBody(o), amount: 100 }, 'amount: '],
      [{ ...orderBody(o), currency: undefined }, 'currency: required'],
      [{ ...orderBody(o), notifyUrl: 'not a url' }, 'notifyUrl: '],
      [[1, 2], 'body: must be a JSON object'],
    ];
    for (const [body, message] of cases) {
      const res = await api('POST', '/v1/orders', body);
      expect([res.status, res.json.code]).toEqual([400, 'PARAM_ERROR']);
      expect(String(res.json.message)).toContain(message);
    }
    const malformed = await api('POST', '/v1/orders', undefined, { rawBody: '{"outTradeNo":' });
    expect(malformed.json).toEqual({ code: 'PARAM_ERROR', message: 'body: must be valid JSON' });
    const missing = await api('POST', '/v1/refunds', { outTradeNo: o });
    expect(missing.json).toEqual({ code: 'PARAM_ERROR', message: 'outRefundNo: required' });
    const huge = await api('POST', '/v1/orders', { ...orderBody(o), description: 'x'.repeat(1024 * 1024) });
    expect(huge.json).toEqual({ code: 'PARAM_ERROR', message: 'body: must be at most 1048576 bytes' });
    const badConfig = await fetch(`${sandbox.url}/sandbox/config`, {
      method: 'PUT',
      body: '{"failureRate":2}',
    });
    expect(badConfig.status).toBe(400);
    expect((await api('GET', `/v1/orders/${o}`)).json.code).toBe('ORDER_NOT_EXIST');
    expect((await fetch(`${sandbox.url}/healthz`)).status).toBe(200);
  });

  it('exits 0 on SIGTERM, promptly, even with a held call and notifications pending', async () => {
    const port = await freePort();
    const proc = spawn(process.execPath, [join(REPO_ROOT, 'tools', 'sandbox-channel', 'dist', 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        SANDBOX_PORT: String(port),
        SANDBOX_TIMEOUT_RATE: '1',
        SANDBOX_AUTO_PAY: 'success',
        SANDBOX_AUTO_PAY_DELAY_MS: '0',
        SANDBOX_NOTIFY_DELAY_MS: '60000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      'healthz',
      async () => ((await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined),
      15_000,
      50,
    );
    await fetch(`${url}/sandbox/merchants`, {
      method: 'POST',
      body: JSON.stringify({ merchantNo: 'm', key: 'k' }),
    });
    const raw = JSON.stringify(orderBody('held'));
    const ts = String(Math.floor(Date.now() / 1000));
    const held = fetch(`${url}/v1/orders`, {
      method: 'POST',
      body: raw,
      headers: {
        'x-sandbox-merchant': 'm',
        'x-sandbox-timestamp': ts,
        'x-sandbox-nonce': 'nonce-12345',
        'x-sandbox-signature': hmacHex('k', 'POST', '/v1/orders', ts, 'nonce-12345', Buffer.from(raw)),
      },
    }).catch((err: Error) => err);
    await waitFor(
      'the call to be held',
      async () => (out.includes('"status":"held"') ? true : undefined),
      5000,
      20,
    );
    const started = Date.now();
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    // The held call is cut off, not answered (fetch's TypeError comes from another realm than Jest's).
    expect(String(await held)).toMatch(/TypeError: fetch failed/);
    // JSON lines on stdout.
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['sandbox channel listening', 'stopping', 'stopped']),
    );
  });
});
