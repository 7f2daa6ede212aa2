import type { Pool, PoolClient } from '@citybase/platform';
import type { MonthlyPass, ParkingSessionState, ParkingTariff, ListSessionsQuery } from './parking.domain';

/** All SQL of parking (migrations/0007_parking.sql). */

export interface LotRow {
  lot_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  name: string;
  capacity: number;
  entry_camera_id: string;
  exit_camera_id: string;
  exit_gate_id: string;
  currency: string;
  free_minutes: number;
  hourly_rate_minor: bigint;
  daily_cap_minor: bigint;
  occupied: number;
  created_at: Date;
}

export interface PassRow {
  pass_id: string;
  lot_id: string;
  plate: string;
  resident_id: string;
  valid_from: Date;
  valid_until: Date;
}

export interface SessionRow {
  session_id: string;
  lot_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  plate: string;
  state: ParkingSessionState;
  entered_at: Date;
  exit_requested_at: Date | null;
  currency: string;
  fee_minor: bigint;
  pass_applied: boolean;
  payment_attempt: number;
  payment_id: string | null;
  gate_command_id: string | null;
  closed_at: Date | null;
  created_at: Date;
}

type Db = Pool | PoolClient;

const LOT = `lot_id, operator_id, project_id, merchant_id, name, capacity, entry_camera_id, exit_camera_id,
  exit_gate_id, currency, free_minutes, hourly_rate_minor::text AS hourly_rate_minor,
  daily_cap_minor::text AS daily_cap_minor, occupied, created_at`;
const SESSION = `session_id, lot_id, operator_id, project_id, merchant_id, plate, state, entered_at,
  exit_requested_at, currency, fee_minor::text AS fee_minor, pass_applied, payment_attempt, payment_id,
  gate_command_id, closed_at, created_at`;

const lot = (r: LotRow): LotRow => ({
  ...r,
  hourly_rate_minor: BigInt(r.hourly_rate_minor),
  daily_cap_minor: BigInt(r.daily_cap_minor),
});
const session = (r: SessionRow): SessionRow => ({ ...r, fee_minor: BigInt(r.fee_minor) });

export const tariffOf = (l: LotRow): ParkingTariff => ({
  currency: l.currency,
  freeMinutes: l.free_minutes,
  hourlyRateMinor: l.hourly_rate_minor,
  dailyCapMinor: l.daily_cap_minor,
});

export async function insertLot(
  client: PoolClient,
  l: Omit<LotRow, 'occupied' | 'created_at'>,
): Promise<LotRow> {
  const { rows } = await client.query<LotRow>(
    `INSERT INTO parking_lots (lot_id, operator_id, project_id, merchant_id, name, capacity, entry_camera_id,
                               exit_camera_id, exit_gate_id, currency, free_minutes, hourly_rate_minor, daily_cap_minor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${LOT}`,
    [
      l.lot_id,
      l.operator_id,
      l.project_id,
      l.merchant_id,
      l.name,
      l.capacity,
      l.entry_camera_id,
      l.exit_camera_id,
      l.exit_gate_id,
      l.currency,
      l.free_minutes,
      l.hourly_rate_minor.toString(),
      l.daily_cap_minor.toString(),
    ],
  );
  return lot(rows[0] as LotRow);
}

export async function findLot(db: Db, lotId: string): Promise<LotRow | undefined> {
  const { rows } = await db.query<LotRow>(`SELECT ${LOT} FROM parking_lots WHERE lot_id = $1`, [lotId]);
  return rows[0] && lot(rows[0]);
}

export async function lockLot(client: PoolClient, lotId: string): Promise<LotRow | undefined> {
  const { rows } = await client.query<LotRow>(
    `SELECT ${LOT} FROM parking_lots WHERE lot_id = $1 FOR UPDATE`,
    [lotId],
  );
  return rows[0] && lot(rows[0]);
}

/** The lot a camera belongs to (as its entry or its exit camera). */
export async function findLotOfCamera(db: Db, cameraId: string): Promise<LotRow | undefined> {
  const { rows } = await db.query<LotRow>(
    `SELECT ${LOT} FROM parking_lots WHERE entry_camera_id = $1 OR exit_camera_id = $1`,
    [cameraId],
  );
  return rows[0] && lot(rows[0]);
}

/** The lot a camera belongs to (as its entry or its exit camera), locked. */
export async function lockLotOfCamera(client: PoolClient, cameraId: string): Promise<LotRow | undefined> {
  const { rows } = await client.query<LotRow>(
    `SELECT ${LOT} FROM parking_lots WHERE entry_camera_id = $1 OR exit_camera_id = $1 FOR UPDATE`,
    [cameraId],
  );
  return rows[0] && lot(rows[0]);
}

export async function setTariff(client: PoolClient, lotId: string, t: ParkingTariff): Promise<LotRow> {
  const { rows } = await client.query<LotRow>(
    `UPDATE parking_lots SET currency = $2, free_minutes = $3, hourly_rate_minor = $4, daily_cap_minor = $5,
            updated_at = clock_timestamp()
      WHERE lot_id = $1 RETURNING ${LOT}`,
    [lotId, t.currency, t.freeMinutes, t.hourlyRateMinor.toString(), t.dailyCapMinor.toString()],
  );
  return lot(rows[0] as LotRow);
}

export async function changeOccupied(client: PoolClient, lotId: string, delta: number): Promise<void> {
  await client.query(`UPDATE parking_lots SET occupied = GREATEST(0, occupied + $2) WHERE lot_id = $1`, [
    lotId,
    delta,
  ]);
}

