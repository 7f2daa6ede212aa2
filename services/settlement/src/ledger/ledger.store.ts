import { randomUUID } from 'node:crypto';
import { DomainError, PoolClient } from '@citybase/platform';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';

/**
 * The double-entry ledger (docs/adr/0006-settlement-ledger.md, migrations/0002_ledger.sql). Every
 * function runs inside the caller's database transaction, so a business change (an escrow order's
 * status, a payout) and the entries that account for it commit together or not at all. The
 * database enforces zero-sum transactions, append-only entries, balances that move only with
 * entries, and non-negative accounts; this module only builds correct postings and maps the
 * database's refusals to domain errors.
 *
 * Amounts are signed minor units, debit positive. `normalSide` is +1 (debit normal: assets,
 * expenses) or -1 (credit normal: liabilities, revenue); an account's balance "on its normal side"
 * is normalSide * sum(entries).
 */

/** Identifies an account: kind plus the tenancy and owner it belongs to. */
export interface AccountKey {
  kind: AccountKind;
  currency: string;
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
  ownerRef?: string;
}

export interface AccountPolicy {
  normalSide: 1 | -1;
  mustNotGoNegative: boolean;
  /** Balance rows; > 1 for accounts every payment of a project or operator touches. */
  shards: number;
}

/** Hot accounts get this many balance rows (ADR 0006; measured by `npm run bench -- ledger`). */
export const HOT_ACCOUNT_SHARDS = 16;

export const ACCOUNT_POLICIES: Record<
  Exclude<AccountKind, AccountKind.UNRECOGNIZED | AccountKind.ACCOUNT_KIND_UNSPECIFIED>,
  AccountPolicy
> = {
  [AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING]: {
    normalSide: 1,
    mustNotGoNegative: false,
    shards: HOT_ACCOUNT_SHARDS,
  },
  [AccountKind.ACCOUNT_KIND_ESCROW]: { normalSide: -1, mustNotGoNegative: false, shards: HOT_ACCOUNT_SHARDS },
  [AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE]: { normalSide: -1, mustNotGoNegative: false, shards: 1 },
  [AccountKind.ACCOUNT_KIND_PROPERTY_SHARE]: {
    normalSide: -1,
    mustNotGoNegative: false,
    shards: HOT_ACCOUNT_SHARDS,
  },
  [AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION]: {
    normalSide: -1,
    mustNotGoNegative: false,
    shards: HOT_ACCOUNT_SHARDS,
  },
  [AccountKind.ACCOUNT_KIND_TAX_PAYABLE]: {
    normalSide: -1,
    mustNotGoNegative: false,
    shards: HOT_ACCOUNT_SHARDS,
  },
  [AccountKind.ACCOUNT_KIND_RESIDENT_WALLET]: { normalSide: -1, mustNotGoNegative: true, shards: 1 },
  [AccountKind.ACCOUNT_KIND_POINTS_LIABILITY]: { normalSide: -1, mustNotGoNegative: false, shards: 1 },
  [AccountKind.ACCOUNT_KIND_MARKETING_SUBSIDY]: { normalSide: 1, mustNotGoNegative: false, shards: 1 },
  [AccountKind.ACCOUNT_KIND_BANK]: { normalSide: 1, mustNotGoNegative: false, shards: HOT_ACCOUNT_SHARDS },
  [AccountKind.ACCOUNT_KIND_POINTS_CLEARING]: { normalSide: 1, mustNotGoNegative: false, shards: 1 },
};

export function accountPolicy(kind: AccountKind): AccountPolicy {
  const policy = (ACCOUNT_POLICIES as Partial<Record<AccountKind, AccountPolicy>>)[kind];
  if (!policy) throw new Error(`no ledger account kind ${kind}`);
  return policy;
}

export interface AccountRow {
  account_id: string;
  kind: AccountKind;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  owner_ref: string;
  currency: string;
  normal_side: 1 | -1;
  must_not_go_negative: boolean;
  shards: number;
}

/**
 * Accounts never change once created, so their ids are cached per process, but only ids of
 * accounts known to be committed: an account created inside a business transaction that then rolls
 * back must not leave its id in the cache.
 */
