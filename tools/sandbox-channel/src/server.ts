// The sandbox's HTTP face (node:http): the signed provider API under /v1, with the configured
// latency, failures and timeouts, and the unsigned payer and test-control endpoints under /sandbox.
// Every request is answered from a try/catch: bad input is a 4xx, a bug a 500, never a crash.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { applyBehaviourPatch, SandboxConfigError, type Behaviour } from './config';
import { ProviderError, paramError } from './errors';
import { Notifier } from './notifier';
import { SandboxProvider } from './provider';
import {
  idSegment,
  parseCreateOrder,
  parseJsonObject,
  parseMerchant,
  parsePay,
  parseRefund,
  parseSplit,
  parseSplitReturn,
  parseUnfreeze,
} from './requests';
import { HEADER_MERCHANT, verifyHeaders } from './signing';

/** Largest body read: 1 MiB. A larger one is answered 400 PARAM_ERROR. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Beyond this the upload is not even drained: answered and the connection closed. */
const DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES;
/** A call picked by SANDBOX_TIMEOUT_RATE is held unanswered at most this long, then its socket is destroyed. */
export const HOLD_MS = 60_000;

export interface SandboxServerOptions {
  behaviour: Behaviour;
  logger: Logger;
  random?: () => number;
  now?: () => number;
  holdMs?: number;
  /** Notification retry base (1 s in the contract; smaller only in unit tests). */
  notifyRetryBaseMs?: number;
}

interface Answer {
  status: number;
  body: string;
  contentType: string;
}

type Body = { kind: 'ok'; raw: Buffer } | { kind: 'too-large'; drained: boolean } | { kind: 'aborted' };

const json = (status: number, value: unknown): Answer => ({
  status,
  body: JSON.stringify(value),
  contentType: 'application/json; charset=utf-8',
});

const errorAnswer = (err: ProviderError): Answer =>
  json(err.status, { code: err.code, message: err.message });

export class SandboxServer {
  readonly provider: SandboxProvider;
  readonly notifier: Notifier;
  private readonly server: Server;
  private readonly held = new Set<Socket>();
  private readonly random: () => number;
  private readonly holdMs: number;
  private behaviour: Behaviour;
  private baseUrl = 'http://127.0.0.1';

