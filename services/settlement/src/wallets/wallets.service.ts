import { Inject, Injectable } from '@nestjs/common';
import { assertTenancy, CitybaseClaims, Logger, LOGGER, Mutations, PG_POOL, Pool } from '@citybase/platform';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { Balance, EntryRow, LedgerService, TransactionRow } from '../ledger/ledger.service';
import { PayoutRow, PayoutsService } from '../payouts/payouts.service';
import { maskBankAccount, PayPropertyFeeCommand, WalletRef, WithdrawCommand } from './wallets.domain';
import { WalletErrors } from './wallets.errors';
import { billPaid, findFeePayment, insertFeePayment } from './wallets.store';

export interface WalletView extends WalletRef {
  /** Empty while the wallet has never been credited (no account yet). */
  accountId: string;
  balance: Balance | undefined;
}

/**
 * Residents' wallets: liabilities of the city to a resident, per operator, that never go negative.
 * They are credited by refunds (escrow), and spent by withdrawals to the bank (a payout holding the
 * amount until ConfirmPayout) or by paying a property fee bill (posted at once).
 */
@Injectable()
export class WalletsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly mutations: Mutations,
    private readonly ledger: LedgerService,
    private readonly payouts: PayoutsService,
  ) {}

  /** A wallet's balance; one that does not exist yet is zero (and is not created by looking). */
  async getWallet(claims: CitybaseClaims, ref: WalletRef): Promise<WalletView> {
    assertTenancy(claims, { operatorId: ref.operatorId });
    return this.view(ref);
  }

  private async view(ref: WalletRef): Promise<WalletView> {
    const accountId = await this.ledger.walletAccount(ref);
    return {
      ...ref,
      accountId: accountId ?? '',
      balance: accountId ? await this.ledger.balance(accountId) : undefined,
    };
  }

  async withdraw(claims: CitybaseClaims, cmd: WithdrawCommand): Promise<PayoutRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId });
    const once = await this.mutations.runWithOutcome({
      method: 'SettlementService.WithdrawFromWallet',
      claims,
      requestId: cmd.requestId,
      // the stored fingerprint is an unsalted hash: never of the clear bank account
      command: { ...cmd, bankAccount: maskBankAccount(cmd.bankAccount) },
      done: 'wallet withdrawal',
      replay: ({ resourceId }) => Promise.resolve(resourceId),
      execute: async ({ client, resourceId: id }) => {
        // a wallet that was never credited has nothing to withdraw (and is not created for it)
        const walletId = await this.ledger.walletAccount(cmd, client);
        if (!walletId) throw WalletErrors.insufficientFunds();
        await this.payouts.openWithdrawal(client, {
          payoutId: id,
          walletAccountId: walletId,
          operatorId: cmd.operatorId,
          ownerRef: cmd.ownerRef,
          currency: cmd.currency,
          amountMinor: cmd.amountMinor,
          maskedBankAccount: maskBankAccount(cmd.bankAccount),
        });
        return id;
      },
    });
    const payout = (await this.payouts.find(once.result))!;
    if (once.replayed) return payout;
    // never the account in clear: the masked form only
    this.logger.info(
      {
        payout_id: payout.payout_id,
        bank_account: payout.bank_account,
        amount_minor: payout.amount_minor.toString(),
      },
      'wallet withdrawal accepted',
    );
    return payout;
  }

  async payPropertyFee(
    claims: CitybaseClaims,
    cmd: PayPropertyFeeCommand,
  ): Promise<{ tx: TransactionRow; entries: EntryRow[]; wallet: WalletView }> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const feePaymentId = await this.mutations.run({
      method: 'SettlementService.PayPropertyFeeFromWallet',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      replay: ({ resourceId }) => Promise.resolve(resourceId),
      execute: async ({ client, resourceId: id, note }) => {
        note({ fee_payment_id: id, bill_ref: cmd.billRef });
        if (await billPaid(client, cmd)) throw WalletErrors.billAlreadyPaid(cmd.billRef);
        const walletId = await this.ledger.walletAccount(cmd, client);
        if (!walletId) throw WalletErrors.insufficientFunds();
        const propertyShareId = await this.ledger.accountId(client, {
          kind: AccountKind.ACCOUNT_KIND_PROPERTY_SHARE,
          operatorId: cmd.operatorId,
          projectId: cmd.projectId,
          currency: cmd.currency,
        });
        // the wallet's balance row refuses to go below what pending withdrawals hold: a payment
        // that does not fit fails here, and the whole transaction rolls back
        const tx = await this.ledger
          .post(client, {
            kind: 'property_fee',
            idempotencyKey: `property_fee:${id}`,
            currency: cmd.currency,
            operatorId: cmd.operatorId,
            projectId: cmd.projectId,
            reference: cmd.billRef,
            lines: [
              { accountId: walletId, amountMinor: cmd.amountMinor },
              { accountId: propertyShareId, amountMinor: -cmd.amountMinor },
            ],
          })
          .catch((err: unknown) => {
            throw isInsufficient(err) ? WalletErrors.insufficientFunds() : err;
          });
        const inserted = await insertFeePayment(client, {
          fee_payment_id: id,
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          owner_ref: cmd.ownerRef,
          bill_ref: cmd.billRef,
          currency: cmd.currency,
          amount_minor: cmd.amountMinor,
          tx_id: tx.txId,
        });
        // paid by a concurrent request with another request_id: this one rolls back
        if (!inserted) throw WalletErrors.billAlreadyPaid(cmd.billRef);
        return id;
      },
    });
    const fee = (await findFeePayment(this.pool, feePaymentId))!;
    const found = (await this.ledger.transaction(fee.tx_id))!;
    return { ...found, wallet: await this.view(cmd) };
  }
}

function isInsufficient(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'INSUFFICIENT_FUNDS';
}
