import type { Pool, PoolClient } from '@citybase/platform';
import type { CommandKind, CommandState, ListCommandsQuery } from './commands.domain';

/** All SQL of device commands (table commands: migrations/0005_commands.sql). */

export interface CommandRow {
  command_id: string;
  operator_id: string;
  project_id: string;
  device_id: string;
  kind: CommandKind;
  state: CommandState;
  args: Record<string, string>;
  reference: string;
  detail: string;
  deadline: Date;
  publish_count: number;
  created_by: string;
  created_at: Date;
  sent_at: Date | null;
  delivered_at: Date | null;
  completed_at: Date | null;
  updated_at: Date;
}

/** What commands need of a device (iot-core's devices table). */
export interface DeviceRef {
  device_id: string;
  operator_id: string;
  project_id: string;
  kind: string;
  status: string;
}

type Db = Pool | PoolClient;

export async function findDevice(db: Db, deviceId: string): Promise<DeviceRef | undefined> {
  const { rows } = await db.query<DeviceRef>(
    'SELECT device_id, operator_id, project_id, kind, status FROM devices WHERE device_id = $1',
    [deviceId],
  );
  return rows[0];
}

export async function findCommand(db: Db, commandId: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query<CommandRow>('SELECT * FROM commands WHERE command_id = $1', [commandId]);
  return rows[0];
}

export async function lockCommand(client: PoolClient, commandId: string): Promise<CommandRow | undefined> {
  const { rows } = await client.query<CommandRow>('SELECT * FROM commands WHERE command_id = $1 FOR UPDATE', [
    commandId,
  ]);
  return rows[0];
}

export async function insertCommand(
  client: PoolClient,
  row: Pick<
    CommandRow,
    | 'command_id'
    | 'operator_id'
    | 'project_id'
    | 'device_id'
    | 'kind'
    | 'args'
    | 'reference'
    | 'deadline'
    | 'created_by'
  >,
): Promise<CommandRow> {
  const { rows } = await client.query<CommandRow>(
    `INSERT INTO commands (command_id, operator_id, project_id, device_id, kind, args, reference, deadline, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [
      row.command_id,
      row.operator_id,
      row.project_id,
      row.device_id,
      row.kind,
      JSON.stringify(row.args),
      row.reference,
      row.deadline,
      row.created_by,
    ],
  );
  return rows[0] as CommandRow;
}

/** Moves a command (under its lock) and stamps the step's time. */
export async function moveCommand(
  client: PoolClient,
  commandId: string,
  to: CommandState,
  detail: string | undefined,
): Promise<CommandRow> {
  const { rows } = await client.query<CommandRow>(
    `UPDATE commands
        SET state = $2,
            detail = COALESCE($3, detail),
            sent_at = CASE WHEN $2 = 'SENT' THEN clock_timestamp() ELSE sent_at END,
            delivered_at = CASE WHEN $2 = 'DELIVERED' OR ($2 IN ('SUCCEEDED', 'FAILED') AND delivered_at IS NULL)
                                THEN clock_timestamp() ELSE delivered_at END,
            completed_at = CASE WHEN $2 IN ('SUCCEEDED', 'FAILED', 'EXPIRED', 'TIMED_OUT', 'CANCELLED')
                                THEN clock_timestamp() ELSE completed_at END,
            updated_at = clock_timestamp()
      WHERE command_id = $1 RETURNING *`,
    [commandId, to, detail ?? null],
  );
  return rows[0] as CommandRow;
}

export async function countPublish(db: Db, commandId: string): Promise<void> {
  await db.query('UPDATE commands SET publish_count = publish_count + 1 WHERE command_id = $1', [commandId]);
}

/** Open commands whose deadline (plus `graceMs`) or result window may have run out, oldest first. */
export async function dueForTimeout(db: Db, now: Date, limit: number): Promise<CommandRow[]> {
  const { rows } = await db.query<CommandRow>(
    `SELECT * FROM commands
      WHERE state IN ('QUEUED', 'SENT', 'DELIVERED') AND deadline <= $1
      ORDER BY deadline LIMIT $2`,
    [now, limit],
  );
  return rows;
}

/** QUEUED or SENT commands still before their deadline (to publish again after a restart). */
export async function publishable(db: Db, now: Date, limit: number): Promise<CommandRow[]> {
  const { rows } = await db.query<CommandRow>(
    `SELECT * FROM commands
      WHERE state IN ('QUEUED', 'SENT') AND deadline > $1
      ORDER BY deadline LIMIT $2`,
    [now, limit],
  );
  return rows;
}

export type CommandListRow = CommandRow & { cursor_at: string };

export async function listCommands(db: Pool, q: ListCommandsQuery): Promise<CommandListRow[]> {
  const { rows } = await db.query<CommandListRow>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM commands
      WHERE device_id = $1
        AND ($2::timestamptz IS NULL OR (created_at, command_id) < ($2::timestamptz, $3::uuid))
      ORDER BY created_at DESC, command_id DESC
      LIMIT $4`,
    [q.deviceId, q.after?.createdAt ?? null, q.after?.commandId ?? null, q.size + 1],
  );
  return rows;
}
