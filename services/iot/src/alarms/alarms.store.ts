import type { Pool, PoolClient } from '@citybase/platform';
import type { AlarmStatus, Condition } from './alarms.domain';

/** SQL of alarms (migrations/0004_alarms.sql). */

export interface AlarmRow {
  alarm_id: string;
  device_id: string;
  operator_id: string;
  project_id: string;
  type: string;
  severity: 'INFO' | 'WARNING' | 'CRITICAL';
  status: AlarmStatus;
  acknowledged: boolean;
  value: number;
  occurrences: string;
  raised_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string;
  cleared_at: Date | null;
  cleared_by: string;
  cursor_at?: string;
}

export async function findAlarm(db: Pool | PoolClient, alarmId: string): Promise<AlarmRow | undefined> {
  return (await db.query<AlarmRow>('SELECT * FROM alarms WHERE alarm_id = $1', [alarmId])).rows[0];
}

export async function lockAlarm(db: PoolClient, alarmId: string): Promise<AlarmRow | undefined> {
  return (await db.query<AlarmRow>('SELECT * FROM alarms WHERE alarm_id = $1 FOR UPDATE', [alarmId])).rows[0];
}

/** The open alarm of a device and type, locked. */
export async function lockOpenAlarm(
  db: PoolClient,
  deviceId: string,
  type: string,
): Promise<AlarmRow | undefined> {
  return (
    await db.query<AlarmRow>(
      `SELECT * FROM alarms WHERE device_id = $1 AND type = $2 AND status <> 'cleared' FOR UPDATE`,
      [deviceId, type],
    )
  ).rows[0];
}

export async function insertAlarm(
  db: PoolClient,
  a: Pick<
    AlarmRow,
    'alarm_id' | 'device_id' | 'operator_id' | 'project_id' | 'type' | 'severity' | 'value' | 'raised_at'
  >,
): Promise<AlarmRow> {
  const { rows } = await db.query<AlarmRow>(
    `INSERT INTO alarms (alarm_id, device_id, operator_id, project_id, type, severity, value, raised_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [a.alarm_id, a.device_id, a.operator_id, a.project_id, a.type, a.severity, a.value, a.raised_at],
  );
  return rows[0] as AlarmRow;
}

export async function countOccurrence(db: PoolClient, alarmId: string, value: number): Promise<void> {
  await db.query('UPDATE alarms SET occurrences = occurrences + 1, value = $2 WHERE alarm_id = $1', [
    alarmId,
    value,
  ]);
}

export async function setAcknowledged(
  db: PoolClient,
  alarmId: string,
  status: AlarmStatus,
  by: string,
): Promise<AlarmRow> {
  const { rows } = await db.query<AlarmRow>(
    `UPDATE alarms SET status = $2, acknowledged = true, acknowledged_at = clock_timestamp(), acknowledged_by = $3
      WHERE alarm_id = $1 RETURNING *`,
    [alarmId, status, by],
  );
  return rows[0] as AlarmRow;
}

export async function setCleared(db: PoolClient, alarmId: string, by: string): Promise<AlarmRow> {
  const { rows } = await db.query<AlarmRow>(
    `UPDATE alarms SET status = 'cleared', cleared_at = clock_timestamp(), cleared_by = $2 WHERE alarm_id = $1 RETURNING *`,
    [alarmId, by],
  );
  return rows[0] as AlarmRow;
}

export async function lockCondition(db: PoolClient, deviceId: string, type: string): Promise<Condition> {
  const { rows } = await db.query<{ above_since: Date | null; last_at: Date }>(
    'SELECT above_since, last_at FROM alarm_conditions WHERE device_id = $1 AND type = $2 FOR UPDATE',
    [deviceId, type],
  );
  return rows[0]
    ? { aboveSince: rows[0].above_since, lastAt: rows[0].last_at }
    : { aboveSince: null, lastAt: null };
}

export async function saveCondition(
  db: PoolClient,
  deviceId: string,
  type: string,
  c: Condition,
): Promise<void> {
  if (!c.lastAt) return;
  await db.query(
    `INSERT INTO alarm_conditions (device_id, type, above_since, last_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (device_id, type) DO UPDATE SET above_since = EXCLUDED.above_since, last_at = EXCLUDED.last_at`,
    [deviceId, type, c.aboveSince, c.lastAt],
  );
}

export async function listAlarms(
  db: Pool,
  q: {
    operatorId: string;
    projectId: string;
    deviceId: string;
    openOnly: boolean;
    size: number;
    after?: { at: string; id: string };
  },
): Promise<AlarmRow[]> {
  const { rows } = await db.query<AlarmRow>(
    `SELECT *, to_char(raised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at FROM alarms
      WHERE operator_id = $1 AND ($2 = '' OR project_id = $2) AND ($3 = '' OR device_id::text = $3)
        AND (NOT $4 OR status <> 'cleared')
        AND ($5::timestamptz IS NULL OR (raised_at, alarm_id) < ($5::timestamptz, $6::uuid))
      ORDER BY raised_at DESC, alarm_id DESC LIMIT $7`,
    [q.operatorId, q.projectId, q.deviceId, q.openOnly, q.after?.at ?? null, q.after?.id ?? null, q.size + 1],
  );
  return rows;
}
