import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  Logger,
  LOGGER,
  Mutations,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  tenancyFilter,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { AccountKind, PayoutStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { SettlementEvents } from '@citybase/contracts/events';
import type { SettlementConfig } from '../config';
import { LedgerService } from '../ledger/ledger.service';
import {
  ConfirmPayoutCommand,
  decideConfirm,
  holdExpiry,
  ListPayoutsQuery,
  outcomeName,
  PAYOUTS_PAGE,
  RunPayoutCycleCommand,
} from './payouts.domain';
import { inSavepoint, pageOf } from '@citybase/platform';
import { PayoutErrors } from './payouts.errors';
import {
  findBatch,
  findPayout,
  insertBatch,
  insertPayout,
  listPayouts,
  lockDueOrphanHolds,
  lockDuePayouts,
  lockPayout,
  payoutsOfBatch,
  PayoutRow,
  settlePayout,
} from './payouts.store';

export type { PayoutRow } from './payouts.store';
/** The proto of a payout, for features that answer one (WithdrawFromWallet). */
export { payoutProto } from './payouts.render';

/**
 * Payouts: merchant settlement cycles and the bank's answers for them and for wallet withdrawals.
 * A payout holds its amount on the account it pays from (ledger hold); the bank's success posts the
 * hold to the operator's bank account (Dr payable or wallet / Cr bank), its failure voids the hold,
 * and a hold nobody answered for in time expires. Every outcome writes PayoutSettled in the same
 * transaction.
 */
@Injectable()
export class PayoutsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: SettlementConfig,
    private readonly mutations: Mutations,
    private readonly ledger: LedgerService,
  ) {}

  async runPayoutCycle(
    claims: CitybaseClaims,
    cmd: RunPayoutCycleCommand,
  ): Promise<{ batchId: string; payouts: PayoutRow[] }> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const batchId = await this.mutations.run({
      method: 'SettlementService.RunPayoutCycle',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'payout cycle',
      execute: async ({ client, resourceId, note }) => {
        const payouts = await this.createCycle(client, resourceId, cmd);
        note({ batch_id: resourceId, project_id: cmd.projectId, payouts });
        return resourceId;
      },
      replay: ({ resourceId }) => Promise.resolve(resourceId),
    });
    const payouts = await payoutsOfBatch(this.pool, batchId);
    return { batchId, payouts };
  }

  /**
   * One payout per merchant of the project with money available (balance minus what earlier payouts
   * hold), in account order, so concurrent cycles lock balance rows in one order.
   */
  private async createCycle(
    client: PoolClient,
    batchId: string,
    cmd: RunPayoutCycleCommand,
  ): Promise<number> {
    let created = 0;
    await insertBatch(client, { batchId, ...cmd });
    const expiresAt = holdExpiry(new Date(), this.config.SETTLEMENT_PAYOUT_HOLD_HOURS);
    for (const payable of await this.ledger.merchantPayables(client, cmd)) {
      const payoutId = randomUUID();
      // a concurrent debit (another cycle, a refund after a split) may have taken the money since the
      // read: then this merchant waits for the next cycle, and nothing of its hold stays
      const placed = await inSavepoint(
        client,
        'payout_hold',
        async () => {
          const { hold } = await this.ledger.placeHold(client, {
            accountId: payable.account_id,
            amountMinor: payable.available,
            idempotencyKey: `payout:${payoutId}`,
            reference: payoutId,
            expiresAt,
            requireAvailable: true,
          });
          return insertPayout(client, {
            payout_id: payoutId,
            batch_id: batchId,
            operator_id: cmd.operatorId,
            project_id: cmd.projectId,
            merchant_id: payable.merchant_id,
            owner_ref: '',
            account_id: payable.account_id,
            account_kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
            currency: cmd.currency,
            amount_minor: payable.available,
            hold_id: hold.hold_id,
            bank_account: '',
            expires_at: expiresAt,
          });
        },
        (err) => err instanceof DomainError && err.code === 'INSUFFICIENT_FUNDS',
      );
      if (placed) created++;
      else
        this.logger.info(
          { batch_id: batchId, merchant_id: payable.merchant_id },
          'merchant payable changed during the cycle; left for the next cycle',
        );
    }
    return created;
  }

  async confirmPayout(claims: CitybaseClaims, cmd: ConfirmPayoutCommand): Promise<PayoutRow> {
    const current = async ({ client }: { client: PoolClient }) => (await findPayout(client, cmd.payoutId))!;
    return this.mutations.run({
      method: 'SettlementService.ConfirmPayout',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.payoutId,
      done: 'payout confirmation applied',
      // another tenant's payout answers exactly like a missing one
      target: {
        load: (client) => lockPayout(client, cmd.payoutId),
        tenancy: (p) => ({ operatorId: p.operator_id, projectId: p.project_id || undefined }),
        notFound: () => PayoutErrors.notFound(cmd.payoutId),
      },
      execute: async ({ client, target: payout, note }) => {
        let result = payout;
        const decision = decideConfirm(
          { payoutId: payout.payout_id, status: payout.status, bankReference: payout.bank_reference },
          cmd.outcome,
        );
        if (decision !== 'unchanged') {
          if (decision === 'pay' && cmd.outcome.paid) {
            const bankAccountId = await this.ledger.accountId(client, {
              kind: AccountKind.ACCOUNT_KIND_BANK,
              operatorId: payout.operator_id,
              currency: payout.currency,
            });
            const { tx } = await this.ledger.postHold(client, {
              holdId: payout.hold_id,
              counterAccountId: bankAccountId,
              kind: payout.batch_id ? 'payout' : 'wallet_withdrawal',
              currency: payout.currency,
              operatorId: payout.operator_id,
              projectId: payout.project_id,
              reference: payout.payout_id,
            });
            result = (await settlePayout(client, payout.payout_id, {
              status: PayoutStatus.PAYOUT_STATUS_PAID,
              bankReference: cmd.outcome.bankReference,
              txId: tx.txId,
            }))!;
          } else if (decision === 'fail' && !cmd.outcome.paid) {
            await this.ledger.voidHold(client, payout.hold_id, 'voided');
            result = (await settlePayout(client, payout.payout_id, {
              status: PayoutStatus.PAYOUT_STATUS_FAILED,
              failureReason: cmd.outcome.failureReason,
            }))!;
          }
          await this.announce(client, result);
        }
        note({ payout_id: result.payout_id, status: PayoutStatus[result.status] });
        return result;
      },
      replay: current,
    });
  }

  async listPayouts(
    claims: CitybaseClaims,
    q: ListPayoutsQuery,
  ): Promise<{ payouts: PayoutRow[]; nextPageToken: string }> {
    const rows = await listPayouts(this.pool, { ...q, tenancy: tenancyFilter(claims) });
    const { rows: payouts, nextPageToken } = pageOf(rows, q.size, PAYOUTS_PAGE, (p) => [
      p.cursor_at,
      p.payout_id,
    ]);
    return { payouts, nextPageToken };
  }

  /** A payout as it is now (undefined when there is none). */
  async find(payoutId: string): Promise<PayoutRow | undefined> {
    return findPayout(this.pool, payoutId);
  }

  /**
   * A resident's withdrawal to the bank (WalletsService), in the caller's transaction: the amount is
   * held on the wallet until the bank's answer (ConfirmPayout) or the hold's expiry. The hold refuses
   * an amount the wallet's available balance does not cover (INSUFFICIENT_FUNDS).
   */
  async openWithdrawal(
    client: PoolClient,
    w: {
      payoutId: string;
      walletAccountId: string;
      operatorId: string;
      ownerRef: string;
      currency: string;
      amountMinor: bigint;
      /** Masked already: never the account in clear. */
      maskedBankAccount: string;
    },
  ): Promise<PayoutRow> {
    const expiresAt = holdExpiry(new Date(), this.config.SETTLEMENT_PAYOUT_HOLD_HOURS);
    const { hold } = await this.ledger.placeHold(client, {
      accountId: w.walletAccountId,
      amountMinor: w.amountMinor,
      idempotencyKey: `payout:${w.payoutId}`,
      reference: w.payoutId,
      expiresAt,
      requireAvailable: true,
    });
    return insertPayout(client, {
      payout_id: w.payoutId,
      batch_id: null,
      operator_id: w.operatorId,
      project_id: '',
      merchant_id: '',
      owner_ref: w.ownerRef,
      account_id: w.walletAccountId,
      account_kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
      currency: w.currency,
      amount_minor: w.amountMinor,
      hold_id: hold.hold_id,
      bank_account: w.maskedBankAccount,
      expires_at: expiresAt,
    });
  }

  async getBatch(batchId: string): Promise<{ batchId: string; payouts: PayoutRow[] } | undefined> {
    const batch = await findBatch(this.pool, batchId);
    return batch && { batchId, payouts: await payoutsOfBatch(this.pool, batchId) };
  }

  /**
   * One pass of the hold expiry (HoldExpiryJob): expires due payouts (their holds expire, PayoutSettled
   * "expired") and due holds of no payout, each batch in one transaction with its rows locked and
   * locked rows skipped, so replicas share the work. Returns how many it expired.
   */
  async expireDue(limit: number): Promise<number> {
    const payouts = await withTransaction(this.pool, async (client) => {
      const due = await lockDuePayouts(client, limit);
      for (const payout of due) {
        await this.ledger.voidHold(client, payout.hold_id, 'expired');
        const expired = await settlePayout(client, payout.payout_id, {
          status: PayoutStatus.PAYOUT_STATUS_EXPIRED,
          failureReason: 'the bank did not confirm before the hold expired',
        });
        if (expired) await this.announce(client, expired);
      }
      return due;
    });
    const orphans = await withTransaction(this.pool, async (client) => {
      const due = await lockDueOrphanHolds(client, limit);
      for (const holdId of due) await this.ledger.voidHold(client, holdId, 'expired');
      return due;
    });
    for (const p of payouts) this.logger.warn({ payout_id: p.payout_id }, 'payout expired unconfirmed');
    if (orphans.length) this.logger.info({ holds: orphans.length }, 'expired due holds of no payout');
    return payouts.length + orphans.length;
  }

  /** PayoutSettled for a payout that just became final, in the caller's transaction. */
  private async announce(client: PoolClient, p: PayoutRow): Promise<void> {
    const tenancy = { operatorId: p.operator_id, projectId: p.project_id, merchantId: p.merchant_id };
    await this.outbox.enqueue(
      client,
      SettlementEvents.PayoutSettled,
      {
        payoutId: p.payout_id,
        tenancy,
        accountId: p.account_id,
        amount: { currency: p.currency, amountMinor: p.amount_minor },
        outcome: outcomeName(p.status),
        transactionId: p.tx_id ?? '',
        occurredAt: toTimestamp(p.settled_at ?? new Date()),
      },
      { key: p.payout_id, subject: p.payout_id, tenancy },
    );
  }
}
