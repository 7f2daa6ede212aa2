import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import {
  CitybaseClaims,
  claimsOf,
  DomainError,
  inTenancy,
  Mutations,
  optionalString,
  PG_POOL,
  Pool,
  requestId,
  requiredString,
  requiredUuid,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import {
  Account,
  AccountBalance,
  AccountKind,
  GetAccountBalanceRequest,
  GetAccountBalanceResponse,
  GetTransactionRequest,
  GetTransactionResponse,
  ListAccountEntriesRequest,
  ListAccountEntriesResponse,
  ListAccountsRequest,
  ListAccountsResponse,
  ReverseTransactionRequest,
  ReverseTransactionResponse,
  Transaction,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { keyPart, pageCursor, pageOf, parsePage } from '@citybase/platform';
import { AccountRow, balanceOf, findAccount, findTransaction, Queryable, reverse } from './ledger';

/** Page tokens of ListAccounts (sorted by account id) and ListAccountEntries (entry id, newest first). */
export const ACCOUNTS_PAGE = pageCursor('settlement.accounts', keyPart.uuid);
export const ACCOUNT_ENTRIES_PAGE = pageCursor('settlement.account-entries', keyPart.bigint);

const tenancyOf = (a: Pick<AccountRow, 'operator_id' | 'project_id' | 'merchant_id'>) => ({
  operatorId: a.operator_id,
  projectId: a.project_id,
  merchantId: a.merchant_id,
});
const visible = (claims: CitybaseClaims, t: { operator_id: string; project_id: string }) =>
  inTenancy(claims, { operatorId: t.operator_id, projectId: t.project_id || undefined });

function toAccount(a: AccountRow): Account {
  return {
    accountId: a.account_id,
    kind: a.kind,
    tenancy: tenancyOf(a),
    ownerRef: a.owner_ref,
    currency: a.currency.trim(),
    normalSide: a.normal_side === 1 ? 'debit' : 'credit',
    mustNotGoNegative: a.must_not_go_negative,
  };
}

async function toBalance(db: Queryable, a: AccountRow): Promise<AccountBalance> {
  const b = (await balanceOf(db, a.account_id))!;
  const currency = a.currency.trim();
  return {
    account: toAccount(a),
    balance: { currency, amountMinor: b.balanceMinor },
    held: { currency, amountMinor: b.heldMinor },
    available: { currency, amountMinor: b.availableMinor },
    asOf: b.asOf ? toTimestamp(b.asOf) : undefined,
  };
}

/** Ledger queries (balances, statements, transactions) and corrections by reversal. */
@Controller()
export class LedgerGrpc {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  /** The account, or NOT_FOUND when it is missing or outside the caller's tenancy (indistinguishable). */
  private async visibleAccount(claims: CitybaseClaims, accountId: string): Promise<AccountRow> {
    const a = await findAccount(this.pool, accountId);
    if (!a || !visible(claims, a)) throw DomainError.notFound('account', accountId, 'ACCOUNT_NOT_FOUND');
    return a;
  }

  @GrpcMethod('SettlementService', 'getAccountBalance')
  async getAccountBalance(
    req: GetAccountBalanceRequest,
    metadata: Metadata,
  ): Promise<GetAccountBalanceResponse> {
    const a = await this.visibleAccount(claimsOf(metadata), requiredUuid('account_id', req.accountId));
    return { balance: await toBalance(this.pool, a) };
  }

  @GrpcMethod('SettlementService', 'listAccounts')
  async listAccounts(req: ListAccountsRequest, metadata: Metadata): Promise<ListAccountsResponse> {
    const claims = claimsOf(metadata);
    const operatorId = optionalString('operator_id', req.operatorId, { max: 64 });
    const projectId = optionalString('project_id', req.projectId, { max: 64 });
    const ownerRef = optionalString('owner_ref', req.ownerRef, { max: 128 });
    const kind = req.kind ?? 0;
    if (kind !== 0 && !(kind in AccountKind && kind > 0))
      throw DomainError.invalid('kind', `unknown value ${kind}`);
    const page = parsePage(req.page, ACCOUNTS_PAGE);
    const filter = tenancyFilter(claims);
    const { rows } = await this.pool.query<AccountRow>(
      `SELECT account_id, kind, operator_id, project_id, merchant_id, owner_ref, currency, normal_side,
              must_not_go_negative, shards
         FROM ledger_accounts
        WHERE ($1 = '' OR operator_id = $1) AND ($2 = '' OR project_id = $2) AND ($3 = 0 OR kind = $3)
          AND ($4 = '' OR owner_ref = $4) AND ($5::uuid IS NULL OR account_id > $5::uuid)
          AND ($6 OR operator_id = ANY($7::text[]) OR (project_id <> '' AND project_id = ANY($8::text[])))
        ORDER BY account_id LIMIT $9`,
      [
        operatorId,
        projectId,
        kind,
        ownerRef,
        page.after?.[0] ?? null,
        filter.all,
        filter.all ? [] : filter.operatorIds,
        filter.all ? [] : filter.projectIds,
        page.size + 1,
      ],
    );
    const { rows: items, nextPageToken } = pageOf(rows, page.size, ACCOUNTS_PAGE, (a) => [a.account_id]);
    return {
      accounts: await Promise.all(items.map((a) => toBalance(this.pool, a))),
      page: { nextPageToken },
    };
  }

  @GrpcMethod('SettlementService', 'listAccountEntries')
  async listAccountEntries(
    req: ListAccountEntriesRequest,
    metadata: Metadata,
  ): Promise<ListAccountEntriesResponse> {
    const a = await this.visibleAccount(claimsOf(metadata), requiredUuid('account_id', req.accountId));
    const page = parsePage(req.page, ACCOUNT_ENTRIES_PAGE);
    const currency = a.currency.trim();
    // newest first; the balance after an entry = today's balance minus every later entry
    const { rows } = await this.pool.query<{
      entry_id: string;
      tx_id: string;
      kind: string;
      reference: string;
      amount: string;
      after: string;
      posted_at: Date;
    }>(
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
      [a.account_id, page.after?.[0].toString() ?? null, page.size + 1, a.normal_side],
    );
    const { rows: items, nextPageToken } = pageOf(rows, page.size, ACCOUNT_ENTRIES_PAGE, (r) => [
      BigInt(r.entry_id),
    ]);
    return {
      entries: items.map((r) => ({
        transactionId: r.tx_id,
        transactionKind: r.kind,
        reference: r.reference,
        amount: { currency, amountMinor: BigInt(r.amount) },
        balanceAfter: { currency, amountMinor: BigInt(r.after) },
        postedAt: toTimestamp(r.posted_at),
      })),
      page: { nextPageToken },
    };
  }

  @GrpcMethod('SettlementService', 'getTransaction')
  async getTransaction(req: GetTransactionRequest, metadata: Metadata): Promise<GetTransactionResponse> {
    const txId = requiredUuid('transaction_id', req.transactionId);
    return { transaction: await this.visibleTransaction(this.pool, claimsOf(metadata), txId) };
  }

  private async visibleTransaction(
    db: Queryable,
    claims: CitybaseClaims,
    txId: string,
  ): Promise<Transaction> {
    const found = await findTransaction(db, txId);
    if (!found || !visible(claims, found.tx))
      throw DomainError.notFound('transaction', txId, 'TRANSACTION_NOT_FOUND');
    return {
      transactionId: found.tx.tx_id,
      kind: found.tx.kind,
      tenancy: { operatorId: found.tx.operator_id, projectId: found.tx.project_id, merchantId: '' },
      reference: found.tx.reference,
      reversesTransactionId: found.tx.reverses_tx_id ?? '',
      postings: found.entries.map((e) => ({
        accountId: e.account_id,
        accountKind: e.kind,
        amount: { currency: e.currency.trim(), amountMinor: e.amount_minor },
      })),
      postedAt: toTimestamp(found.tx.posted_at),
    };
  }

  @GrpcMethod('SettlementService', 'reverseTransaction')
  async reverseTransaction(
    req: ReverseTransactionRequest,
    metadata: Metadata,
  ): Promise<ReverseTransactionResponse> {
    const claims = claimsOf(metadata);
    const command = {
      requestId: requestId(req.requestId),
      transactionId: requiredUuid('transaction_id', req.transactionId),
      reason: requiredString('reason', req.reason, { max: 200 }),
    };
    const reversalId = await this.mutations.run({
      method: 'SettlementService.ReverseTransaction',
      claims,
      requestId: command.requestId,
      command,
      execute: async ({ client, note }) => {
        const original = await this.visibleTransaction(client, claims, command.transactionId);
        // escrow's books follow its orders (escrow = paid - released - refunded per order): correcting
        // an escrow posting by hand would part them; orders are corrected by refunds and disputes
        if (original.postings.some((p) => p.accountKind === AccountKind.ACCOUNT_KIND_ESCROW))
          throw DomainError.precondition(
            'TRANSACTION_MANAGED_BY_ESCROW',
            `transaction ${command.transactionId} moves escrow: correct the order (refund, dispute) instead`,
          );
        const txId = (await reverse(client, command.transactionId)).txId;
        note({ transaction_id: command.transactionId, reversal_id: txId });
        return txId;
      },
      // a replay: the reversal of that transaction is the one the first request posted
      replay: async ({ client }) => {
        const { rows } = await client.query<{ tx_id: string }>(
          'SELECT tx_id FROM ledger_transactions WHERE reverses_tx_id = $1',
          [command.transactionId],
        );
        return rows[0]!.tx_id;
      },
    });
    return { reversal: await this.visibleTransaction(this.pool, claims, reversalId) };
  }
}
