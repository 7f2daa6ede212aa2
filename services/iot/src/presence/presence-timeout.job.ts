import { Inject, Injectable } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  OUTBOX,
  Outbox,
  PeriodicJob,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IotEvents } from '@citybase/contracts/events';
import type { IotConfig } from '../config';
import { PROFILES } from '../profiles/profiles';

/**
 * The inactivity timeout of presence (docs/iot.md "Presence"): an online device silent for longer
 * than its profile's inactivityTimeoutS (no message of any kind received) goes offline with reason
 * "inactive", version + 1, PresenceChanged through the outbox. Its next message brings it back.
 */
@Injectable()
export class PresenceTimeoutJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: IotConfig,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
  ) {
    super({
      name: 'iot presence timeout',
      intervalMs: config.IOT_PRESENCE_JOB_INTERVAL_MS,
      logger,
      maxBackoffMs: 30_000,
    });
  }

  async runOnce(): Promise<void> {
    for (const profile of PROFILES) {
      await this.inBatches(async () => (await this.expire(profile.name, profile.inactivityTimeoutS)) >= 500);
    }
  }

  private expire(profile: string, timeoutS: number): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{
        device_id: string;
        version: string;
        last_seen_at: Date;
        operator_id: string;
        project_id: string;
      }>(
        `UPDATE device_presence p SET online = false, version = p.version + 1, reason = 'inactive', changed_at = clock_timestamp()
           FROM devices d
          WHERE p.device_id IN (
                  SELECT p2.device_id FROM device_presence p2 JOIN devices d2 USING (device_id)
                   WHERE p2.online AND d2.profile = $1 AND p2.last_seen_at < clock_timestamp() - make_interval(secs => $2)
                   ORDER BY p2.device_id LIMIT 500 FOR UPDATE OF p2 SKIP LOCKED)
            AND d.device_id = p.device_id
        RETURNING p.device_id, p.version, p.last_seen_at, d.operator_id, d.project_id`,
        [profile, timeoutS],
      );
      for (const r of rows) {
        const tenancy = { operatorId: r.operator_id, projectId: r.project_id };
        await this.outbox.enqueue(
          client,
          IotEvents.PresenceChanged,
          {
            deviceId: r.device_id,
            tenancy: { ...tenancy, merchantId: '' },
            online: false,
            version: BigInt(r.version),
            reason: 'inactive',
            occurredAt: toTimestamp(new Date()),
          },
          { key: r.device_id, tenancy },
        );
      }
      return rows.length;
    });
  }
}
