import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  DomainError,
  inTenancy,
  keyPart,
  Mutations,
  Page,
  pageCursor,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  tenancyFilter,
} from '@citybase/platform';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  AccountKey,
  accountEntries,
  AccountRow,
  Balance,
  balanceOf,
  clearingPostings,
  ClearingPostingRow,
  EntryRow,
  ensureAccount,
  findAccount,
  findTransaction,
  findWalletAccount,
  HoldRow,
  listAccounts,
  merchantPayables,
  placeHold,
  post,
  PostedTransaction,
  postHold,
  PostInput,
  Queryable,
  reversalOf,
  reverse,
  StatementEntryRow,
  TransactionRow,
  voidHold,
} from './ledger.store';

export type {
  AccountKey,
  AccountRow,
  Balance,
  ClearingPostingRow,
  EntryRow,
  HoldRow,
  PostingLine,
  PostInput,
  PostedTransaction,
  Queryable,
  TransactionRow,
} from './ledger.store';
export { accountPolicy, LedgerErrors } from './ledger.store';
/** The proto of a ledger transaction, for features that answer one (PayPropertyFeeFromWallet). */
export { transactionProto } from './ledger.render';

/** Page tokens of ListAccounts (sorted by account id) and ListAccountEntries (entry id, newest first). */
export const ACCOUNTS_PAGE = pageCursor('settlement.accounts', keyPart.uuid);
export const ACCOUNT_ENTRIES_PAGE = pageCursor('settlement.account-entries', keyPart.bigint);

export interface AccountBalanceView {
  account: AccountRow;
  balance: Balance;
}

export interface TransactionView {
  tx: TransactionRow;
  entries: EntryRow[];
}

export interface ListAccountsQuery {
  operatorId: string;
  projectId: string;
  kind: AccountKind | 0;
  ownerRef: string;
  page: Page<[string]>;
}

const visible = (claims: CitybaseClaims, t: { operator_id: string; project_id: string }) =>
  inTenancy(claims, { operatorId: t.operator_id, projectId: t.project_id || undefined });

/**
 * The ledger's use cases (queries, corrections by reversal) and the one door other features post
 * through: accounts, postings and holds inside the caller's transaction (the engine is
 * ledger.store.ts; docs/adr/0006-settlement-ledger.md).
 */
