import type { PoolClient } from '@citybase/platform';
import type { Presence } from '../presence/presence.domain';

/** SQL of history, latest state and presence (migrations 0002, 0003). */

export interface HistoryRow {
  deviceId: string;
  measuredAt: Date;
  messageId: string;
  projectId: string;
  channel: string;
  eventType: string;
  readings: Record<string, number>;
  receivedAt: Date;
}

/** Makes the daily partitions of these UTC days (YYYY-MM-DD) if missing. */
export async function ensurePartitions(db: PoolClient, days: string[]): Promise<void> {
  if (days.length === 0) return;
  await db.query('SELECT iot_history_partition(d::date) FROM unnest($1::text[]) AS d', [days]);
}

/** One multi-row insert; copies of a (device, message id, measured_at) are skipped. Answers the rows written. */
export async function insertHistory(db: PoolClient, rows: HistoryRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const res = await db.query(
    `INSERT INTO telemetry_history (device_id, measured_at, message_id, project_id, channel, event_type, readings, received_at)
     SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
     ON CONFLICT DO NOTHING`,
    [
      rows.map((r) => r.deviceId),
      rows.map((r) => r.measuredAt),
      rows.map((r) => r.messageId),
      rows.map((r) => r.projectId),
      rows.map((r) => r.channel),
      rows.map((r) => r.eventType),
      rows.map((r) => JSON.stringify(r.readings)),
      rows.map((r) => r.receivedAt),
    ],
  );
  return res.rowCount ?? 0;
}

/** The latest value per (device, metric): a reading older than the stored one changes nothing. */
export async function upsertState(
  db: PoolClient,
  latest: { deviceId: string; metric: string; value: number; measuredAt: Date }[],
): Promise<void> {
  if (latest.length === 0) return;
  await db.query(
    `INSERT INTO device_state (device_id, metric, value, measured_at)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::timestamptz[])
     ON CONFLICT (device_id, metric) DO UPDATE SET value = EXCLUDED.value, measured_at = EXCLUDED.measured_at
      WHERE device_state.measured_at <= EXCLUDED.measured_at`,
    [
      latest.map((l) => l.deviceId),
      latest.map((l) => l.metric),
      latest.map((l) => l.value),
      latest.map((l) => l.measuredAt),
    ],
  );
}

/** The presence rows of these devices, locked (made first where missing). */
export async function lockPresence(db: PoolClient, deviceIds: string[]): Promise<Map<string, Presence>> {
  await db.query(
    `INSERT INTO device_presence (device_id)
     SELECT d FROM unnest($1::uuid[]) AS d WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = d)
     ON CONFLICT DO NOTHING`,
    [deviceIds],
  );
  const { rows } = await db.query<{
    device_id: string;
    online: boolean;
    version: string;
    session: string;
    reason: string;
    last_seen_at: Date | null;
  }>(
    `SELECT device_id, online, version, session, reason, last_seen_at FROM device_presence
      WHERE device_id = ANY($1::uuid[]) ORDER BY device_id FOR UPDATE`,
    [deviceIds],
  );
  return new Map(
    rows.map((r) => [
      r.device_id,
      {
        online: r.online,
        version: BigInt(r.version),
        session: BigInt(r.session),
        reason: r.reason,
        lastSeenAt: r.last_seen_at,
      },
    ]),
  );
}

export async function savePresence(
  db: PoolClient,
  changed: { deviceId: string; p: Presence; changed: boolean }[],
): Promise<void> {
  if (changed.length === 0) return;
  await db.query(
    `UPDATE device_presence AS t SET online = u.online, version = u.version, session = u.session, reason = u.reason,
            last_seen_at = u.last_seen_at,
            changed_at = CASE WHEN u.changed THEN clock_timestamp() ELSE t.changed_at END
       FROM unnest($1::uuid[], $2::boolean[], $3::bigint[], $4::bigint[], $5::text[], $6::timestamptz[], $7::boolean[])
            AS u(device_id, online, version, session, reason, last_seen_at, changed)
      WHERE t.device_id = u.device_id`,
    [
      changed.map((c) => c.deviceId),
      changed.map((c) => c.p.online),
      changed.map((c) => c.p.version.toString()),
      changed.map((c) => c.p.session.toString()),
      changed.map((c) => c.p.reason),
      changed.map((c) => c.p.lastSeenAt),
      changed.map((c) => c.changed),
    ],
  );
}
