import { Injectable } from '@nestjs/common';
import type { PoolClient } from '@citybase/platform';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { AccountKey, ensureAccount } from '../ledger/ledger.store';

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

/**
 * Account ids for escrow's postings, inside the business transaction (created on first use; the
 * ledger caches only accounts that are committed, so a rolled-back transaction leaves nothing behind).
 */
@Injectable()
export class EscrowAccounts {
  id(client: PoolClient, key: AccountKey): Promise<string> {
    return ensureAccount(client, key);
  }
}
