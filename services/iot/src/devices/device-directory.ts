import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, Pool } from '@citybase/platform';
import { DeviceProfile, profileNamed } from '../profiles/profiles';

/** What ingest needs of a device: its tenancy, its profile, whether it is active. */
export interface DeviceEntry {
  deviceId: string;
  operatorId: string;
  projectId: string;
  profile: DeviceProfile | undefined;
  active: boolean;
}

const TTL_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A read-through cache of the registry for the message paths (ingest, store, alarms): entries are
 * read again after 10 s, so a revoked device's late messages are refused soon even on another
 * instance (the broker already disconnected it and refuses its connects).
 */
@Injectable()
export class DeviceDirectory {
  private readonly entries = new Map<string, { entry: DeviceEntry | undefined; at: number }>();
  private readonly loading = new Map<string, Promise<DeviceEntry | undefined>>();

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  get(deviceId: string): Promise<DeviceEntry | undefined> | DeviceEntry | undefined {
    const hit = this.entries.get(deviceId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.entry;
    if (!UUID.test(deviceId)) return undefined;
    let p = this.loading.get(deviceId);
    if (!p) {
      p = this.load(deviceId).finally(() => this.loading.delete(deviceId));
      this.loading.set(deviceId, p);
    }
    return p;
  }

  /** Forgets a device (its row changed here). */
  forget(deviceId: string): void {
    this.entries.delete(deviceId);
  }

  private async load(deviceId: string): Promise<DeviceEntry | undefined> {
    const { rows } = await this.pool.query<{
      operator_id: string;
      project_id: string;
      profile: string;
      status: string;
    }>('SELECT operator_id, project_id, profile, status FROM devices WHERE device_id = $1', [deviceId]);
    const r = rows[0];
    const entry = r && {
      deviceId,
      operatorId: r.operator_id,
      projectId: r.project_id,
      profile: profileNamed(r.profile),
      active: r.status === 'active',
    };
    if (this.entries.size > 500_000) this.entries.clear();
    this.entries.set(deviceId, { entry, at: Date.now() });
    return entry;
  }
}