const accountIds = new Map<string, string>();
const cacheKey = (k: AccountKey) =>
  [k.kind, k.operatorId ?? '', k.projectId ?? '', k.merchantId ?? '', k.ownerRef ?? '', k.currency].join(
    '\u0000',
  );

/**
 * The account's id, creating the account (with its balance rows at zero) on first use, inside the
 * caller's transaction.
 */
export async function ensureAccount(client: PoolClient, key: AccountKey): Promise<string> {
  const cached = accountIds.get(cacheKey(key));
  if (cached) return cached;
  const policy = accountPolicy(key.kind);
  const params = [
    key.kind,
    key.operatorId ?? '',
    key.projectId ?? '',
    key.merchantId ?? '',
    key.ownerRef ?? '',
    key.currency,
  ];
  const find = async () => {
    // `mine`: created by this very transaction, so not committed yet (txid_current_if_assigned is
    // NULL until the transaction has written anything)
    const { rows } = await client.query<{ account_id: string; mine: boolean }>(
      `SELECT account_id,
              coalesce(xmin::text::bigint = txid_current_if_assigned() % 4294967296, false) AS mine
         FROM ledger_accounts
        WHERE kind = $1 AND operator_id = $2 AND project_id = $3 AND merchant_id = $4 AND owner_ref = $5
          AND currency = $6`,
      params,
    );
    const row = rows[0];
    if (row && !row.mine) accountIds.set(cacheKey(key), row.account_id);
    return row?.account_id;
  };
  const existing = await find();
  if (existing) return existing;
  const inserted = await client.query<{ account_id: string }>(
    `INSERT INTO ledger_accounts (account_id, kind, operator_id, project_id, merchant_id, owner_ref, currency,
                                  normal_side, must_not_go_negative, shards)
     VALUES ($7, $1, $2, $3, $4, $5, $6, $8, $9, $10)
     ON CONFLICT (kind, operator_id, project_id, merchant_id, owner_ref, currency) DO NOTHING
     RETURNING account_id`,
    [...params, randomUUID(), policy.normalSide, policy.mustNotGoNegative, policy.shards],
  );
  const accountId = inserted.rows[0]?.account_id;
  if (!accountId) return (await find())!; // a concurrent transaction created it and committed
  await client.query(
    `INSERT INTO ledger_balances (account_id, shard, normal_side, must_not_go_negative, currency)
     SELECT $1, s, $2, $3, $4 FROM generate_series(0, $5 - 1) AS s`,
    [accountId, policy.normalSide, policy.mustNotGoNegative, key.currency, policy.shards],
  );
  return accountId;
}

/** Forget cached account ids (tests that drop databases in one process). */
export function clearAccountCache(): void {
  accountIds.clear();
}

export async function findAccount(client: Queryable, accountId: string): Promise<AccountRow | undefined> {
  const { rows } = await client.query<AccountRow>(
    `SELECT account_id, kind, operator_id, project_id, merchant_id, owner_ref, currency, normal_side,
            must_not_go_negative, shards
       FROM ledger_accounts WHERE account_id = $1`,
    [accountId],
  );
  return rows[0];
}

/** Anything that can run a query: a pool or a client in a transaction. */
export interface Queryable {
  query: PoolClient['query'];
}

export interface PostingLine {
  accountId: string;
  /** Signed: debit positive. Lines of one account may repeat; they are merged. */
  amountMinor: bigint;
}

export interface PostInput {
  /** e.g. "payment_escrowed", "order_completed", "refund", "payout", "reversal". */
  kind: string;
  /** One transaction per business fact: posting the same key again returns the first one. */
  idempotencyKey: string;
  currency: string;
  operatorId?: string;
  projectId?: string;
  reference?: string;
  reversesTxId?: string;
  lines: PostingLine[];
}

export interface PostedTransaction {
  txId: string;
  /** False when the idempotency key had been posted before (nothing new was written). */
  created: boolean;
  postedAt: Date;
}

