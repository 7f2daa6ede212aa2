import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import pino from 'pino';
import { DEFAULT_BEHAVIOUR } from './config';
import { MAX_BODY_BYTES, SandboxServer } from './server';
import { signedHeaders } from './signing';

// The HTTP layer in-process (the built process is tested in test/sandbox.int-spec.ts): what needs a
// shorter hold than the real 60 s, or raw sockets.
describe('SandboxServer', () => {
  let sandbox: SandboxServer;
  let url: string;

  beforeEach(async () => {
    sandbox = new SandboxServer({
      behaviour: { ...DEFAULT_BEHAVIOUR },
      logger: pino({ level: 'silent' }),
      holdMs: 300,
    });
    url = await sandbox.listen(0, '127.0.0.1');
    sandbox.provider.registerMerchant('m1', 'key-1');
  });
  afterEach(async () => {
    await sandbox.close(200);
  });

  const signed = (method: string, path: string, body = '') =>
    fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...signedHeaders('m1', 'key-1', method, path, body) },
      body: method === 'GET' ? undefined : body,
    });

  const orderBody = (outTradeNo: string) =>
    JSON.stringify({
      outTradeNo,
      amount: '100',
      currency: 'CNY',
      description: 'x',
      notifyUrl: 'http://127.0.0.1:1/n',
      expireAt: new Date(Date.now() + 60_000).toISOString(),
      profitSharing: false,
    });

  it('holds a call picked by the timeout rate after doing its work, and destroys the socket after the hold', async () => {
    await fetch(`${url}/sandbox/config`, { method: 'PUT', body: JSON.stringify({ timeoutRate: 1 }) });
    const body = orderBody('held-1');
    const started = Date.now();
    // A client without its own timeout: only the sandbox's hold ends the call.
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest(`${url}/v1/orders`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signedHeaders('m1', 'key-1', 'POST', '/v1/orders', body),
        },
      });
      req.on('response', (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      req.end(body);
    });
    expect(outcome).toBe('error ECONNRESET');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(sandbox.provider.getOrder('m1', 'held-1').status).toBe('NOTPAY');
  });

  it('answers 503 without doing anything under the failure rate', async () => {
    await fetch(`${url}/sandbox/config`, { method: 'PUT', body: JSON.stringify({ failureRate: 1 }) });
    const res = await signed('POST', '/v1/orders', orderBody('failed-1'));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: 'SYSTEM_ERROR' });
    expect(() => sandbox.provider.getOrder('m1', 'failed-1')).toThrow('does not exist');
  });

  it('refuses a body over 1 MiB with PARAM_ERROR, signed or not, and reads one of exactly 1 MiB', async () => {
    const huge = `{"description":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    for (const res of [
      await signed('POST', '/v1/orders', huge),
      await fetch(`${url}/v1/orders`, { method: 'POST', body: huge }),
      await fetch(`${url}/sandbox/merchants`, { method: 'POST', body: huge }),
    ]) {
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        code: 'PARAM_ERROR',
        message: `body: must be at most ${MAX_BODY_BYTES} bytes`,
      });
    }
    const exact = `{"pad":"${'x'.repeat(MAX_BODY_BYTES - 10)}"}`;
    expect(Buffer.byteLength(exact)).toBe(MAX_BODY_BYTES);
    const res = await signed('POST', '/v1/orders', exact);
    expect(await res.json()).toEqual({ code: 'PARAM_ERROR', message: 'outTradeNo: required' });
  });

  it('answers an upload far beyond the limit and closes the connection', async () => {
    const res = await fetch(`${url}/sandbox/merchants`, {
      method: 'POST',
      body: Buffer.alloc(20 * MAX_BODY_BYTES, 0x61),
    }).catch((err: Error) => err);
    // Either the 400 arrives or the upload is cut off; the process stays up either way.
    if (!(res instanceof Error)) expect(res.status).toBe(400);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('checks the signature before the body, and the body before anything is written', async () => {
    const unsigned = await fetch(`${url}/v1/orders`, { method: 'POST', body: '{' });
    expect(unsigned.status).toBe(401);
    const malformed = await signed('POST', '/v1/orders', '{"outTradeNo":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ code: 'PARAM_ERROR', message: 'body: must be valid JSON' });
  });

  it('answers unknown paths 404, wrong methods 405 and bad percent-encoding 400', async () => {
    expect((await fetch(`${url}/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
    expect((await fetch(`${url}/v1/orders`)).status).toBe(405);
    expect((await fetch(`${url}/healthz`, { method: 'POST' })).status).toBe(405);
    const bad = await fetch(`${url}/v1/orders/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      code: 'PARAM_ERROR',
      message: 'path: must be validly percent-encoded',
    });
    const badId = await signed('GET', '/v1/orders/a%2Fb');
    expect(await badId.json()).toMatchObject({
      code: 'PARAM_ERROR',
      message: expect.stringMatching(/^outTradeNo: /),
    });
  });

  it('survives bytes that are not HTTP', async () => {
    await new Promise<void>((resolve) => {
      const port = Number(new URL(url).port);
      const socket = connect(port, '127.0.0.1', () => socket.end('\u0000\u0001GARBAGE \r\n\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
