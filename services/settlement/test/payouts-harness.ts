// Set-up of the payouts suites: the settlement service (in-process) on its own database, tokens from a
// TestIssuer, gRPC clients per tenancy, and ledger postings made directly in the service's database
// to give accounts the balances a test needs (escrow's flows that credit them are tested elsewhere).
import { status } from '@grpc/grpc-js';
import type { Pool } from 'pg';
import { withTransaction } from '@citybase/platform';
import { PromiseClient, ServiceHarness, startServiceHarness, uniqueName } from '@citybase/platform/testing';
import { AccountKind, SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { SettlementEvents } from '@citybase/contracts/events';
import { definition } from '../src/definition';
import { AccountKey, clearAccountCache, ensureAccount, post } from '../src/ledger/ledger.store';
export { errorCode, errorField, grpcError } from '@citybase/platform/testing';

export type SettlementClient = PromiseClient<typeof SettlementServiceService>;

/** What an operator's back office may do with payouts, wallets and reconciliation. */
export const OPERATOR_SCOPES = [
  'settlement:read',
  'settlement:wallet',
  'settlement:payout',
  'settlement:reconcile',
];

export type PayoutsHarness = ServiceHarness<typeof SettlementServiceService>;

export async function startPayoutsHarness(env: Record<string, string> = {}): Promise<PayoutsHarness> {
  // account ids are cached per process (the service's and this suite's postings share the cache)
  clearAccountCache();
  const h = await startServiceHarness({
    definition,
    grpcService: SettlementServiceService,
    label: 'payouts',
    env: () => ({ DATABASE_POOL_SIZE: '20', ...env }),
    poolSize: 10,
    scopes: OPERATOR_SCOPES,
  });
  h.onStop(() => clearAccountCache());
  return h;
}

/** An account's id, created (and committed) if needed. */
export function accountId(pool: Pool, key: AccountKey): Promise<string> {
  return withTransaction(pool, (c) => ensureAccount(c, key));
}

/** Posts Dr `debit` / Cr `credit` of `amount` directly with the ledger API. */
export async function transfer(
  pool: Pool,
  t: {
    key: string;
    debit: AccountKey;
    credit: AccountKey;
    amount: bigint;
    kind?: string;
    reference?: string;
    operatorId?: string;
    projectId?: string;
  },
): Promise<string> {
  const debit = await accountId(pool, t.debit);
  const credit = await accountId(pool, t.credit);
  const tx = await withTransaction(pool, (c) =>
    post(c, {
      kind: t.kind ?? 'test_seed',
      idempotencyKey: t.key,
      currency: t.debit.currency,
      operatorId: t.operatorId ?? t.debit.operatorId,
      projectId: t.projectId ?? t.debit.projectId,
      reference: t.reference,
      lines: [
        { accountId: debit, amountMinor: t.amount },
        { accountId: credit, amountMinor: -t.amount },
      ],
    }),
  );
  return tx.txId;
}

export const keys = {
  clearing: (operatorId: string, projectId: string, channelId: string): AccountKey => ({
    kind: AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING,
    currency: 'CNY',
    operatorId,
    projectId,
    ownerRef: channelId,
  }),
  merchant: (operatorId: string, projectId: string, merchantId: string): AccountKey => ({
    kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
    currency: 'CNY',
    operatorId,
    projectId,
    merchantId,
  }),
  wallet: (operatorId: string, ownerRef: string): AccountKey => ({
    kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
    currency: 'CNY',
    operatorId,
    ownerRef,
  }),
  bank: (operatorId: string): AccountKey => ({
    kind: AccountKind.ACCOUNT_KIND_BANK,
    currency: 'CNY',
    operatorId,
  }),
  propertyShare: (operatorId: string, projectId: string): AccountKey => ({
    kind: AccountKind.ACCOUNT_KIND_PROPERTY_SHARE,
    currency: 'CNY',
    operatorId,
    projectId,
  }),
  commission: (operatorId: string): AccountKey => ({
    kind: AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION,
    currency: 'CNY',
    operatorId,
  }),
};

/** Credits a merchant's payable (Dr clearing / Cr merchant payable), as a completed order would. */
export function creditMerchant(
  pool: Pool,
  t: { operatorId: string; projectId: string; merchantId: string; amount: bigint },
): Promise<string> {
  return transfer(pool, {
    key: uniqueName('seed-merchant'),
    debit: keys.clearing(t.operatorId, t.projectId, 'seed'),
    credit: keys.merchant(t.operatorId, t.projectId, t.merchantId),
    amount: t.amount,
  });
}

/** Credits a resident's wallet (Dr clearing / Cr wallet), as a refund to the wallet would. */
export function creditWallet(
  pool: Pool,
  t: { operatorId: string; ownerRef: string; amount: bigint },
): Promise<string> {
  return transfer(pool, {
    key: uniqueName('seed-wallet'),
    debit: keys.clearing(t.operatorId, 'seed', 'seed'),
    credit: keys.wallet(t.operatorId, t.ownerRef),
    amount: t.amount,
  });
}

/** The decoded PayoutSettled events of a payout, in commit order. */
export async function payoutEvents(
  pool: Pool,
  payoutId: string,
): Promise<ReturnType<typeof SettlementEvents.PayoutSettled.codec.decode>[]> {
  const { rows } = await pool.query<{ payload: Buffer }>(
    'SELECT payload FROM outbox WHERE partition_key = $1 AND event_type = $2 ORDER BY id',
    [payoutId, SettlementEvents.PayoutSettled.type],
  );
  return rows.map((r) => SettlementEvents.PayoutSettled.codec.decode(r.payload));
}

/** Row counts of everything payouts, wallets and reconciliation write: "nothing written" is checked against it. */
export async function rowCounts(pool: Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM payouts) AS payouts,
            (SELECT count(*)::int FROM payout_batches) AS batches,
            (SELECT count(*)::int FROM wallet_fee_payments) AS fee_payments,
            (SELECT count(*)::int FROM reconciliation_reports) AS reports,
            (SELECT count(*)::int FROM reconciliation_statement_lines) AS statement_lines,
            (SELECT count(*)::int FROM ledger_transactions) AS transactions,
            (SELECT count(*)::int FROM ledger_holds) AS holds,
            (SELECT count(*)::int FROM idempotency_keys) AS idempotency_keys,
            (SELECT count(*)::int FROM outbox) AS events`,
  );
  return rows[0]!;
}

export { status };

/** Today in UTC+8 (the channels' statement day), waiting first if midnight there is under 30 s away. */
export async function statementDay(): Promise<string> {
  const plus8 = () => new Date(Date.now() + 8 * 3_600_000);
  const msToMidnight = () => {
    const d = plus8();
    return 86_400_000 - ((d.getUTCHours() * 60 + d.getUTCMinutes()) * 60_000 + d.getUTCSeconds() * 1000);
  };
  if (msToMidnight() < 30_000) await new Promise((r) => setTimeout(r, msToMidnight() + 1_000));
  return plus8().toISOString().slice(0, 10);
}
