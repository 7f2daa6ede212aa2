import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { PointsConfig } from '../config';
import { TiersService } from './tiers.service';

/** Accounts looked at per batch. */
const BATCH = 500;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * Moves accounts to the tier their rolling earnings reach now (down as earnings leave the window),
 * every POINTS_TIER_INTERVAL_MS (default daily): all accounts of programmes with tiers, by id in
 * batches, a change per account in its own transaction under its lock, TierChanged once per change.
 */
@Injectable()
export class TierJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: PointsConfig,
    private readonly tiers: TiersService,
  ) {
    super({
      name: 'points tiers',
      intervalMs: config.POINTS_TIER_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    let after = NIL_UUID;
    await this.inBatches(async () => {
      const { looked, lastId } = await this.tiers.reviewTiers(after, BATCH);
      after = lastId;
      return looked === BATCH;
    });
  }
}
