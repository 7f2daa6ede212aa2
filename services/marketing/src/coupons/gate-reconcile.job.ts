import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { MarketingConfig } from '../config';
import { CouponsService } from './coupons.service';

/** Flash-sale campaigns looked at per pass. */
const CAMPAIGNS = 1_000;
const MAX_BACKOFF_MS = 60_000;

/**
 * Rebuilds flash-sale gate counters that are missing (Redis flushed or restarted) or drifted from
 * PostgreSQL (a process that died between the gate and its commit), every
 * MARKETING_GATE_RECONCILE_INTERVAL_MS (CouponsService.reconcileGates).
 */
@Injectable()
export class GateReconcileJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: MarketingConfig,
    private readonly coupons: CouponsService,
  ) {
    super({
      name: 'marketing gate reconcile',
      intervalMs: config.MARKETING_GATE_RECONCILE_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.coupons.reconcileGates(CAMPAIGNS);
  }
}
