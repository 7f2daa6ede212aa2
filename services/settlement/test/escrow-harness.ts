// Set-up of the escrow suites: the settlement service (in-process) on its own database and topic namespace,
// tokens from a TestIssuer, gRPC clients per tenancy, the fake payment (escrow-fakes.ts) that
// publishes payment's events and answers settlement's instructions, and helpers to read balances
// and row counts straight from the service's database.
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { PromiseClient, ServiceHarness, startServiceHarness, waitFor } from '@citybase/platform/testing';
import {
  AccountKind,
  EscrowOrder,
  SettlementServiceService,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentEvents } from '@citybase/contracts/events';
import { definition } from '../src/definition';
import { clearAccountCache } from '../src/ledger/ledger.store';
import { FakePayment } from './escrow-fakes';
export { errorCode, errorField, grpcError } from '@citybase/platform/testing';

export type SettlementClient = PromiseClient<typeof SettlementServiceService>;

/** What a scenario app and the operator's back office may do with escrow. */
export const ESCROW_SCOPES = [
  'settlement:read',
  'settlement:write',
  'settlement:configure',
  'settlement:mediate',
  'settlement:tax',
];

export interface EscrowHarness extends ServiceHarness<typeof SettlementServiceService> {
  fake: FakePayment;
}

export async function startEscrowHarness(env: Record<string, string> = {}): Promise<EscrowHarness> {
  // the service runs in this process: its cache of account ids must not outlive an earlier database
  clearAccountCache();
  const h = await startServiceHarness({
    definition,
    grpcService: SettlementServiceService,
    label: 'escrow',
    env: () => ({
      DATABASE_POOL_SIZE: '10',
      SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS: '200',
      LOG_LEVEL: 'warn',
      ...env,
    }),
    scopes: ESCROW_SCOPES,
  });
  h.onStop(() => clearAccountCache());
  try {
    const fake = await FakePayment.start(h.topicPrefix);
    h.onStop(() => fake.stop());
    return { ...h, fake };
  } catch (err) {
    await h.stop();
    throw err;
  }
}

/** An account's balance on its normal side, 0 when it does not exist (yet). */
export async function balance(
  pool: Pool,
  kind: AccountKind,
  key: { operatorId: string; projectId?: string; merchantId?: string; ownerRef?: string; currency?: string },
): Promise<bigint> {
  const { rows } = await pool.query<{ b: string }>(
    `SELECT coalesce(sum(b.normal_side * b.balance_minor), 0)::text AS b
       FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
      WHERE a.kind = $1 AND a.operator_id = $2 AND a.project_id = $3 AND a.merchant_id = $4 AND a.owner_ref = $5
        AND a.currency = $6`,
    [
      kind,
      key.operatorId,
      key.projectId ?? '',
      key.merchantId ?? '',
      key.ownerRef ?? '',
      key.currency ?? 'CNY',
    ],
  );
  return BigInt(rows[0]!.b);
}

/** Rows of every table escrow writes, plus the outbox and the request ids: "nothing written" checks. */
export async function escrowCounts(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM escrow_orders) AS orders,
            (SELECT count(*)::int FROM escrow_refunds) AS refunds,
            (SELECT count(*)::int FROM escrow_channel_instructions) AS instructions,
            (SELECT count(*)::int FROM split_rules) AS rules,
            (SELECT count(*)::int FROM tax_records) AS tax_records,
            (SELECT count(*)::int FROM outbox) AS outbox,
            (SELECT count(*)::int FROM idempotency_keys) AS request_ids,
            (SELECT count(*)::int FROM ledger_transactions) AS ledger_transactions,
            (SELECT coalesce(sum(extract(epoch FROM updated_at)), 0)::float8 FROM escrow_orders) AS order_versions`,
  );
  return rows[0]!;
}

/**
 * Resolves once settlement has applied every event published so far with this key (payment id):
 * publishes a no-op for escrow (a RefundFailed naming no instruction) on the same key, hence the
 * same partition, and waits for it in the escrow consumer's inbox.
 */
export async function drained(h: EscrowHarness, payment: PaymentSucceeded): Promise<void> {
  const eventId = await h.fake.publish(
    PaymentEvents.RefundFailed,
    {
      refundId: randomUUID(),
      paymentId: payment.paymentId,
      tenancy: payment.tenancy,
      merchantId: payment.merchantId,
      amount: payment.amount,
      channel: payment.channel,
      reason: 'BARRIER',
      occurredAt: undefined,
      instructionId: '',
    },
    { key: payment.paymentId },
  );
  await waitFor(
    `event ${eventId} in the escrow inbox`,
    async () => {
      const { rowCount } = await h.pool.query(
        `SELECT 1 FROM inbox WHERE consumer = 'settlement.escrow' AND event_id = $1`,
        [eventId],
      );
      return rowCount === 1 ? true : undefined;
    },
    30_000,
    50,
  );
}

/** Waits until the order (as the client sees it) satisfies `ok`; returns it then. */
export function awaitOrder(
  client: SettlementClient,
  orderId: string,
  ok: (o: EscrowOrder) => boolean,
  what = 'the order',
  timeoutMs = 30_000,
): Promise<EscrowOrder> {
  return waitFor(
    `${what} (${orderId})`,
    async () => {
      const { order } = await client.getEscrowOrder({ orderId });
      return order && ok(order) ? order : undefined;
    },
    timeoutMs,
    50,
  );
}

/**
 * Error lines of the service's output (a handler that failed, even once, a dead-lettered event, a
 * failed job pass),
 * except the alerts a test provoked on purpose (e.g. "CHANNEL_SPLIT_FAILED").
 */
export function failures(output: string, expectedAlerts: string[] = []): string[] {
  return (
    output
      .split('\n')
      // a deadlock or serialization failure the inbox retries ("infrastructure failure; retrying", a
      // warning) is the platform working as designed under concurrency; a failing handler is not
      .filter((l) => /"level":"(error|fatal)"|handler failed/.test(l))
      .filter((l) => !expectedAlerts.some((a) => l.includes(`"alert":"${a}"`)))
  );
}
