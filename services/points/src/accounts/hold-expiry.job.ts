import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { PointsConfig } from '../config';
import { AccountsService } from './accounts.service';

/** Reservations looked at per batch. */
const BATCH = 100;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Expires held reservations past their deadline, every POINTS_HOLD_EXPIRY_INTERVAL_MS: each in its
 * own transaction under its account's lock, its held units released (those of lapsed lots expire),
 * PointsReservationReleased "expired". Only a HELD reservation is ended, so concurrent passes (or a
 * confirmation racing it) end each one once.
 */
@Injectable()
export class HoldExpiryJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: PointsConfig,
    private readonly accounts: AccountsService,
  ) {
    super({
      name: 'points hold expiry',
      intervalMs: config.POINTS_HOLD_EXPIRY_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.accounts.expireDueReservations(BATCH)) >= BATCH);
  }
}