export const LedgerErrors = {
  insufficientFunds: (what = 'the account') =>
    DomainError.precondition('INSUFFICIENT_FUNDS', `${what} does not have enough available balance`),
  unbalanced: (sum: bigint) =>
    new Error(`ledger transaction does not balance: postings sum to ${sum}, not 0 (a bug in the caller)`),
};

/** Shard of a hot account a transaction posts to: spread by transaction id. */
export function shardFor(txId: string, accountId: string, shards: number): number {
  if (shards <= 1) return 0;
  let h = 2166136261;
  for (const c of txId + accountId) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (h >>> 0) % shards;
}

const shardCounts = new Map<string, number>();
async function shardsOf(client: Queryable, accountIds: string[]): Promise<Map<string, number>> {
  const missing = accountIds.filter((id) => !shardCounts.has(id));
  if (missing.length) {
    const { rows } = await client.query<{ account_id: string; shards: number }>(
      'SELECT account_id, shards FROM ledger_accounts WHERE account_id = ANY($1::uuid[])',
      [missing],
    );
    for (const r of rows) shardCounts.set(r.account_id, r.shards);
  }
  const out = new Map<string, number>();
  for (const id of accountIds) {
    const n = shardCounts.get(id);
    if (n === undefined) throw new Error(`ledger account ${id} does not exist`);
    out.set(id, n);
  }
  return out;
}

/**
 * Posts a balanced transaction. Idempotent by `idempotencyKey`. Throws INSUFFICIENT_FUNDS
 * (FAILED_PRECONDITION) when an account that must not go negative would; the caller's transaction
 * must then roll back (PostgreSQL aborts it), which withTransaction does. `postMany` of one.
 */
export async function post(client: PoolClient, input: PostInput): Promise<PostedTransaction> {
  const [outcome] = await postMany(client, [input]);
  if (outcome instanceof Error) throw outcome;
  return outcome!;
}

/** What a posting's lines move, per account (lines of one account merged), or why it is refused. */
function mergedLines(input: PostInput): Map<string, bigint> | Error {
  const merged = new Map<string, bigint>();
  for (const l of input.lines) merged.set(l.accountId, (merged.get(l.accountId) ?? 0n) + l.amountMinor);
  for (const [id, amount] of merged) if (amount === 0n) merged.delete(id);
  let sum = 0n;
  for (const amount of merged.values()) sum += amount;
  if (sum !== 0n) return LedgerErrors.unbalanced(sum);
  if (merged.size < 2) return new Error(`ledger transaction ${input.idempotencyKey} moves nothing`);
  return merged;
}

/**
 * Posts many balanced transactions in the caller's database transaction with three statements
 * whatever their number (ADR 0006 "Group commit"): the transaction rows, the first posting of every
 * key already there (replays, also within `inputs`: the first of a key wins), all the entries.
 * Answers each input in order: its transaction, or the Error the code refused it with (unbalanced,
 * moves nothing; nothing of it is written). A refusal of the database (insufficient funds, a
 * second reversal, an unknown account) fails the whole call, mapped by mapLedgerError, and aborts
 * the caller's transaction: LedgerBatcher then retries the postings one by one under savepoints.
 */
