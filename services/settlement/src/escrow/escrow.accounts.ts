import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, Pool, PoolClient, withTransaction } from '@citybase/platform';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { AccountKey, ensureAccount } from '../ledger/ledger';

/** The ledger accounts an order's money moves through (docs/settlement-escrow.md, "Accounts"). */
export interface OrderAccountsOf {
  operator_id: string;
  project_id: string;
  merchant_id: string;
  channel_id: string;
  payer_ref: string;
  currency: string;
}

export const orderAccounts = (o: OrderAccountsOf) => ({
  clearing: {
    kind: AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
    ownerRef: o.channel_id,
  },
  escrow: {
    kind: AccountKind.ACCOUNT_KIND_ESCROW,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
  },
  merchant: {
    kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
    merchantId: o.merchant_id,
  },
  property: {
    kind: AccountKind.ACCOUNT_KIND_PROPERTY_SHARE,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
  },
  commission: {
    kind: AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION,
    currency: o.currency,
    operatorId: o.operator_id,
  },
  tax: { kind: AccountKind.ACCOUNT_KIND_TAX_PAYABLE, currency: o.currency, operatorId: o.operator_id },
  wallet: {
    kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
    currency: o.currency,
    operatorId: o.operator_id,
    ownerRef: o.payer_ref,
  },
});

export type OrderAccountName = keyof ReturnType<typeof orderAccounts>;

const keyString = (k: AccountKey) =>
  [k.kind, k.operatorId ?? '', k.projectId ?? '', k.merchantId ?? '', k.ownerRef ?? '', k.currency].join(
    '\u0000',
  );

/**
 * Account ids for escrow's postings. An account is created in a short transaction of its own that
 * only creates accounts, and is used by the business transaction only after that committed: the
 * ledger caches account ids per process as soon as ensureAccount returns, so an account created
 * inside a business transaction that then rolls back (a deadlock retry, a poison event in the same
 * inbox batch) would leave an id in the cache that no longer exists (reported to the ledger's
 * owner). Accounts are never deleted, so creating one early is harmless.
 */
@Injectable()
export class EscrowAccounts {
  private readonly committed = new Set<string>();

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Makes sure the accounts exist and are committed. Call it before the business transaction. */
  async prepare(keys: AccountKey[]): Promise<void> {
    const missing = keys.filter((k) => !this.committed.has(keyString(k)));
    if (missing.length === 0) return;
    await withTransaction(this.pool, async (client) => {
      for (const k of missing) await ensureAccount(client, k);
    });
    for (const k of missing) this.committed.add(keyString(k));
  }

  /** Every account the order's money may move through (the wallet only if the order has a payer). */
  prepareOrder(o: OrderAccountsOf): Promise<void> {
    const { wallet, ...others } = orderAccounts(o);
    return this.prepare([...Object.values(others), ...(o.payer_ref === '' ? [] : [wallet])]);
  }

  /**
   * The account's id inside the caller's transaction. An account not prepared yet is created
   * first in a transaction of its own (on a second connection of the pool).
   */
  async id(client: PoolClient, key: AccountKey): Promise<string> {
    if (!this.committed.has(keyString(key))) await this.prepare([key]);
    return ensureAccount(client, key);
  }
}
