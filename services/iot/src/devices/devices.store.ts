import type { Pool, PoolClient } from '@citybase/platform';
import type { DeviceStatus, ListDevicesQuery } from './devices.domain';

/**
 * All SQL of the registry; mutations run in the caller's transaction.
 * Table devices: migrations/0001_devices.sql.
 */

export interface DeviceRow {
  device_id: string;
  operator_id: string;
  project_id: string;
  kind: string;
  profile: string;
  name: string;
  serial_number: string;
  status: DeviceStatus;
  credentials_version: number;
  revoked_at: Date | null;
  revoke_reason: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  /** From device_presence (false / null before the device was first seen). */
  online: boolean;
  last_seen_at: Date | null;
}

/** A device with its presence. */
const SELECT = `SELECT d.*, coalesce(p.online, false) AS online, p.last_seen_at
                  FROM devices d LEFT JOIN device_presence p USING (device_id)`;

export type DeviceListRow = DeviceRow & { cursor_at: string };

export type TenancyScope = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

export async function findDevice(db: Pool | PoolClient, deviceId: string): Promise<DeviceRow | undefined> {
  const { rows } = await db.query<DeviceRow>(`${SELECT} WHERE d.device_id = $1`, [deviceId]);
  return rows[0];
}

export async function findDevices(db: Pool | PoolClient, deviceIds: string[]): Promise<DeviceRow[]> {
  const { rows } = await db.query<DeviceRow>(`${SELECT} WHERE d.device_id = ANY($1::uuid[])`, [deviceIds]);
  return rows;
}

/** The row lock every change of a device happens under. */
export async function lockDevice(client: PoolClient, deviceId: string): Promise<DeviceRow | undefined> {
  const { rows } = await client.query<DeviceRow>(`${SELECT} WHERE d.device_id = $1 FOR UPDATE OF d`, [
    deviceId,
  ]);
  return rows[0];
}

/** Inserts a device; undefined when the project already has a device with that serial number. */
export async function insertDevice(
  client: PoolClient,
  row: Pick<
    DeviceRow,
    'device_id' | 'operator_id' | 'project_id' | 'kind' | 'profile' | 'name' | 'serial_number' | 'created_by'
  >,
): Promise<DeviceRow | undefined> {
  const { rows } = await client.query<DeviceRow>(
    `INSERT INTO devices (device_id, operator_id, project_id, kind, profile, name, serial_number, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (project_id, serial_number) DO NOTHING RETURNING device_id`,
    [
      row.device_id,
      row.operator_id,
      row.project_id,
      row.kind,
      row.profile,
      row.name,
      row.serial_number,
      row.created_by,
    ],
  );
  return rows[0] && findDevice(client, row.device_id);
}

export async function bumpCredentials(client: PoolClient, deviceId: string): Promise<DeviceRow> {
  await client.query(
    `UPDATE devices SET credentials_version = credentials_version + 1, updated_at = clock_timestamp()
      WHERE device_id = $1`,
    [deviceId],
  );
  return (await findDevice(client, deviceId)) as DeviceRow;
}

export async function markRevoked(client: PoolClient, deviceId: string, reason: string): Promise<DeviceRow> {
  await client.query(
    `UPDATE devices SET status = 'revoked', revoked_at = clock_timestamp(), revoke_reason = $2,
            updated_at = clock_timestamp()
      WHERE device_id = $1`,
    [deviceId, reason],
  );
  return (await findDevice(client, deviceId)) as DeviceRow;
}

/** One page (size + 1 rows, for pageOf) of the rows in the caller's tenancy, newest first. */
export async function listDevices(
  db: Pool,
  q: ListDevicesQuery,
  scope: TenancyScope,
): Promise<DeviceListRow[]> {
  const { rows } = await db.query<DeviceListRow>(
    `SELECT d.*, coalesce(p.online, false) AS online, p.last_seen_at,
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM devices d LEFT JOIN device_presence p USING (device_id)
      WHERE ($1::boolean OR operator_id = ANY($2::text[]) OR project_id = ANY($3::text[]))
        AND operator_id = $4
        AND ($5 = '' OR project_id = $5)
        AND ($6 = '' OR kind = $6)
        AND ($7::timestamptz IS NULL OR (created_at, device_id) < ($7::timestamptz, $8::uuid))
      ORDER BY created_at DESC, device_id DESC
      LIMIT $9`,
    [
      scope.all,
      scope.all ? [] : scope.operatorIds,
      scope.all ? [] : scope.projectIds,
      q.operatorId,
      q.projectId,
      q.kind,
      q.after?.createdAt ?? null,
      q.after?.deviceId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}