export async function postMany(
  client: PoolClient,
  inputs: PostInput[],
): Promise<(PostedTransaction | Error)[]> {
  const outcomes: (PostedTransaction | Error | undefined)[] = [];
  const valid: { i: number; input: PostInput; merged: Map<string, bigint>; txId: string }[] = [];
  inputs.forEach((input, i) => {
    const merged = mergedLines(input);
    outcomes.push(merged instanceof Error ? merged : undefined);
    if (!(merged instanceof Error)) valid.push({ i, input, merged, txId: randomUUID() });
  });
  if (valid.length === 0) return outcomes as (PostedTransaction | Error)[];

  const inserted = await client.query<{ tx_id: string; posted_at: Date }>(
    `INSERT INTO ledger_transactions (tx_id, kind, idempotency_key, operator_id, project_id, reference, reverses_tx_id)
     SELECT t, k, key, op, pr, ref, rev
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[])
            WITH ORDINALITY AS v(t, k, key, op, pr, ref, rev, o)
      ORDER BY o
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING tx_id, posted_at`,
    [
      valid.map((v) => v.txId),
      valid.map((v) => v.input.kind),
      valid.map((v) => v.input.idempotencyKey),
      valid.map((v) => v.input.operatorId ?? ''),
      valid.map((v) => v.input.projectId ?? ''),
      valid.map((v) => v.input.reference ?? ''),
      valid.map((v) => v.input.reversesTxId ?? null),
    ],
  );
  const postedAt = new Map(inserted.rows.map((r) => [r.tx_id, r.posted_at]));
  const created = valid.filter((v) => postedAt.has(v.txId));
  const replayed = valid.filter((v) => !postedAt.has(v.txId));
  if (replayed.length) {
    const { rows } = await client.query<{ idempotency_key: string; tx_id: string; posted_at: Date }>(
      'SELECT idempotency_key, tx_id, posted_at FROM ledger_transactions WHERE idempotency_key = ANY($1::text[])',
      [replayed.map((v) => v.input.idempotencyKey)],
    );
    const first = new Map(rows.map((r) => [r.idempotency_key, r]));
    for (const v of replayed) {
      const r = first.get(v.input.idempotencyKey)!;
      outcomes[v.i] = { txId: r.tx_id, created: false, postedAt: r.posted_at };
    }
  }
  if (created.length === 0) return outcomes as (PostedTransaction | Error)[];

  const shards = await shardsOf(client, [...new Set(created.flatMap((v) => [...v.merged.keys()]))]);
  const entries = { tx: [] as string[], account: [] as string[], shard: [] as number[] };
  const currency: string[] = [];
  const amount: string[] = [];
  const at: Date[] = [];
  for (const v of created) {
    // a posting's balance rows in account order (the trigger locks a statement's rows in that order)
    const lines = [...v.merged]
      .map(([accountId, a]) => ({ accountId, a, shard: shardFor(v.txId, accountId, shards.get(accountId)!) }))
      .sort((x, y) => (x.accountId < y.accountId ? -1 : x.accountId > y.accountId ? 1 : x.shard - y.shard));
    for (const l of lines) {
      entries.tx.push(v.txId);
      entries.account.push(l.accountId);
      entries.shard.push(l.shard);
      currency.push(v.input.currency);
      amount.push(l.a.toString());
      at.push(postedAt.get(v.txId)!);
    }
    outcomes[v.i] = { txId: v.txId, created: true, postedAt: postedAt.get(v.txId)! };
  }
  try {
    await client.query(
      `INSERT INTO ledger_entries (tx_id, account_id, shard, currency, amount_minor, posted_at)
       SELECT t, a, s, c, m, p
         FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[], $5::bigint[], $6::timestamptz[])
              WITH ORDINALITY AS v(t, a, s, c, m, p, o)
        ORDER BY o`,
      [entries.tx, entries.account, entries.shard, currency, amount, at],
    );
  } catch (err) {
    throw mapLedgerError(err);
  }
  return outcomes as (PostedTransaction | Error)[];
}

/** Maps the database's refusals to domain errors; anything else is rethrown as is. */
export function mapLedgerError(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string };
  if (e?.code === '23514' && e.constraint === 'ledger_balance_not_negative')
    return LedgerErrors.insufficientFunds();
  return err;
}

export interface TransactionRow {
  tx_id: string;
  kind: string;
  idempotency_key: string;
  operator_id: string;
  project_id: string;
  reference: string;
  reverses_tx_id: string | null;
  posted_at: Date;
}

export interface EntryRow {
  entry_id: string;
  tx_id: string;
  account_id: string;
  kind: AccountKind;
  currency: string;
  amount_minor: bigint;
}

export async function findTransaction(
  client: Queryable,
  txId: string,
): Promise<{ tx: TransactionRow; entries: EntryRow[] } | undefined> {
  const { rows } = await client.query<TransactionRow>('SELECT * FROM ledger_transactions WHERE tx_id = $1', [
    txId,
  ]);
  if (!rows[0]) return undefined;
  const entries = await client.query<EntryRow & { amount_minor: string }>(
    `SELECT e.entry_id, e.tx_id, e.account_id, a.kind, e.currency, e.amount_minor
       FROM ledger_entries e JOIN ledger_accounts a USING (account_id)
      WHERE e.tx_id = $1 ORDER BY e.entry_id`,
    [txId],
  );
  return {
    tx: rows[0],
    entries: entries.rows.map((r) => ({ ...r, amount_minor: BigInt(r.amount_minor) })),
  };
}