  constructor(private readonly options: SandboxServerOptions) {
    this.behaviour = { ...options.behaviour };
    this.random = options.random ?? Math.random;
    this.holdMs = options.holdMs ?? HOLD_MS;
    this.notifier = new Notifier({
      behaviour: () => this.behaviour,
      keyOf: (m) => this.provider.keyOf(m),
      logger: options.logger,
      random: this.random,
      now: options.now,
      retryBaseMs: options.notifyRetryBaseMs,
    });
    this.provider = new SandboxProvider({
      behaviour: () => this.behaviour,
      notify: (n) => this.notifier.enqueue(n),
      payUrl: (outTradeNo) => `${this.baseUrl}/sandbox/orders/${encodeURIComponent(outTradeNo)}/pay`,
      now: options.now,
      random: this.random,
    });
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        options.logger.error({ err }, 'request handling failed');
        if (!res.headersSent) this.send(res, json(500, { code: 'SYSTEM_ERROR', message: 'internal error' }));
        else res.destroy();
      });
    });
  }

  /** Starts listening; resolves with the base URL. */
  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        const actualPort = typeof address === 'object' && address ? address.port : port;
        this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
        resolve(this.baseUrl);
      });
    });
  }

  /** Stops taking requests, drops held calls and pending notifications, waits for the server to close. */
  async close(graceMs = 2000): Promise<void> {
    this.notifier.stop();
    this.provider.stop();
    for (const socket of this.held) socket.destroy();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const force = setTimeout(() => this.server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(force);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const target = req.url ?? '/';
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    if (body.kind === 'aborted') return;
    const log = (status: number | 'held') =>
      this.options.logger.info(
        { method, path: target, status, ms: Date.now() - started, merchant: req.headers[HEADER_MERCHANT] },
        'request',
      );

    let segments: string[];
    try {
      segments = target
        .split('?', 1)[0]
        .split('/')
        .slice(1)
        .map((s) => decodeURIComponent(s));
    } catch {
      const answer = errorAnswer(paramError('path', 'must be validly percent-encoded'));
      this.send(res, answer, body);
      return log(answer.status);
    }

    if (segments[0] === 'v1') {
      const route = this.apiRoute(method, segments);
      if (!route.found) {
        const answer = json(route.status, { code: route.code, message: `${method} ${target}` });
        this.send(res, answer, body);
        return log(answer.status);
      }
      const behaviour = this.behaviour;
      if (this.random() < behaviour.failureRate) {
        await delay(behaviour.latencyMs);
        const answer = json(503, {
          code: 'SYSTEM_ERROR',
          message: 'the provider is unavailable (sandbox failure rate)',
        });
        this.send(res, answer, body);
        return log(answer.status);
      }
      await delay(behaviour.latencyMs);
      const answer = this.api(req, method, target, body, route.run);
      if (this.random() < behaviour.timeoutRate) {
        this.hold(req);
        return log('held');
      }
      this.send(res, answer, body);
      return log(answer.status);
    }

    const answer = this.control(req, method, segments, body);
    this.send(res, answer, body);
    log(answer.status);
  }

  /** A signed API call: size, then signature, then body, then the provider. */
  private api(
    req: IncomingMessage,
    method: string,
    target: string,
    body: Exclude<Body, { kind: 'aborted' }>,
    run: Handler,
  ): Answer {
    try {
      if (body.kind === 'too-large') throw paramError('body', `must be at most ${MAX_BODY_BYTES} bytes`);
      const check = verifyHeaders(req.headers, (m) => this.provider.keyOf(m), method, target, body.raw);
      if (!check.ok) return json(401, { code: check.code, message: check.message });
      return run(check.merchantNo, body.raw);
    } catch (err) {
      if (err instanceof ProviderError) return errorAnswer(err);
      throw err;
    }
  }

  /** Payer and test control: not signed. */
  private control(
    req: IncomingMessage,
    method: string,
    segments: string[],
    body: Exclude<Body, { kind: 'aborted' }>,
  ): Answer {
    try {
      const raw = () => {
        if (body.kind === 'too-large') throw paramError('body', `must be at most ${MAX_BODY_BYTES} bytes`);
        return body.raw;
      };
      const merchantHeader = () => {
        const v = req.headers[HEADER_MERCHANT];
        return typeof v === 'string' && v !== '' ? v : undefined;
      };
      const [a, b, c, d, ...rest] = segments;
      const is = (m: string, n: number) => method === m && segments.length === n && rest.length === 0;
      if (a === 'healthz' && segments.length === 1) {
        return method === 'GET' ? json(200, { status: 'ok' }) : notAllowed(method);
      }
      if (a !== 'sandbox') return notFound(method, segments);
      if (b === 'merchants' && segments.length === 2) {
        if (!is('POST', 2)) return notAllowed(method);
        const { merchantNo, key } = parseMerchant(parseJsonObject(raw()));
        this.provider.registerMerchant(merchantNo, key);
        return json(200, { merchantNo });
      }
      if (b === 'config' && segments.length === 2) {
        if (method === 'GET') return json(200, this.behaviour);
        if (!is('PUT', 2)) return notAllowed(method);
        let patch: unknown;
        try {
          patch = JSON.parse(raw().toString('utf8'));
        } catch {
          throw paramError('body', 'must be valid JSON');
        }
        try {
          this.behaviour = applyBehaviourPatch(this.behaviour, patch);
        } catch (err) {
          if (err instanceof SandboxConfigError) {
            return json(400, { code: 'PARAM_ERROR', message: err.problems.join('; ') });
          }
          throw err;
        }
        this.options.logger.info({ behaviour: this.behaviour }, 'behaviour changed');
        return json(200, this.behaviour);
      }
      if (b === 'orders' && c !== undefined && segments.length === 4) {
        const outTradeNo = idSegment(c, 'outTradeNo');
        if (d === 'pay') {
          if (!is('POST', 4)) return notAllowed(method);
          const outcome = parsePay(parseJsonObject(raw()));
          return json(200, this.provider.pay(outTradeNo, outcome, merchantHeader()));
        }
        if (d === 'notifications') {
          if (!is('GET', 4)) return notAllowed(method);
          const order = this.provider.locateOrder(outTradeNo, merchantHeader());
          return json(200, {
            ...order,
            notifications: this.notifier.list(order.merchantNo, order.outTradeNo),
          });
        }
      }
      return notFound(method, segments);
    } catch (err) {
      if (err instanceof ProviderError) return errorAnswer(err);
      throw err;
    }
  }

  /** Does not answer: the socket stays open until the client gives up, or HOLD_MS at the latest. */
  private hold(req: IncomingMessage): void {
    const socket = req.socket;
    this.held.add(socket);
    const timer = setTimeout(() => socket.destroy(), this.holdMs);
    socket.once('close', () => {
      clearTimeout(timer);
      this.held.delete(socket);
    });
  }

  private send(res: ServerResponse, answer: Answer, body?: Body): void {
    if (res.destroyed) return;
    const headers: Record<string, string | number> = {
      'content-type': answer.contentType,
      'content-length': Buffer.byteLength(answer.body),
    };
    // An upload we stopped reading cannot share its connection with the next request.
    if (body?.kind === 'too-large' && !body.drained) headers.connection = 'close';
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  // ---- API routes ---------------------------------------------------------------------------------

  /** Routes are matched before anything else, so an unknown path is a plain 404 (no faults, no auth). */
  private apiRoute(method: string, segments: string[]): Route {
    const [, resource, id, action, ...extra] = segments;
    const r = this.routes;
    const only = (allowed: string, run: Handler): Route =>
      method === allowed ? { found: true, run } : { found: false, status: 405, code: 'METHOD_NOT_ALLOWED' };
    if (extra.length > 0) return NO_ROUTE;
    switch (resource) {
      case 'orders':
        if (id === undefined) return only('POST', r.createOrder);
        if (action === undefined) return only('GET', r.getOrder(id));
        if (action === 'close') return only('POST', r.closeOrder(id));
        break;
      case 'refunds':
        if (id === undefined) return only('POST', r.refund);
        if (action === undefined) return only('GET', r.getRefund(id));
        break;
      case 'splits':
        if (id === undefined) return only('POST', r.split);
        if (id === 'unfreeze' && action === undefined) return only('POST', r.unfreeze);
        break;
      case 'split-returns':
        if (id === undefined) return only('POST', r.splitReturn);
        break;
      case 'statements':
        if (id !== undefined && action === undefined) return only('GET', r.statement(id));
        break;
    }
    return NO_ROUTE;
  }

  /** The handler of each API route, run after the signature was checked. */
  private readonly routes = {
    createOrder: (merchantNo: string, raw: Buffer) =>
      json(200, this.provider.createOrder(merchantNo, parseCreateOrder(parseJsonObject(raw)))),
    getOrder: (outTradeNo: string) => (merchantNo: string) =>
      json(200, this.provider.getOrder(merchantNo, idSegment(outTradeNo, 'outTradeNo'))),
    closeOrder: (outTradeNo: string) => (merchantNo: string) =>
      json(200, this.provider.closeOrder(merchantNo, idSegment(outTradeNo, 'outTradeNo'))),
    refund: (merchantNo: string, raw: Buffer) =>
      json(200, this.provider.refund(merchantNo, parseRefund(parseJsonObject(raw)))),
    getRefund: (outRefundNo: string) => (merchantNo: string) =>
      json(200, this.provider.getRefund(merchantNo, idSegment(outRefundNo, 'outRefundNo'))),
    split: (merchantNo: string, raw: Buffer) =>
      json(200, this.provider.split(merchantNo, parseSplit(parseJsonObject(raw)))),
    unfreeze: (merchantNo: string, raw: Buffer) =>
      json(200, this.provider.unfreeze(merchantNo, parseUnfreeze(parseJsonObject(raw)))),
    splitReturn: (merchantNo: string, raw: Buffer) =>
      json(200, this.provider.splitReturn(merchantNo, parseSplitReturn(parseJsonObject(raw)))),
    statement: (day: string) => (merchantNo: string) => ({
      status: 200,
      body: this.provider.statement(merchantNo, day),
      contentType: 'text/csv; charset=utf-8',
    }),
  };
}

type Handler = (merchantNo: string, raw: Buffer) => Answer;

type Route =
  | { found: true; run: Handler }
  | { found: false; status: 404 | 405; code: 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' };

const NO_ROUTE: Route = { found: false, status: 404, code: 'NOT_FOUND' };

const notAllowed = (method: string): Answer =>
  json(405, { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed here` });
const notFound = (method: string, segments: string[]): Answer =>
  json(404, { code: 'NOT_FOUND', message: `${method} /${segments.join('/')}` });

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/**
 * The raw body, up to MAX_BODY_BYTES. A larger one is drained (up to DRAIN_LIMIT_BYTES) so the
 * client can read the 400, beyond that reading stops.
 */
function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (body: Body) => {
      if (settled) return;
      settled = true;
      resolve(body);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
      if (size > DRAIN_LIMIT_BYTES) {
        req.pause();
        finish({ kind: 'too-large', drained: false });
      }
    });
    req.on('end', () =>
      finish(
        size > MAX_BODY_BYTES
          ? { kind: 'too-large', drained: true }
          : { kind: 'ok', raw: Buffer.concat(chunks) },
      ),
    );
    req.on('error', () => finish({ kind: 'aborted' }));
    req.on('close', () => finish({ kind: 'aborted' }));
  });
}
