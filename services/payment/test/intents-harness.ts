// Shared set-up of the payment intent, refund and fund-flow suites: the payment service (in-process) on its
// own database, real sandbox channel processes, tokens from a TestIssuer, and helpers to configure
// a project's channels over gRPC, to read the outbox and to craft signed notifications.
import { createHmac, randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import {
  ChannelKind,
  CreatePaymentRequest,
  Payment,
  PaymentScenario,
  PaymentServiceService,
  PaymentStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import {
  PromiseClient,
  SandboxChannelProcess,
  SandboxConfig,
  ServiceHarness,
  spawnSandboxChannel,
  startServiceHarness,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { definition } from '../src/definition';
export { errorCode, errorField, grpcError } from '@citybase/platform/testing';

export type PaymentClient = PromiseClient<typeof PaymentServiceService>;

/** Everything an operator's scenario app may do with payments. */
export const APP_SCOPES = ['payment:write', 'payment:read', 'payment:refund', 'payment:supervise'];
const ADMIN_SCOPES = [
  'city:admin',
  'payment:channels.admin',
  'payment:channels.write',
  'payment:read',
  'payment:supervise',
];

export interface Harness extends ServiceHarness<typeof PaymentServiceService> {
  /** Unrestricted city administrator (channel catalog, any project). */
  admin: PaymentClient;
  /** A scenario app of operator op-1, always the same client id (request ids are per client). */
  app: PaymentClient;
  sandboxes: SandboxChannelProcess[];
}

/** The payment service in-process (startServiceHarness) with real sandbox channel processes. */
export async function startHarness(
  opts: { env?: Record<string, string>; sandboxes?: number } = {},
): Promise<Harness> {
  const sandboxes: SandboxChannelProcess[] = [];
  const stopSandboxes = async () => {
    for (const s of sandboxes.splice(0).reverse()) await s.stop().catch(() => undefined);
  };
  try {
    for (let i = 0; i < (opts.sandboxes ?? 1); i++) sandboxes.push(await spawnSandboxChannel());
    const h = await startServiceHarness({
      definition,
      grpcService: PaymentServiceService,
      label: 'payment',
      env: () => opts.env ?? {},
      scopes: APP_SCOPES,
    });
    return {
      ...h,
      admin: h.clientOf({}, ADMIN_SCOPES),
      app: h.clientOf({ operators: ['op-1'] }),
      sandboxes: [...sandboxes],
      // the service first, its channels after
      stop: () => h.stop().then(stopSandboxes),
    };
  } catch (err) {
    await stopSandboxes();
    throw err;
  }
}

export interface ChannelSpec {
  sandbox: SandboxChannelProcess;
  /** Default: a fresh one. */
  channelId?: string;
  priority?: number;
  weight?: number;
  scenarios?: PaymentScenario[];
}

export interface ConfiguredChannel {
  channelId: string;
  merchantNo: string;
  key: string;
  sandbox: SandboxChannelProcess;
}

/**
 * Registers each channel in the catalog (once), gives the project an account at it (and the
 * merchant to the sandbox), and sets the project's routing rules, all over gRPC.
 */
export async function configureProject(
  h: Harness,
  tenancy: { operatorId: string; projectId: string },
  specs: ChannelSpec[],
): Promise<ConfiguredChannel[]> {
  const configured: ConfiguredChannel[] = [];
  const ref = { operatorId: tenancy.operatorId, projectId: tenancy.projectId, merchantId: '' };
  for (const spec of specs) {
    const channelId =
      spec.channelId ??
      uniqueName('ch')
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-')
        .slice(0, 40);
    const listed = await h.admin.listChannels({});
    if (!listed.channels.some((c) => c.channelId === channelId)) {
      await h.admin.registerChannel({
        requestId: uniqueName('reg'),
        channelId,
        kind: ChannelKind.CHANNEL_KIND_SANDBOX,
        displayName: `sandbox ${channelId}`,
        endpoint: spec.sandbox.url,
      });
    }
    const merchantNo = uniqueName('m').slice(0, 64);
    const key = randomBytes(24).toString('hex');
    await spec.sandbox.registerMerchant(merchantNo, key);
    await h.admin.configureProjectChannel({
      requestId: uniqueName('cfg'),
      tenancy: ref,
      channelId,
      merchantNo,
      credentials: key,
      enabled: true,
    });
    configured.push({ channelId, merchantNo, key, sandbox: spec.sandbox });
  }
  await h.admin.setRoutingRules({
    requestId: uniqueName('rules'),
    tenancy: ref,
    rules: specs.map((s, i) => ({
      channelId: configured[i]!.channelId,
      priority: s.priority ?? i,
      weight: s.weight ?? 100,
      scenarios: s.scenarios ?? [],
      minAmountMinor: 0n,
      maxAmountMinor: 0n,
    })),
  });
  return configured;
}

export function paymentRequest(over: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest {
  return {
    requestId: uniqueName('req'),
    tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' },
    merchantId: 'm-1',
    scenario: PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE,
    amount: { currency: 'CNY', amountMinor: 12_345n },
    payerRef: 'resident-42',
    description: 'property fee 2026-11',
    expiresInSeconds: 0,
    profitSharing: false,
    ...over,
  };
}

/** Waits until the payment (as the app client sees it) has the status; returns it then. */
export async function awaitStatus(
  client: PaymentClient,
  paymentId: string,
  want: PaymentStatus,
  timeoutMs = 30_000,
): Promise<Payment> {
  let last: Payment | undefined;
  try {
    return await waitFor(
      `payment ${paymentId} ${PaymentStatus[want]}`,
      async () => {
        last = (await client.getPayment({ paymentId })).payment;
        return last?.status === want ? last : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen ${last ? PaymentStatus[last.status] : 'nothing'}`);
  }
}

/** Event types written to the outbox for a payment (its partition key), in commit order. */
export async function eventTypes(pg: Client, paymentId: string): Promise<string[]> {
  const { rows } = await pg.query<{ event_type: string }>(
    `SELECT event_type FROM outbox WHERE partition_key = $1 ORDER BY id`,
    [paymentId],
  );
  return rows.map((r) => r.event_type.replace('citybase.payment.v1.', ''));
}

type PaymentEventName = keyof typeof PaymentEvents;

/** The decoded payloads of one type of event of a payment. */
export async function events<K extends PaymentEventName>(
  pg: Client,
  paymentId: string,
  type: K,
): Promise<ReturnType<(typeof PaymentEvents)[K]['codec']['decode']>[]> {
  const def = PaymentEvents[type];
  const { rows } = await pg.query<{ payload: Buffer }>(
    `SELECT payload FROM outbox WHERE partition_key = $1 AND event_type = $2 ORDER BY id`,
    [paymentId, def.type],
  );
  return rows.map(
    (r) => def.codec.decode(r.payload) as ReturnType<(typeof PaymentEvents)[K]['codec']['decode']>,
  );
}

/**
 * Row counts of what payment intents write: what "nothing written" is checked against. Received
 * notifications are counted per payment (notificationsOf): a late notification of another payment
 * that changes nothing may still arrive during a test.
 */
export async function intentCounts(pg: Client): Promise<Record<string, number>> {
  const { rows } = await pg.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM payments) AS payments,
            (SELECT count(*)::int FROM refunds) AS refunds,
            (SELECT count(*)::int FROM payment_channel_orders) AS channel_orders,
            (SELECT count(*)::int FROM outbox) AS events,
            (SELECT count(*)::int FROM idempotency_keys) AS request_keys,
            (SELECT coalesce(sum(version), 0)::int FROM payments) AS versions`,
  );
  return rows[0] as Record<string, number>;
}

/** Notifications received (verified and recorded) for one payment. */
export async function notificationsOf(pg: Client, paymentId: string): Promise<number> {
  const { rows } = await pg.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM channel_notifications WHERE payment_id = $1',
    [paymentId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Lines the payment process logged about its own machinery failing (a reconciler pass, a
 * notification it could not apply, an unexpected error in a handler): none are expected in a run.
 */
export function machineryFailures(output: string): string[] {
  return output
    .split('\n')
    .filter((l) =>
      /reconciler pass failed|reconciliation failed|notification not applied|closing a stray order failed|"level":50.*"err"/.test(
        l,
      ),
    );
}

export { status };

/** What the sandbox sent for an order (GET /sandbox/orders/{id}/notifications). */
export interface SentNotification {
  notificationId: string;
  type: 'ORDER' | 'REFUND';
  body: string;
  duplicate: boolean;
  status: string;
  attempts: number;
  delivered: number;
}

/** The notifications the sandbox sent for an order (test control API). */
export async function sentNotifications(
  sandbox: SandboxChannelProcess,
  paymentId: string,
): Promise<SentNotification[]> {
  const res = await fetch(`${sandbox.url}/sandbox/orders/${paymentId}/notifications`);
  if (!res.ok)
    throw new Error(`sandbox notifications of ${paymentId}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { notifications: SentNotification[] }).notifications;
}

/** The order as the sandbox's API answers it to the merchant (a signed GET /v1/orders/{id}). */
export async function sandboxOrder(
  channel: ConfiguredChannel,
  paymentId: string,
): Promise<{ status: string; amount: string; refunded: string } | undefined> {
  const path = `/v1/orders/${paymentId}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(12).toString('hex');
  const res = await fetch(`${channel.sandbox.url}${path}`, {
    headers: {
      'x-sandbox-merchant': channel.merchantNo,
      'x-sandbox-timestamp': timestamp,
      'x-sandbox-nonce': nonce,
      'x-sandbox-signature': sign(channel.key, 'GET', path, timestamp, nonce, ''),
    },
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`sandbox order ${paymentId}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { status: string; amount: string; refunded: string };
}

/** Signs like the sandbox does (docs/sandbox-channel.md): lowercase hex HMAC-SHA256. */
export function sign(
  key: string,
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return createHmac('sha256', key)
    .update(`${method}\n${path}\n${timestamp}\n${nonce}\n${body}`)
    .digest('hex');
}

/**
 * POSTs a notification to the payment service's notify route, signed with `key` (or with the
 * headers given), and answers the HTTP status.
 */
export async function postNotification(
  h: Harness,
  channel: { channelId: string; merchantNo: string },
  paymentId: string,
  body: string,
  opts: { key: string; signedBody?: string; headers?: Record<string, string> },
): Promise<number> {
  const path = `/channels/${channel.channelId}/notifications/${paymentId}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(12).toString('hex');
  const headers = opts.headers ?? {
    'x-sandbox-merchant': channel.merchantNo,
    'x-sandbox-timestamp': timestamp,
    'x-sandbox-nonce': nonce,
    'x-sandbox-signature': sign(opts.key, 'POST', path, timestamp, nonce, opts.signedBody ?? body),
  };
  const res = await fetch(`${h.svc.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  await res.text();
  return res.status;
}

/** An order notification body as the sandbox sends it. */
export function orderNotification(
  paymentId: string,
  order: { status: 'NOTPAY' | 'SUCCESS' | 'PAYERROR' | 'CLOSED'; amount: bigint; transactionId?: string },
  notificationId = `N${randomBytes(16).toString('hex')}`,
): string {
  return JSON.stringify({
    notificationId,
    type: 'ORDER',
    order: {
      outTradeNo: paymentId,
      status: order.status,
      amount: order.amount.toString(),
      currency: 'CNY',
      payUrl: 'http://sandbox.invalid/pay',
      ...(order.transactionId && { transactionId: order.transactionId, paidAt: new Date().toISOString() }),
      profitSharing: false,
      held: '0',
      refunded: '0',
    },
  });
}

/** The day (YYYY-MM-DD) of an instant in the city's time zone, UTC+8. */
export function cityDay(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

export type { SandboxConfig };