/**
 * Posts the exact reverse of a transaction (a correction; entries are never changed). At most one
 * reversal per transaction; a reversal cannot itself be reversed.
 */
export async function reverse(
  client: PoolClient,
  txId: string,
  kind = 'reversal',
): Promise<PostedTransaction> {
  const found = await findTransaction(client, txId);
  if (!found) throw DomainError.notFound('transaction', txId, 'TRANSACTION_NOT_FOUND');
  if (found.tx.reverses_tx_id)
    throw DomainError.precondition('TRANSACTION_IS_REVERSAL', `transaction ${txId} is a reversal itself`);
  const currency = found.entries[0]!.currency;
  return post(client, {
    kind,
    idempotencyKey: `reverse:${txId}`,
    currency,
    operatorId: found.tx.operator_id,
    projectId: found.tx.project_id,
    reference: found.tx.reference,
    reversesTxId: txId,
    lines: found.entries.map((e) => ({ accountId: e.account_id, amountMinor: -e.amount_minor })),
  });
}

export interface Balance {
  accountId: string;
  currency: string;
  /** On the account's normal side. */
  balanceMinor: bigint;
  heldMinor: bigint;
  availableMinor: bigint;
  asOf: Date | null;
}

export async function balanceOf(client: Queryable, accountId: string): Promise<Balance | undefined> {
  const { rows } = await client.query<{
    currency: string;
    normal: string;
    held: string;
    as_of: Date | null;
  }>(
    `SELECT min(currency) AS currency, sum(normal_side * balance_minor)::text AS normal,
            sum(held_minor)::text AS held, max(last_entry_at) AS as_of
       FROM ledger_balances WHERE account_id = $1 HAVING count(*) > 0`,
    [accountId],
  );
  const r = rows[0];
  if (!r) return undefined;
  const balanceMinor = BigInt(r.normal);
  const heldMinor = BigInt(r.held);
  return {
    accountId,
    currency: r.currency,
    balanceMinor,
    heldMinor,
    availableMinor: balanceMinor - heldMinor,
    asOf: r.as_of,
  };
}

// ---- holds (two-phase: pending > posted | partially_posted | voided | expired) ----

export interface HoldRow {
  hold_id: string;
  account_id: string;
  idempotency_key: string;
  reference: string;
  amount_minor: bigint;
  posted_minor: bigint;
  status: 'pending' | 'posted' | 'partially_posted' | 'voided' | 'expired';
  tx_id: string | null;
  expires_at: Date;
}

const holdFrom = (r: HoldRow & { amount_minor: string; posted_minor: string }): HoldRow => ({
  ...r,
  amount_minor: BigInt(r.amount_minor),
  posted_minor: BigInt(r.posted_minor),
});

/**
 * Reserves `amountMinor` of a single-shard account's available balance (balance - held on its
 * normal side) until `expiresAt`. With `requireAvailable` (always for accounts that must not go
 * negative) the reservation fails with INSUFFICIENT_FUNDS rather than exceed what is available;
 * the check and the reservation are one statement, so concurrent holds cannot oversubscribe.
 * Idempotent by key.
 */