export async function insertPass(client: PoolClient, p: PassRow): Promise<PassRow> {
  const { rows } = await client.query<PassRow>(
    `INSERT INTO parking_passes (pass_id, lot_id, plate, resident_id, valid_from, valid_until)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING pass_id, lot_id, plate, resident_id, valid_from, valid_until`,
    [p.pass_id, p.lot_id, p.plate, p.resident_id, p.valid_from, p.valid_until],
  );
  return rows[0] as PassRow;
}

export async function findPass(db: Db, passId: string): Promise<PassRow | undefined> {
  const { rows } = await db.query<PassRow>(
    `SELECT pass_id, lot_id, plate, resident_id, valid_from, valid_until FROM parking_passes WHERE pass_id = $1`,
    [passId],
  );
  return rows[0];
}

export async function passesOf(db: Db, lotId: string, plate: string, from: Date): Promise<MonthlyPass[]> {
  const { rows } = await db.query<{ valid_from: Date; valid_until: Date }>(
    `SELECT valid_from, valid_until FROM parking_passes WHERE lot_id = $1 AND plate = $2 AND valid_until > $3`,
    [lotId, plate, from],
  );
  return rows.map((r) => ({ validFrom: r.valid_from, validUntil: r.valid_until }));
}

export async function insideSession(
  client: PoolClient,
  lotId: string,
  plate: string,
): Promise<SessionRow | undefined> {
  const { rows } = await client.query<SessionRow>(
    `SELECT ${SESSION} FROM parking_sessions WHERE lot_id = $1 AND plate = $2 AND state <> 'CLOSED' FOR UPDATE`,
    [lotId, plate],
  );
  return rows[0] && session(rows[0]);
}

export async function insertSession(
  client: PoolClient,
  s: Pick<
    SessionRow,
    | 'session_id'
    | 'lot_id'
    | 'operator_id'
    | 'project_id'
    | 'merchant_id'
    | 'plate'
    | 'entered_at'
    | 'currency'
  >,
): Promise<SessionRow> {
  const { rows } = await client.query<SessionRow>(
    `INSERT INTO parking_sessions (session_id, lot_id, operator_id, project_id, merchant_id, plate, entered_at, currency)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${SESSION}`,
    [s.session_id, s.lot_id, s.operator_id, s.project_id, s.merchant_id, s.plate, s.entered_at, s.currency],
  );
  return session(rows[0] as SessionRow);
}

export async function findSession(db: Db, sessionId: string): Promise<SessionRow | undefined> {
  const { rows } = await db.query<SessionRow>(
    `SELECT ${SESSION} FROM parking_sessions WHERE session_id = $1`,
    [sessionId],
  );
  return rows[0] && session(rows[0]);
}

export async function lockSession(client: PoolClient, sessionId: string): Promise<SessionRow | undefined> {
  const { rows } = await client.query<SessionRow>(
    `SELECT ${SESSION} FROM parking_sessions WHERE session_id = $1 FOR UPDATE`,
    [sessionId],
  );
  return rows[0] && session(rows[0]);
}

export async function awaitPayment(
  client: PoolClient,
  sessionId: string,
  exitAt: Date,
  feeMinor: bigint,
  passApplied: boolean,
): Promise<SessionRow> {
  const { rows } = await client.query<SessionRow>(
    `UPDATE parking_sessions SET state = 'AWAITING_PAYMENT', exit_requested_at = $2, fee_minor = $3, pass_applied = $4,
            payment_attempt = payment_attempt + 1, payment_id = NULL
      WHERE session_id = $1 RETURNING ${SESSION}`,
    [sessionId, exitAt, feeMinor.toString(), passApplied],
  );
  return session(rows[0] as SessionRow);
}

export async function setSessionPayment(
  client: PoolClient,
  sessionId: string,
  paymentId: string,
): Promise<void> {
  await client.query(`UPDATE parking_sessions SET payment_id = $2 WHERE session_id = $1`, [
    sessionId,
    paymentId,
  ]);
}

/** Back to OPEN (inside) after a failed or expired payment: the gate stays closed. */
export async function reopenSession(client: PoolClient, sessionId: string): Promise<SessionRow> {
  const { rows } = await client.query<SessionRow>(
    `UPDATE parking_sessions SET state = 'OPEN' WHERE session_id = $1 RETURNING ${SESSION}`,
    [sessionId],
  );
  return session(rows[0] as SessionRow);
}

export async function closeSession(
  client: PoolClient,
  sessionId: string,
  c: { exitAt: Date; feeMinor: bigint; passApplied: boolean; gateCommandId: string },
): Promise<SessionRow> {
  const { rows } = await client.query<SessionRow>(
    `UPDATE parking_sessions SET state = 'CLOSED', exit_requested_at = COALESCE(exit_requested_at, $2),
            fee_minor = $3, pass_applied = $4, gate_command_id = $5, closed_at = clock_timestamp()
      WHERE session_id = $1 RETURNING ${SESSION}`,
    [sessionId, c.exitAt, c.feeMinor.toString(), c.passApplied, c.gateCommandId],
  );
  return session(rows[0] as SessionRow);
}

export type SessionListRow = SessionRow & { cursor_at: string };

export async function listSessions(db: Pool, q: ListSessionsQuery): Promise<SessionListRow[]> {
  const { rows } = await db.query<SessionListRow>(
    `SELECT ${SESSION}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM parking_sessions
      WHERE lot_id = $1
        AND ($2::timestamptz IS NULL OR (created_at, session_id) < ($2::timestamptz, $3::uuid))
      ORDER BY created_at DESC, session_id DESC
      LIMIT $4`,
    [q.lotId, q.after?.createdAt ?? null, q.after?.sessionId ?? null, q.size + 1],
  );
  return rows.map((r) => ({ ...session(r), cursor_at: r.cursor_at }));
}
