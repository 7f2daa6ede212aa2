import { Pool } from 'pg';
import { createPool, withTransaction } from '@citybase/platform';
import { createServiceDatabase, TestDatabase } from '@citybase/platform/testing';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { LedgerBatcher } from '../src/ledger/ledger.batcher';
import {
  balanceOf,
  clearAccountCache,
  ensureAccount,
  HOT_ACCOUNT_SHARDS,
  post,
  PostedTransaction,
  PostInput,
} from '../src/ledger/ledger.store';
import { definition } from '../src/definition';
import { checkLedgerInvariants } from '../src/ledger/invariants';

// Group commit of postings (docs/adr/0006-settlement-ledger.md "Group commit") against real
// PostgreSQL: concurrent postings share database transactions (seen in the rows' xmin), each caller
// gets its own result, a refused posting fails alone, idempotency holds inside and across batches,
// and the database's invariants hold after many parallel postings on one hot account.
describe('ledger group commit (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const op = 'op-group-commit';

  beforeAll(async () => {
    db = await createServiceDatabase('ledger_gc', definition.migrations);
    pool = createPool(db.url, { max: 20 });
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    clearAccountCache();
  });

  const account = (
    kind: AccountKind,
    extra: { projectId?: string; merchantId?: string; ownerRef?: string } = {},
  ) => withTransaction(pool, (c) => ensureAccount(c, { kind, currency: 'CNY', operatorId: op, ...extra }));

  const transfer = (key: string, debit: string, credit: string, amount: bigint): PostInput => ({
    kind: 'test',
    idempotencyKey: key,
    currency: 'CNY',
    operatorId: op,
    reference: key,
    lines: [
      { accountId: debit, amountMinor: amount },
      { accountId: credit, amountMinor: -amount },
    ],
  });

  /** The database transaction (xmin) that wrote each ledger transaction row, by key. */
  const writers = async (keys: string[]): Promise<Map<string, string>> => {
    const { rows } = await pool.query<{ idempotency_key: string; writer: string }>(
      `SELECT idempotency_key, xmin::text AS writer FROM ledger_transactions WHERE idempotency_key = ANY($1)`,
      [keys],
    );
    return new Map(rows.map((r) => [r.idempotency_key, r.writer]));
  };

  it('many concurrent postings land in fewer database transactions, each caller with its own result', async () => {
    const clearing = await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, {
      projectId: 'many',
      ownerRef: 'sandbox',
    });
    const share = await account(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { projectId: 'many' });
    const batcher = new LedgerBatcher(pool);
    const N = 300;
    const keys = Array.from({ length: N }, (_, i) => `many-${i}`);
    const results = await Promise.all(
      keys.map((key, i) => batcher.post(transfer(key, clearing, share, BigInt(i + 1)))),
    );

    expect(batcher.counts()).toMatchObject({ postings: N, fallbacks: 0 });
    expect(batcher.counts().batches).toBeLessThan(N);
    const byWriter = await writers(keys);
    expect(new Set(byWriter.values()).size).toBe(batcher.counts().batches);
    // each caller's result is its own posting: its key, its amount, created once
    expect(new Set(results.map((r) => r.txId)).size).toBe(N);
    const { rows } = await pool.query<{ tx_id: string; idempotency_key: string; debit: string }>(
      `SELECT t.tx_id, t.idempotency_key, sum(e.amount_minor) FILTER (WHERE e.amount_minor > 0)::text AS debit
         FROM ledger_transactions t JOIN ledger_entries e USING (tx_id)
        WHERE t.idempotency_key = ANY($1) GROUP BY t.tx_id, t.idempotency_key`,
      [keys],
    );
    const byTx = new Map(rows.map((r) => [r.tx_id, r]));
    results.forEach((r, i) => {
      expect(r.created).toBe(true);
      expect(byTx.get(r.txId)).toEqual({ tx_id: r.txId, idempotency_key: keys[i], debit: String(i + 1) });
    });
    expect((await balanceOf(pool, share))!.balanceMinor).toBe(BigInt((N * (N + 1)) / 2));
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });

  it('a posting the database or the code refuses fails alone; its neighbours in the batch commit', async () => {
    const bank = await account(AccountKind.ACCOUNT_KIND_BANK);
    const wallet = await account(AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, { ownerRef: 'neighbours' });
    const x = await account(AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, { ownerRef: 'x' });
    const y = await account(AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, { ownerRef: 'y' });
    const share = await account(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { projectId: 'neighbours' });
    const batcher = new LedgerBatcher(pool);
    const funded = await batcher.post(transfer('fund', bank, wallet, 100n)); // the wallet holds 100
    const reversed = await withTransaction(pool, (c) => post(c, transfer('to-reverse', bank, share, 5n)));
    await withTransaction(pool, (c) =>
      post(c, { ...transfer('reversal-1', share, bank, 5n), reversesTxId: reversed.txId }),
    );

    const good = Array.from({ length: 20 }, (_, i) =>
      transfer(`neighbour-${i}`, bank, share, BigInt(10 + i)),
    );
    const bad: [string, PostInput][] = [
      ['overdraws the wallet', transfer('overdraw', wallet, bank, 101n)],
      [
        'unbalanced',
        {
          ...transfer('unbalanced', bank, share, 7n),
          lines: [
            { accountId: bank, amountMinor: 7n },
            { accountId: share, amountMinor: -6n },
          ],
        },
      ],
      ['second reversal', { ...transfer('reversal-2', share, bank, 5n), reversesTxId: reversed.txId }],
    ];
    // one tick: the first posting starts a batch, everything after it fills the next one
    const all = [good[0]!, ...good.slice(1, 10), ...bad.map(([, p]) => p), ...good.slice(10)];
    const settled = await Promise.allSettled(all.map((p) => batcher.post(p)));
    const outcome = new Map(all.map((p, i) => [p.idempotencyKey, settled[i]!]));

    for (const p of good) expect(outcome.get(p.idempotencyKey)).toMatchObject({ status: 'fulfilled' });
    expect(outcome.get('overdraw')).toMatchObject({
      status: 'rejected',
      reason: { code: 'INSUFFICIENT_FUNDS' },
    });
    expect(outcome.get('unbalanced')).toMatchObject({
      status: 'rejected',
      reason: { message: expect.stringMatching(/does not balance/) },
    });
    expect(outcome.get('reversal-2')).toMatchObject({ status: 'rejected', reason: { code: '23505' } });
    // the database refusals sent the batch down the savepoint path, once
    expect(batcher.counts()).toMatchObject({ batches: 3, fallbacks: 1 });

    // a batch accepts only what some serial order of its postings accepts: no order takes 10 from
    // empty wallet y to empty wallet x and back, so neither commits (summed per batch, both would)
    const pair = [
      transfer('xy-first', bank, share, 1n),
      transfer('y-to-x', y, x, 10n),
      transfer('x-to-y', x, y, 10n),
    ];
    const [first, yx, xy] = await Promise.allSettled(pair.map((p) => batcher.post(p)));
    expect(first).toMatchObject({ status: 'fulfilled' });
    expect(yx).toMatchObject({ status: 'rejected', reason: { code: 'INSUFFICIENT_FUNDS' } });
    expect(xy).toMatchObject({ status: 'rejected', reason: { code: 'INSUFFICIENT_FUNDS' } });
    expect(batcher.counts()).toMatchObject({ batches: 5, fallbacks: 2 });
    // every good posting committed (after the savepoint path each row's xmin is its savepoint's own
    // subtransaction, so the shared transaction shows in the batch count above), none of the refused
    const byWriter = await writers(all.map((p) => p.idempotencyKey));
    for (const p of good) expect(byWriter.has(p.idempotencyKey)).toBe(true);
    for (const [, p] of bad) expect(byWriter.has(p.idempotencyKey)).toBe(false);
    expect((await balanceOf(pool, wallet))!.balanceMinor).toBe(100n);
    expect((await balanceOf(pool, x))!.balanceMinor).toBe(0n);
    expect((await balanceOf(pool, y))!.balanceMinor).toBe(0n);
    expect((await balanceOf(pool, share))!.balanceMinor).toBe(
      good.reduce((s, p) => s + p.lines[0]!.amountMinor, 1n), // and xy-first's 1
    );
    expect(funded.created).toBe(true);
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });

  it('replays are idempotent inside a batch and across batches', async () => {
    const bank = await account(AccountKind.ACCOUNT_KIND_BANK);
    const payable = await account(AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE, {
      projectId: 'replay',
      merchantId: 'm1',
    });
    const batcher = new LedgerBatcher(pool);
    const keys = Array.from({ length: 10 }, (_, i) => `replay-${i}`);
    // one tick: replay-0 alone, then every key three times in the next batch
    const first = await Promise.all([
      batcher.post(transfer(keys[0]!, bank, payable, 1n)),
      ...[0, 1, 2].flatMap(() => keys.map((k, i) => batcher.post(transfer(k, bank, payable, BigInt(i + 1))))),
    ]);
    expect(batcher.counts()).toMatchObject({ batches: 2, fallbacks: 0 });
    const txOf = new Map<string, PostedTransaction[]>();
    [keys[0]!, ...keys, ...keys, ...keys].forEach((k, i) => txOf.set(k, [...(txOf.get(k) ?? []), first[i]!]));
    for (const k of keys) {
      const answers = txOf.get(k)!;
      expect(new Set(answers.map((a) => a.txId)).size).toBe(1);
      expect(answers.filter((a) => a.created)).toHaveLength(1);
    }
    // across batches: every key again, with the amounts changed; nothing new is written
    const again = await Promise.all(keys.map((k) => batcher.post(transfer(k, bank, payable, 999n))));
    again.forEach((a, i) => {
      expect(a).toEqual({ ...txOf.get(keys[i]!)![0], created: false });
    });
    expect((await balanceOf(pool, payable))!.balanceMinor).toBe(55n);
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ledger_transactions WHERE idempotency_key LIKE 'replay-%'`,
    );
    expect(rows[0]!.n).toBe(10);
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });

  it('invariants hold after many parallel postings on one hot account from several batchers', async () => {
    const clearing = await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, {
      projectId: 'hot-gc',
      ownerRef: 'sandbox',
    });
    const share = await account(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { projectId: 'hot-gc' });
    const commission = await account(AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION, { projectId: 'hot-gc' });
    // three batchers (as three replicas would have), two batches in flight each, and postings
    // inside callers' own transactions, all on the same hot accounts at once
    const batchers = [
      new LedgerBatcher(pool, { lanes: 2 }),
      new LedgerBatcher(pool, { lanes: 2 }),
      new LedgerBatcher(pool),
    ];
    const N = 1200;
    const amount = (i: number) => BigInt(1 + (i % 97));
    const work = Array.from({ length: N }, (_, i) => {
      const p: PostInput = {
        kind: 'test',
        idempotencyKey: `hot-gc-${i}`,
        currency: 'CNY',
        operatorId: op,
        lines: [
          { accountId: clearing, amountMinor: amount(i) * 2n },
          { accountId: share, amountMinor: -amount(i) },
          { accountId: commission, amountMinor: -amount(i) },
        ],
      };
      return i % 4 === 3 ? withTransaction(pool, (c) => post(c, p)) : batchers[i % 3]!.post(p);
    });
    await Promise.all(work);
    const total = Array.from({ length: N }, (_, i) => amount(i)).reduce((s, a) => s + a, 0n);
    expect((await balanceOf(pool, share))!.balanceMinor).toBe(total);
    expect((await balanceOf(pool, commission))!.balanceMinor).toBe(total);
    expect((await balanceOf(pool, clearing))!.balanceMinor).toBe(2n * total);
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(DISTINCT shard)::int AS n FROM ledger_entries WHERE account_id = $1`,
      [share],
    );
    expect(rows[0]!.n).toBe(HOT_ACCOUNT_SHARDS);
    const batches = batchers.reduce((s, b) => s + b.counts().batches, 0);
    expect(batches).toBeLessThan(batchers.reduce((s, b) => s + b.counts().postings, 0));
    // zero sum per transaction, balances equal their entries, nothing negative that must not be
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });
});