export async function placeHold(
  client: PoolClient,
  input: {
    accountId: string;
    amountMinor: bigint;
    idempotencyKey: string;
    reference?: string;
    expiresAt: Date;
    requireAvailable?: boolean;
  },
): Promise<{ hold: HoldRow; created: boolean }> {
  if (input.amountMinor <= 0n) throw new Error('a hold must be positive');
  const holdId = randomUUID();
  const inserted = await client.query<HoldRow & { amount_minor: string; posted_minor: string }>(
    `INSERT INTO ledger_holds (hold_id, account_id, idempotency_key, reference, amount_minor, status, expires_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6)
     ON CONFLICT (idempotency_key) DO NOTHING
     RETURNING *`,
    [
      holdId,
      input.accountId,
      input.idempotencyKey,
      input.reference ?? '',
      input.amountMinor.toString(),
      input.expiresAt,
    ],
  );
  if (inserted.rowCount === 0) {
    const { rows } = await client.query<HoldRow & { amount_minor: string; posted_minor: string }>(
      'SELECT * FROM ledger_holds WHERE idempotency_key = $1',
      [input.idempotencyKey],
    );
    return { hold: holdFrom(rows[0]!), created: false };
  }
  try {
    const reserved = await client.query(
      `UPDATE ledger_balances SET held_minor = held_minor + $2
        WHERE account_id = $1 AND shard = 0
          AND ($3::boolean IS FALSE OR normal_side * balance_minor - held_minor >= $2)`,
      [input.accountId, input.amountMinor.toString(), input.requireAvailable ?? false],
    );
    if (reserved.rowCount === 0) throw LedgerErrors.insufficientFunds();
  } catch (err) {
    throw mapLedgerError(err);
  }
  return { hold: holdFrom(inserted.rows[0]!), created: true };
}

async function lockHold(client: PoolClient, holdId: string): Promise<HoldRow> {
  const { rows } = await client.query<HoldRow & { amount_minor: string; posted_minor: string }>(
    'SELECT * FROM ledger_holds WHERE hold_id = $1 FOR UPDATE',
    [holdId],
  );
  if (!rows[0]) throw DomainError.notFound('hold', holdId, 'HOLD_NOT_FOUND');
  return holdFrom(rows[0]);
}

async function release(client: PoolClient, hold: HoldRow): Promise<void> {
  await client.query(
    'UPDATE ledger_balances SET held_minor = held_minor - $2 WHERE account_id = $1 AND shard = 0',
    [hold.account_id, hold.amount_minor.toString()],
  );
}

/**
 * Posts a pending hold: releases the whole reservation and posts `amountMinor` (<= the hold) from
 * the held account to `counterAccountId`, in one transaction. Less than the hold is a partial post
 * (the rest is released). Posting an already posted hold returns its transaction.
 */
export async function postHold(
  client: PoolClient,
  input: {
    holdId: string;
    amountMinor?: bigint;
    counterAccountId: string;
    kind: string;
    currency: string;
    operatorId?: string;
    projectId?: string;
    reference?: string;
  },
): Promise<{ hold: HoldRow; tx: PostedTransaction }> {
  const hold = await lockHold(client, input.holdId);
  if (hold.status === 'posted' || hold.status === 'partially_posted') {
    const { rows } = await client.query<{ posted_at: Date }>(
      'SELECT posted_at FROM ledger_transactions WHERE tx_id = $1',
      [hold.tx_id],
    );
    return { hold, tx: { txId: hold.tx_id!, created: false, postedAt: rows[0]!.posted_at } };
  }
  if (hold.status !== 'pending')
    throw DomainError.precondition('HOLD_NOT_PENDING', `hold ${hold.hold_id} is ${hold.status}`);
  const amount = input.amountMinor ?? hold.amount_minor;
  if (amount <= 0n || amount > hold.amount_minor)
    throw DomainError.precondition(
      'HOLD_AMOUNT_EXCEEDED',
      `hold ${hold.hold_id} is ${hold.amount_minor}, not ${amount}`,
    );
  await release(client, hold);
  const account = await findAccount(client, hold.account_id);
  // the held account gives up the amount: against its normal side
  const side = BigInt(account!.normal_side);
  const tx = await post(client, {
    kind: input.kind,
    idempotencyKey: `hold:${hold.hold_id}`,
    currency: input.currency,
    operatorId: input.operatorId,
    projectId: input.projectId,
    reference: input.reference ?? hold.reference,
    lines: [
      { accountId: hold.account_id, amountMinor: -side * amount },
      { accountId: input.counterAccountId, amountMinor: side * amount },
    ],
  });
  const status = amount === hold.amount_minor ? 'posted' : 'partially_posted';
  await client.query(
    `UPDATE ledger_holds SET status = $2, posted_minor = $3, tx_id = $4, updated_at = clock_timestamp()
      WHERE hold_id = $1`,
    [hold.hold_id, status, amount.toString(), tx.txId],
  );
  return { hold: { ...hold, status, posted_minor: amount, tx_id: tx.txId }, tx };
}

