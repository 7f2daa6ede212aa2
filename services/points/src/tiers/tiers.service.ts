import { Inject, Injectable } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { PointsEvents } from '@citybase/contracts/events';
import { lockAccount } from '../accounts/accounts.store';
import type { ProgrammeTerms } from '../programmes/programmes.domain';
import { ProgrammesService } from '../programmes/programmes.service';
import { effectiveTier, reviewTo, upgradeTo } from './tiers.domain';
import { changeTier, rollingEarnings, tierCandidates } from './tiers.store';

type TierAccount = { account_id: string; operator_id: string; holder_id: string; tier: string };

/**
 * Tiers (docs/points.md "Tiers"): an account's tier follows its rolling earnings (Σ points - reversed
 * of its earnings paid within the programme's window). An earning moves the account up at once (in
 * the earning's transaction, under the account's lock); the tier job moves accounts down (or up
 * after threshold changes) as time passes. Each change is one `UPDATE ... WHERE tier = <old>` under
 * the account's lock and one TierChanged, so a change is made and told once.
 */
@Injectable()
export class TiersService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly programmes: ProgrammesService,
  ) {}

  /** After an earning, in its transaction under the account's lock: up to the tier now reached. */
  async afterEarning(client: PoolClient, account: TierAccount, terms: ProgrammeTerms): Promise<void> {
    if (terms.tiers.length === 0) return;
    const rolling = await rollingEarnings(client, account.account_id, terms.tierWindowDays);
    const to = upgradeTo(terms.tiers, account.tier, rolling);
    if (to !== undefined) await this.change(client, account, terms, to, rolling);
  }

  /**
   * One batch of the tier job: up to `limit` accounts after `afterId`; those whose tier their rolling
   * earnings no longer match are changed, each in its own transaction under its lock (checked
   * again there). Returns how many it looked at, the last id, and how many changed.
   */
  async reviewTiers(
    afterId: string,
    limit: number,
  ): Promise<{ looked: number; lastId: string; changed: number }> {
    const candidates = await tierCandidates(this.pool, afterId, limit);
    let changed = 0;
    for (const c of candidates) {
      const seen = await this.programmes.get(this.pool, c.operator_id);
      if (reviewTo(seen.tiers, c.tier, c.rolling) === undefined) continue;
      await withTransaction(this.pool, async (client) => {
        const account = await lockAccount(client, c.account_id);
        const terms = await this.programmes.get(client, account.operator_id);
        const rolling = await rollingEarnings(client, account.account_id, terms.tierWindowDays);
        const to = reviewTo(terms.tiers, account.tier, rolling);
        if (to !== undefined && (await this.change(client, account, terms, to, rolling))) changed++;
      });
    }
    const last = candidates[candidates.length - 1];
    return { looked: candidates.length, lastId: last?.account_id ?? afterId, changed };
  }

  private async change(
    client: PoolClient,
    account: TierAccount,
    terms: ProgrammeTerms,
    to: string,
    rolling: bigint,
  ): Promise<boolean> {
    if (!(await changeTier(client, account.account_id, account.tier, to))) return false;
    const from = effectiveTier(terms.tiers, account.tier);
    await this.outbox.enqueue(
      client,
      PointsEvents.TierChanged,
      {
        tenancy: { operatorId: account.operator_id, projectId: '', merchantId: '' },
        holderId: account.holder_id,
        fromTier: from,
        toTier: to,
        occurredAt: toTimestamp(new Date()),
      },
      { key: account.holder_id, subject: account.account_id, tenancy: { operatorId: account.operator_id } },
    );
    this.logger.info(
      { account_id: account.account_id, from_tier: from, to_tier: to, rolling },
      'points tier changed',
    );
    return true;
  }
}
