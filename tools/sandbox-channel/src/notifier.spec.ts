import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { DEFAULT_BEHAVIOUR, type Behaviour } from './config';
import { Notifier } from './notifier';
import type { NotificationRequest } from './provider';
import { verifyHeaders } from './signing';

interface Received {
  path: string;
  body: string;
  verified: boolean;
}

/** A notify_url receiver answering with the statuses given, then 200. */
async function receiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const check = verifyHeaders(
        req.headers,
        (m) => (m === 'm1' ? 'key-1' : undefined),
        'POST',
        req.url ?? '',
        body,
      );
      received.push({ path: req.url ?? '', body: body.toString(), verified: check.ok });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function notifier(over: Partial<Behaviour> = {}, random = () => 0.5) {
  const behaviour = { ...DEFAULT_BEHAVIOUR, notifyDelayMs: 0, ...over };
  return new Notifier({
    behaviour: () => behaviour,
    keyOf: (m) => (m === 'm1' ? 'key-1' : undefined),
    logger: pino({ level: 'silent' }),
    random,
    retryBaseMs: 5,
  });
}

const request = (notifyUrl: string, type: 'ORDER' | 'REFUND', n: number): NotificationRequest =>
  type === 'ORDER'
    ? {
        merchantNo: 'm1',
        outTradeNo: 'pay-1',
        notifyUrl,
        type,
        payload: { type, order: { outTradeNo: 'pay-1', n } as never },
      }
    : {
        merchantNo: 'm1',
        outTradeNo: 'pay-1',
        outRefundNo: `r${n}`,
        notifyUrl,
        type,
        payload: { type, refund: { outRefundNo: `r${n}`, n } as never },
      };

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('Notifier', () => {
  let stopAll: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const stop of stopAll) await stop();
    stopAll = [];
  });

  it('POSTs the signed body to the notify URL, path and query included in the signature', async () => {
    const r = await receiver();
    const n = notifier();
    stopAll.push(() => n.stop(), r.close);
    const record = n.enqueue(request(`${r.url}/notify/sandbox?c=ch-1`, 'ORDER', 1));
    await until('delivery', () => record.status === 'DELIVERED');
    expect(r.received).toEqual([{ path: '/notify/sandbox?c=ch-1', body: record.body, verified: true }]);
    expect(JSON.parse(record.body)).toEqual({
      notificationId: record.notificationId,
      type: 'ORDER',
      order: { outTradeNo: 'pay-1', n: 1 },
    });
    expect(record).toMatchObject({ attempts: 1, delivered: 1, duplicate: false });
  });

  it('retries until the receiver answers 2xx, and lists every attempt', async () => {
    const r = await receiver([500, 503, 404]);
    const n = notifier();
    stopAll.push(() => n.stop(), r.close);
    const record = n.enqueue(request(`${r.url}/n`, 'ORDER', 1));
    await until('delivery', () => record.status === 'DELIVERED');
    expect(record.attempts).toBe(4);
    expect(record.history.map((h) => h.httpStatus)).toEqual([500, 503, 404, 200]);
    expect(n.list('m1', 'pay-1')).toEqual([record]);
    expect(n.list('m2', 'pay-1')).toEqual([]);
  });

  it('gives up after 10 attempts (FAILED), with backoff doubling between them', async () => {
    const r = await receiver(Array.from({ length: 20 }, () => 500));
    const n = notifier();
    stopAll.push(() => n.stop(), r.close);
    const record = n.enqueue(request(`${r.url}/n`, 'ORDER', 1));
    await until('giving up', () => record.status === 'FAILED');
    expect(record.attempts).toBe(10);
    const times = record.history.map((h) => Date.parse(h.at));
    // 5, 10, 20 ... 1280 ms: the last gap is at least the ninth backoff.
    expect(times[9] - times[8]).toBeGreaterThanOrEqual(5 * 2 ** 8 - 5);
    expect(times[1] - times[0]).toBeLessThan(5 * 2 ** 8);
    await new Promise((res) => setTimeout(res, 50));
    expect(r.received).toHaveLength(10);
  });

  it('counts an unreachable receiver as a failed attempt', async () => {
    const n = notifier();
    stopAll.push(() => n.stop());
    const record = n.enqueue(request('http://127.0.0.1:1/n', 'ORDER', 1));
    await until('a retry', () => record.attempts >= 2);
    expect(record.status).toBe('RETRYING');
    expect(record.history[0].error).toMatch(/fetch failed|ECONNREFUSED/);
  });

  it('sends a duplicate copy with the same notificationId and body when the duplicate rate picks it', async () => {
    const r = await receiver();
    const n = notifier({ duplicateRate: 1 });
    stopAll.push(() => n.stop(), r.close);
    const record = n.enqueue(request(`${r.url}/n`, 'ORDER', 1));
    await until('two deliveries', () => record.delivered === 2);
    expect(r.received.map((x) => x.body)).toEqual([record.body, record.body]);
    expect(r.received.every((x) => x.verified)).toBe(true);
    expect(record).toMatchObject({ duplicate: true, status: 'DELIVERED', attempts: 2 });
  });

  it('delivers the notifications of one order in order, a failing one holding back the next', async () => {
    const r = await receiver([500, 500]);
    const n = notifier();
    stopAll.push(() => n.stop(), r.close);
    const records = [
      n.enqueue(request(`${r.url}/n`, 'ORDER', 1)),
      n.enqueue(request(`${r.url}/n`, 'REFUND', 2)),
    ];
    n.enqueue(request(`${r.url}/n`, 'REFUND', 3));
    await until('all delivered', () => n.list('m1', 'pay-1').every((x) => x.status === 'DELIVERED'));
    expect(r.received.map((x) => JSON.parse(x.body).type)).toEqual([
      'ORDER',
      'ORDER',
      'ORDER',
      'REFUND',
      'REFUND',
    ]);
    expect(records[0].attempts).toBe(3);
  });

  it('with reorder, sends the notifications pending together newest first', async () => {
    const r = await receiver();
    const n = notifier({ reorder: true, notifyDelayMs: 100 });
    stopAll.push(() => n.stop(), r.close);
    for (const [type, i] of [
      ['ORDER', 1],
      ['REFUND', 2],
      ['REFUND', 3],
    ] as const)
      n.enqueue(request(`${r.url}/n`, type, i));
    await until('all delivered', () => r.received.length === 3);
    expect(r.received.map((x) => JSON.parse(x.body).refund?.outRefundNo ?? 'order')).toEqual([
      'r3',
      'r2',
      'order',
    ]);
    expect(n.list('m1', 'pay-1').every((x) => x.reordered)).toBe(true);
  });

  it('stops sending on stop()', async () => {
    const r = await receiver();
    const n = notifier({ notifyDelayMs: 200 });
    stopAll.push(r.close);
    const record = n.enqueue(request(`${r.url}/n`, 'ORDER', 1));
    n.stop();
    await new Promise((res) => setTimeout(res, 300));
    expect(record.attempts).toBe(0);
    expect(r.received).toEqual([]);
  });
});