/** Releases a pending hold (voided) or marks it expired; a final hold is returned unchanged. */
export async function voidHold(
  client: PoolClient,
  holdId: string,
  outcome: 'voided' | 'expired' = 'voided',
): Promise<HoldRow> {
  const hold = await lockHold(client, holdId);
  if (hold.status !== 'pending') return hold;
  await release(client, hold);
  await client.query(
    `UPDATE ledger_holds SET status = $2, updated_at = clock_timestamp() WHERE hold_id = $1`,
    [hold.hold_id, outcome],
  );
  return { ...hold, status: outcome };
}

/** Pending holds whose time is up (for the expiry job; each is then voided with 'expired'). */
export async function dueHolds(client: Queryable, limit = 100): Promise<string[]> {
  const { rows } = await client.query<{ hold_id: string }>(
    `SELECT hold_id FROM ledger_holds WHERE status = 'pending' AND expires_at <= now()
      ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.hold_id);
}

// ---- queries of the ledger's RPCs (ledger.service.ts) ----

/** A page of accounts by account id, within the caller's tenancy (`all`, or operator/project ids). */
export async function listAccounts(
  db: Queryable,
  q: {
    operatorId: string;
    projectId: string;
    kind: number;
    ownerRef: string;
    after: string | undefined;
    tenancy: { all: boolean; operatorIds: string[]; projectIds: string[] };
    limit: number;
  },
): Promise<AccountRow[]> {
  const { rows } = await db.query<AccountRow>(
    `SELECT account_id, kind, operator_id, project_id, merchant_id, owner_ref, currency, normal_side,
            must_not_go_negative, shards
       FROM ledger_accounts
      WHERE ($1 = '' OR operator_id = $1) AND ($2 = '' OR project_id = $2) AND ($3 = 0 OR kind = $3)
        AND ($4 = '' OR owner_ref = $4) AND ($5::uuid IS NULL OR account_id > $5::uuid)
        AND ($6 OR operator_id = ANY($7::text[]) OR (project_id <> '' AND project_id = ANY($8::text[])))
      ORDER BY account_id LIMIT $9`,
    [
      q.operatorId,
      q.projectId,
      q.kind,
      q.ownerRef,
      q.after ?? null,
      q.tenancy.all,
      q.tenancy.all ? [] : q.tenancy.operatorIds,
      q.tenancy.all ? [] : q.tenancy.projectIds,
      q.limit,
    ],
  );
  return rows;
}

export interface StatementEntryRow {
  entry_id: string;
  tx_id: string;
  kind: string;
  reference: string;
  /** On the account's normal side. */
  amount: string;
  /** The account's balance after the entry, on its normal side. */
  after: string;
  posted_at: Date;
}

/**
 * A page of an account's entries, newest first (before entry id `before`), each with the balance
 * after it: today's balance minus every later entry.
 */
export async function accountEntries(
  db: Queryable,
  a: Pick<AccountRow, 'account_id' | 'normal_side'>,
  q: { before: bigint | undefined; limit: number },
): Promise<StatementEntryRow[]> {
  const { rows } = await db.query<StatementEntryRow>(
    `WITH page AS (
       SELECT e.entry_id, e.tx_id, t.kind, t.reference, e.amount_minor, e.posted_at
         FROM ledger_entries e JOIN ledger_transactions t USING (tx_id)
        WHERE e.account_id = $1 AND ($2::bigint IS NULL OR e.entry_id < $2::bigint)
        ORDER BY e.entry_id DESC LIMIT $3),
     later AS (
       SELECT coalesce(sum(amount_minor), 0) AS total FROM ledger_entries
        WHERE account_id = $1 AND $2::bigint IS NOT NULL AND entry_id >= $2::bigint),
     current AS (SELECT coalesce(sum(balance_minor), 0) AS total FROM ledger_balances WHERE account_id = $1)
     SELECT p.entry_id::text, p.tx_id, p.kind, p.reference, ($4 * p.amount_minor)::text AS amount,
            ($4 * ((SELECT total FROM current) - (SELECT total FROM later)
                   - coalesce(sum(p.amount_minor) OVER (ORDER BY p.entry_id DESC
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))::text AS after,
            p.posted_at
       FROM page p ORDER BY p.entry_id DESC`,
    [a.account_id, q.before?.toString() ?? null, q.limit, a.normal_side],
  );
  return rows;
}

/** The id of the transaction that reverses `txId`, if any. */
export async function reversalOf(db: Queryable, txId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ tx_id: string }>(
    'SELECT tx_id FROM ledger_transactions WHERE reverses_tx_id = $1',
    [txId],
  );
  return rows[0]?.tx_id;
}

// ---- reads other features ask of the ledger (through LedgerService) ----

/** Merchant payable accounts of a project with what is available to pay out (balance - held). */
export async function merchantPayables(
  db: Queryable,
  q: { operatorId: string; projectId: string; currency: string },
): Promise<{ account_id: string; merchant_id: string; available: bigint }[]> {
  const { rows } = await db.query<{ account_id: string; merchant_id: string; available: string }>(
    `SELECT a.account_id, a.merchant_id,
            sum(b.normal_side * b.balance_minor - b.held_minor)::text AS available
       FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
      WHERE a.kind = ${AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE}
        AND a.operator_id = $1 AND a.project_id = $2 AND a.currency = $3
      GROUP BY a.account_id, a.merchant_id
     HAVING sum(b.normal_side * b.balance_minor - b.held_minor) > 0
      ORDER BY a.account_id`,
    [q.operatorId, q.projectId, q.currency],
  );
  return rows.map((r) => ({ ...r, available: BigInt(r.available) }));
}

/** A wallet's account id, without creating the account. */
export async function findWalletAccount(
  db: Queryable,
  w: { operatorId: string; ownerRef: string; currency: string },
): Promise<string | undefined> {
  const { rows } = await db.query<{ account_id: string }>(
    `SELECT account_id FROM ledger_accounts
      WHERE kind = ${AccountKind.ACCOUNT_KIND_RESIDENT_WALLET} AND operator_id = $1 AND project_id = ''
        AND merchant_id = '' AND owner_ref = $2 AND currency = $3`,
    [w.operatorId, w.ownerRef, w.currency],
  );
  return rows[0]?.account_id;
}

export interface ClearingPostingRow {
  tx_id: string;
  reference: string;
  idempotency_key: string;
  amount_minor: string;
}

/**
 * The day's postings on a channel's clearing accounts of an operator, for one project: per ledger
 * transaction posted in [start, end), its net amount on clearing (debit positive). Reversed
 * transactions and reversals are left out: together they moved nothing at the channel.
 */
export async function clearingPostings(
  db: Queryable,
  q: { operatorId: string; projectId: string; channelId: string; currency: string; start: Date; end: Date },
): Promise<ClearingPostingRow[]> {
  const { rows } = await db.query<ClearingPostingRow>(
    `SELECT t.tx_id, t.reference, t.idempotency_key, sum(e.amount_minor)::text AS amount_minor
       FROM ledger_accounts a
       JOIN ledger_entries e ON e.account_id = a.account_id
       JOIN ledger_transactions t ON t.tx_id = e.tx_id
      WHERE a.kind = ${AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING}
        AND a.operator_id = $1 AND a.owner_ref = $3 AND a.currency = $4
        AND (t.project_id = $2 OR (t.project_id = '' AND a.project_id = $2))
        AND t.posted_at >= $5 AND t.posted_at < $6
        AND t.reverses_tx_id IS NULL
        AND NOT EXISTS (SELECT 1 FROM ledger_transactions r WHERE r.reverses_tx_id = t.tx_id)
      GROUP BY t.tx_id, t.reference, t.idempotency_key
     HAVING sum(e.amount_minor) <> 0
      ORDER BY min(e.entry_id)`,
    [q.operatorId, q.projectId, q.channelId, q.currency, q.start, q.end],
  );
  return rows;
}
