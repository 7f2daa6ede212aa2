import { spawnSync } from 'child_process';
import { join } from 'path';
import { Pool } from 'pg';
import { createPool, DomainError, withTransaction } from '@citybase/platform';
import { createServiceDatabase, TestDatabase } from '@citybase/platform/testing';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  balanceOf,
  clearAccountCache,
  dueHolds,
  ensureAccount,
  findTransaction,
  HOT_ACCOUNT_SHARDS,
  placeHold,
  post,
  postHold,
  reverse,
  voidHold,
} from '../src/ledger/ledger.store';
import { definition } from '../src/definition';
import { checkLedgerInvariants } from '../src/ledger/invariants';

// Escrow accounts are left to the escrow flows (the checker compares them with escrow orders); the
// hot credit-normal account here is the property share.
// The ledger against real PostgreSQL: the rules the database enforces by itself (zero sum,
// append-only, balances only through entries, non-negative accounts), postings, reversals, holds,
// hot-account shards, and the invariant checker (which must also catch a corrupted database).
describe('ledger (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const op = 'op-ledger';

  beforeAll(async () => {
    db = await createServiceDatabase('ledger', definition.migrations);
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

  const transfer = (key: string, debit: string, credit: string, amount: bigint) =>
    withTransaction(pool, (c) =>
      post(c, {
        kind: 'test',
        idempotencyKey: key,
        currency: 'CNY',
        operatorId: op,
        lines: [
          { accountId: debit, amountMinor: amount },
          { accountId: credit, amountMinor: -amount },
        ],
      }),
    );

  const pgError = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err as { code?: string; message: string; constraint?: string };
    }
    throw new Error('expected the database to refuse');
  };

  it('posts balanced transactions once per key and keeps balances on their normal side', async () => {
    const clearing = await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, {
      projectId: 'p1',
      ownerRef: 'sandbox',
    });
    const share = await account(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { projectId: 'p1' });
    const first = await transfer('pay-1', clearing, share, 1_000n);
    const again = await transfer('pay-1', clearing, share, 1_000n);
    expect(first.created).toBe(true);
    expect(again).toEqual({ txId: first.txId, created: false, postedAt: first.postedAt });
    expect((await balanceOf(pool, clearing))!.balanceMinor).toBe(1_000n); // asset, debit normal
    expect((await balanceOf(pool, share))!.balanceMinor).toBe(1_000n); // liability, credit normal
    const tx = await findTransaction(pool, first.txId);
    expect(tx!.entries.map((e) => e.amount_minor).sort()).toEqual([-1_000n, 1_000n]);

    // the same account twice in one transaction is merged; an unbalanced one is a caller bug
    await expect(
      withTransaction(pool, (c) =>
        post(c, {
          kind: 'test',
          idempotencyKey: 'bad',
          currency: 'CNY',
          lines: [
            { accountId: clearing, amountMinor: 5n },
            { accountId: share, amountMinor: -4n },
          ],
        }),
      ),
    ).rejects.toThrow('postings sum to 1, not 0');
  });

  it('the database refuses unbalanced transactions, changed entries and balances moved without entries', async () => {
    const a = await account(AccountKind.ACCOUNT_KIND_BANK);
    const b = await account(AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE, { projectId: 'p1', merchantId: 'm1' });
    const { txId } = await transfer('raw-ok', a, b, 70n);

    // bypassing the code: one leg only -> refused at commit
    const unbalanced = await pgError(
      withTransaction(pool, async (c) => {
        await c.query(
          `INSERT INTO ledger_transactions (tx_id, kind, idempotency_key) VALUES (gen_random_uuid(), 'x', 'raw-unbalanced')
           RETURNING tx_id`,
        );
        await c.query(
          `INSERT INTO ledger_entries (tx_id, account_id, shard, currency, amount_minor, posted_at)
           SELECT tx_id, $1, 0, 'CNY', 10, now() FROM ledger_transactions WHERE idempotency_key = 'raw-unbalanced'`,
          [a],
        );
      }),
    );
    expect(unbalanced.message).toMatch(/does not balance/);
    expect(
      (await pool.query(`SELECT 1 FROM ledger_transactions WHERE idempotency_key = 'raw-unbalanced'`))
        .rowCount,
    ).toBe(0);

    expect(
      (await pgError(pool.query('UPDATE ledger_entries SET amount_minor = 1 WHERE tx_id = $1', [txId])))
        .message,
    ).toMatch(/append-only/);
    expect(
      (await pgError(pool.query('DELETE FROM ledger_entries WHERE tx_id = $1', [txId]))).message,
    ).toMatch(/append-only/);
    expect(
      (await pgError(pool.query('DELETE FROM ledger_transactions WHERE tx_id = $1', [txId]))).message,
    ).toMatch(/append-only/);
    expect((await pgError(pool.query('TRUNCATE ledger_entries CASCADE'))).message).toMatch(/append-only/);
    expect(
      (
        await pgError(
          pool.query('UPDATE ledger_balances SET balance_minor = balance_minor + 1 WHERE account_id = $1', [
            a,
          ]),
        )
      ).message,
    ).toMatch(/only through ledger entries/);
    // an entry in a currency the account does not have
    const wrongCurrency = await pgError(
      withTransaction(pool, async (c) => {
        const t = await c.query<{ tx_id: string }>(
          `INSERT INTO ledger_transactions (tx_id, kind, idempotency_key) VALUES (gen_random_uuid(), 'x', 'raw-usd') RETURNING tx_id`,
        );
        await c.query(
          `INSERT INTO ledger_entries (tx_id, account_id, shard, currency, amount_minor, posted_at)
           VALUES ($1, $2, 0, 'USD', 5, now()), ($1, $3, 0, 'USD', -5, now())`,
          [t.rows[0]!.tx_id, a, b],
        );
      }),
    );
    expect(wrongCurrency.message).toMatch(/no such balance row/);
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });

  it('an account created in a transaction that rolls back is created again, not remembered', async () => {
    const key = {
      kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
      currency: 'CNY',
      operatorId: op,
      merchantId: 'm-rb',
    };
    let rolledBackId = '';
    await expect(
      withTransaction(pool, async (c) => {
        rolledBackId = await ensureAccount(c, key);
        throw new Error('business rule failed after the account was created');
      }),
    ).rejects.toThrow('business rule failed');
    const id = await withTransaction(pool, (c) => ensureAccount(c, key));
    expect(id).not.toBe(rolledBackId);
    const bank = await account(AccountKind.ACCOUNT_KIND_BANK);
    await transfer('after-rollback', bank, id, 5n);
    expect((await balanceOf(pool, id))!.balanceMinor).toBe(5n);
  });

  it('reverses a transaction exactly once, and not a reversal', async () => {
    const clearing = await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, {
      projectId: 'p2',
      ownerRef: 'sandbox',
    });
    const share = await account(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { projectId: 'p2' });
    const { txId } = await transfer('pay-r', clearing, share, 300n);
    const r1 = await withTransaction(pool, (c) => reverse(c, txId));
    const r2 = await withTransaction(pool, (c) => reverse(c, txId));
    expect(r2.txId).toBe(r1.txId);
    expect(r2.created).toBe(false);
    expect((await balanceOf(pool, share))!.balanceMinor).toBe(0n);
    const rev = await findTransaction(pool, r1.txId);
    expect(rev!.tx.reverses_tx_id).toBe(txId);
    await expect(withTransaction(pool, (c) => reverse(c, r1.txId))).rejects.toMatchObject({
      code: 'TRANSACTION_IS_REVERSAL',
    });
  });

  it('200 concurrent debits of one wallet never take it below zero', async () => {
    const wallet = await account(AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, { ownerRef: 'resident-200' });
    const bank = await account(AccountKind.ACCOUNT_KIND_BANK);
    const INITIAL = 10_000n;
    await transfer('fund-wallet', bank, wallet, INITIAL); // Dr bank / Cr wallet: the wallet holds 10,000
    const amounts = Array.from({ length: 200 }, (_, i) => BigInt(37 + ((i * 7919) % 200)));
    const results = await Promise.allSettled(
      amounts.map((amount, i) => transfer(`spend-${i}`, wallet, bank, amount)),
    );
    let accepted = 0n;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') accepted += amounts[i]!;
      else expect(r.reason).toMatchObject({ code: 'INSUFFICIENT_FUNDS' } satisfies Partial<DomainError>);
    });
    const rejected = results.filter((r) => r.status === 'rejected').length;
    expect(rejected).toBeGreaterThan(0); // 200 spends of 37..236 ask far more than 10,000
    expect(accepted).toBeLessThanOrEqual(INITIAL);
    const balance = await balanceOf(pool, wallet);
    expect(balance!.balanceMinor).toBe(INITIAL - accepted);
    expect(balance!.balanceMinor).toBeGreaterThanOrEqual(0n);
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });

  it('holds: concurrent reservations never exceed what is available; post, partial post, void, expiry', async () => {
    const wallet = await account(AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, { ownerRef: 'resident-holds' });
    const bank = await account(AccountKind.ACCOUNT_KIND_BANK);
    await transfer('fund-holds', bank, wallet, 1_000n);
    const later = new Date(Date.now() + 3_600_000);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        withTransaction(pool, (c) =>
          placeHold(c, {
            accountId: wallet,
            amountMinor: 60n,
            idempotencyKey: `h-${i}`,
            expiresAt: later,
            requireAvailable: true,
          }),
        ),
      ),
    );
    const placed = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.hold] : []));
    expect(placed).toHaveLength(16); // 16 x 60 = 960 <= 1,000 < 17 x 60
    let bal = await balanceOf(pool, wallet);
    expect(bal).toMatchObject({ balanceMinor: 1_000n, heldMinor: 960n, availableMinor: 40n });
    // a debit of more than is available is refused although the balance would cover it
    await expect(transfer('spend-over-held', wallet, bank, 50n)).rejects.toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });

    const [h0, h1, h2, h3] = placed;
    const posted = await withTransaction(pool, (c) =>
      postHold(c, { holdId: h0!.hold_id, counterAccountId: bank, kind: 'withdrawal', currency: 'CNY' }),
    );
    expect(posted.hold.status).toBe('posted');
    const again = await withTransaction(pool, (c) =>
      postHold(c, { holdId: h0!.hold_id, counterAccountId: bank, kind: 'withdrawal', currency: 'CNY' }),
    );
    expect(again.tx.txId).toBe(posted.tx.txId);
    const partial = await withTransaction(pool, (c) =>
      postHold(c, {
        holdId: h1!.hold_id,
        amountMinor: 25n,
        counterAccountId: bank,
        kind: 'withdrawal',
        currency: 'CNY',
      }),
    );
    expect(partial.hold).toMatchObject({ status: 'partially_posted', posted_minor: 25n });
    expect((await withTransaction(pool, (c) => voidHold(c, h2!.hold_id))).status).toBe('voided');
    await expect(
      withTransaction(pool, (c) =>
        postHold(c, { holdId: h2!.hold_id, counterAccountId: bank, kind: 'x', currency: 'CNY' }),
      ),
    ).rejects.toMatchObject({ code: 'HOLD_NOT_PENDING' });
    bal = await balanceOf(pool, wallet);
    // 1,000 - 60 - 25 posted; held: 16 - 3 holds = 13 x 60
    expect(bal).toMatchObject({ balanceMinor: 915n, heldMinor: 780n, availableMinor: 135n });

    await pool.query(`UPDATE ledger_holds SET expires_at = now() - interval '1 second' WHERE hold_id = $1`, [
      h3!.hold_id,
    ]);
    expect(await dueHolds(pool)).toEqual([h3!.hold_id]);
    expect((await withTransaction(pool, (c) => voidHold(c, h3!.hold_id, 'expired'))).status).toBe('expired');
    expect((await balanceOf(pool, wallet))!.heldMinor).toBe(720n);
    expect((await checkLedgerInvariants(pool)).violations).toEqual([]);
  });

  it('spreads a hot account over its shards; the balance is their sum', async () => {
    const clearing = await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, {
      projectId: 'hot',
      ownerRef: 'sandbox',
    });
    const share = await account(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { projectId: 'hot' });
    await Promise.all(
      Array.from({ length: 400 }, (_, i) => transfer(`hot-${i}`, clearing, share, BigInt(i + 1))),
    );
    expect((await balanceOf(pool, share))!.balanceMinor).toBe(BigInt((400 * 401) / 2));
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(DISTINCT shard)::int AS n FROM ledger_entries WHERE account_id = $1`,
      [share],
    );
    expect(rows[0]!.n).toBe(HOT_ACCOUNT_SHARDS);
  });

  // the command anyone can run against a live database (the built admin.js, as `citybase ledger check` runs it)
  const checkCommand = () => {
    const run = spawnSync(
      process.execPath,
      [join(__dirname, '..', 'dist', 'admin.js'), 'check-ledger', '--database', db.url],
      {
        encoding: 'utf8',
      },
    );
    return {
      code: run.status,
      report: JSON.parse(run.stdout) as { ok: boolean; violations: { invariant: string }[] },
    };
  };

  it('the invariant checker (library and command) reports a database corrupted behind the triggers', async () => {
    expect(await checkLedgerInvariants(pool)).toMatchObject({ ok: true, violations: [] });
    expect(checkCommand()).toMatchObject({ code: 0, report: { ok: true, violations: [] } });
    const victim = await account(AccountKind.ACCOUNT_KIND_BANK);
    // a superuser switches the guards off and edits rows: exactly what the checker is for
    await withTransaction(pool, async (c) => {
      await c.query('ALTER TABLE ledger_balances DISABLE TRIGGER USER');
      await c.query(
        'UPDATE ledger_balances SET balance_minor = balance_minor + 7 WHERE account_id = $1 AND shard = 0',
        [victim],
      );
      await c.query('ALTER TABLE ledger_balances ENABLE TRIGGER USER');
      await c.query('ALTER TABLE ledger_entries DISABLE TRIGGER USER');
      await c.query(
        `UPDATE ledger_entries SET amount_minor = amount_minor + 1
          WHERE entry_id = (SELECT min(entry_id) FROM ledger_entries)`,
      );
      await c.query('ALTER TABLE ledger_entries ENABLE TRIGGER USER');
    });
    const report = await checkLedgerInvariants(pool);
    expect(report.ok).toBe(false);
    const kinds = new Set(report.violations.map((v) => v.invariant));
    expect(kinds).toEqual(new Set(['zero_sum', 'balance_equals_entries']));
    const command = checkCommand();
    expect(command.code).toBe(3);
    expect(new Set(command.report.violations.map((v) => v.invariant))).toEqual(kinds);
  });
});