@Injectable()
export class LedgerService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  // ---- use cases of the ledger's RPCs ----

  async getAccountBalance(claims: CitybaseClaims, accountId: string): Promise<AccountBalanceView> {
    return this.withBalance(await this.visibleAccount(claims, accountId));
  }

  async listAccounts(
    claims: CitybaseClaims,
    q: ListAccountsQuery,
  ): Promise<{ accounts: AccountBalanceView[]; nextPageToken: string }> {
    const rows = await listAccounts(this.pool, {
      ...q,
      after: q.page.after?.[0],
      tenancy: { operatorIds: [], projectIds: [], ...tenancyFilter(claims) },
      limit: q.page.size + 1,
    });
    const { rows: items, nextPageToken } = pageOf(rows, q.page.size, ACCOUNTS_PAGE, (a) => [a.account_id]);
    return { accounts: await Promise.all(items.map((a) => this.withBalance(a))), nextPageToken };
  }

  async listAccountEntries(
    claims: CitybaseClaims,
    q: { accountId: string; page: Page<[bigint]> },
  ): Promise<{ account: AccountRow; entries: StatementEntryRow[]; nextPageToken: string }> {
    const account = await this.visibleAccount(claims, q.accountId);
    const rows = await accountEntries(this.pool, account, {
      before: q.page.after?.[0],
      limit: q.page.size + 1,
    });
    const { rows: entries, nextPageToken } = pageOf(rows, q.page.size, ACCOUNT_ENTRIES_PAGE, (r) => [
      BigInt(r.entry_id),
    ]);
    return { account, entries, nextPageToken };
  }

  async getTransaction(claims: CitybaseClaims, txId: string): Promise<TransactionView> {
    return this.visibleTransaction(this.pool, claims, txId);
  }

  async reverseTransaction(
    claims: CitybaseClaims,
    command: { requestId: string; transactionId: string; reason: string },
  ): Promise<TransactionView> {
    const reversalId = await this.mutations.run({
      method: 'SettlementService.ReverseTransaction',
      claims,
      requestId: command.requestId,
      command,
      execute: async ({ client, note }) => {
        const original = await this.visibleTransaction(client, claims, command.transactionId);
        // escrow's books follow its orders (escrow = paid - released - refunded per order): correcting
        // an escrow posting by hand would part them; orders are corrected by refunds and disputes
        if (original.entries.some((e) => e.kind === AccountKind.ACCOUNT_KIND_ESCROW))
          throw DomainError.precondition(
            'TRANSACTION_MANAGED_BY_ESCROW',
            `transaction ${command.transactionId} moves escrow: correct the order (refund, dispute) instead`,
          );
        // points clearing accounts equal their open obligations (docs/settlement-points.md)
        if (original.entries.some((e) => e.kind === AccountKind.ACCOUNT_KIND_POINTS_CLEARING))
          throw DomainError.precondition(
            'TRANSACTION_MANAGED_BY_POINTS_CLEARING',
            `transaction ${command.transactionId} moves points clearing: it follows points' obligations`,
          );
        const txId = (await reverse(client, command.transactionId)).txId;
        note({ transaction_id: command.transactionId, reversal_id: txId });
        return txId;
      },
      // a replay: the reversal of that transaction is the one the first request posted
      replay: async ({ client }) => (await reversalOf(client, command.transactionId))!,
    });
    return this.visibleTransaction(this.pool, claims, reversalId);
  }

  /** The account, or NOT_FOUND when it is missing or outside the caller's tenancy (indistinguishable). */
  private async visibleAccount(claims: CitybaseClaims, accountId: string): Promise<AccountRow> {
    const a = await findAccount(this.pool, accountId);
    if (!a || !visible(claims, a)) throw DomainError.notFound('account', accountId, 'ACCOUNT_NOT_FOUND');
    return a;
  }

  private async withBalance(account: AccountRow): Promise<AccountBalanceView> {
    return { account, balance: (await balanceOf(this.pool, account.account_id))! };
  }

  private async visibleTransaction(
    db: Queryable,
    claims: CitybaseClaims,
    txId: string,
  ): Promise<TransactionView> {
    const found = await findTransaction(db, txId);
    if (!found || !visible(claims, found.tx))
      throw DomainError.notFound('transaction', txId, 'TRANSACTION_NOT_FOUND');
    return found;
  }

  // ---- for other features, inside their transaction ----

  /** The account's id, created on first use in the caller's transaction. */
  accountId(client: PoolClient, key: AccountKey): Promise<string> {
    return ensureAccount(client, key);
  }

  /** Posts a zero-sum transaction (idempotent by its key). */
  post(client: PoolClient, input: PostInput): Promise<PostedTransaction> {
    return post(client, input);
  }

  placeHold(client: PoolClient, input: Parameters<typeof placeHold>[1]): ReturnType<typeof placeHold> {
    return placeHold(client, input);
  }

  postHold(client: PoolClient, input: Parameters<typeof postHold>[1]): ReturnType<typeof postHold> {
    return postHold(client, input);
  }

  voidHold(client: PoolClient, holdId: string, status: 'voided' | 'expired'): Promise<HoldRow> {
    return voidHold(client, holdId, status);
  }

  /** The account's balance (undefined for an unknown account); in the caller's transaction when given. */
  balance(accountId: string, db: Queryable = this.pool): Promise<Balance | undefined> {
    return balanceOf(db, accountId);
  }

  transaction(txId: string, db: Queryable = this.pool): Promise<TransactionView | undefined> {
    return findTransaction(db, txId);
  }

  /** Merchant payable accounts of a project with what is available to pay out (balance - held). */
  merchantPayables(
    db: Queryable,
    q: { operatorId: string; projectId: string; currency: string },
  ): ReturnType<typeof merchantPayables> {
    return merchantPayables(db, q);
  }

  /** A resident wallet's account id, without creating the account. */
  walletAccount(
    w: { operatorId: string; ownerRef: string; currency: string },
    db: Queryable = this.pool,
  ): Promise<string | undefined> {
    return findWalletAccount(db, w);
  }

  /** The day's net postings per transaction on a channel's clearing accounts (reconciliation). */
  clearingPostings(db: Queryable, q: Parameters<typeof clearingPostings>[1]): Promise<ClearingPostingRow[]> {
    return clearingPostings(db, q);
  }
}
