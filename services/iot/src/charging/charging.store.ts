import type { Pool, PoolClient } from '@citybase/platform';
import type { CheckoutChoice } from '../billing/billing.domain';
import type {
  ChargingPaymentState,
  ChargingSessionState,
  ChargingTariff,
  ListChargingQuery,
  MeterReading,
} from './charging.domain';

/** All SQL of EV charging (migrations/0008_charging.sql). */

export interface ChargerRow {
  device_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  currency: string;
  bands: { from_minute: number; price_minor: string }[];
  service_fee_minor: bigint;
  last_register_wh: bigint;
}

export interface ChargingSessionRow {
  session_id: string;
  device_id: string;
  transaction_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  user_id: string;
  state: ChargingSessionState;
  last_seq: number;
  first_register_wh: bigint | null;
  last_register_wh: bigint | null;
  energy_wh: bigint;
  currency: string;
  energy_minor: bigint;
  service_fee_minor: bigint;
  total_minor: bigint;
  payment_id: string | null;
  fault: string;
  started_at: Date;
  stopped_at: Date | null;
  created_at: Date;
  payment_state: ChargingPaymentState;
  /** The checkout the app chose while the session ran (points as a decimal string). */
  checkout_choice: {
    points: string;
    coupon_code: string;
    coupon_id: string;
    points_holder_id: string;
  } | null;
  checkout_id: string | null;
  pay_attempt: number;
}

type Db = Pool | PoolClient;

const CHARGER = `device_id, operator_id, project_id, merchant_id, currency, bands,
  service_fee_minor::text AS service_fee_minor, last_register_wh::text AS last_register_wh`;
const SESSION = `session_id, device_id, transaction_id, operator_id, project_id, merchant_id, user_id, state, last_seq,
  first_register_wh::text AS first_register_wh, last_register_wh::text AS last_register_wh, energy_wh::text AS energy_wh,
  currency, energy_minor::text AS energy_minor, service_fee_minor::text AS service_fee_minor,
  total_minor::text AS total_minor, payment_id, fault, started_at, stopped_at, created_at,
  payment_state, checkout_choice, checkout_id, pay_attempt`;

const big = (v: unknown): bigint => BigInt(v as string);
const bigOrNull = (v: unknown): bigint | null => (v === null ? null : BigInt(v as string));

const charger = (r: ChargerRow): ChargerRow => ({
  ...r,
  service_fee_minor: big(r.service_fee_minor),
  last_register_wh: big(r.last_register_wh),
});
const session = (r: ChargingSessionRow): ChargingSessionRow => ({
  ...r,
  first_register_wh: bigOrNull(r.first_register_wh),
  last_register_wh: bigOrNull(r.last_register_wh),
  energy_wh: big(r.energy_wh),
  energy_minor: big(r.energy_minor),
  service_fee_minor: big(r.service_fee_minor),
  total_minor: big(r.total_minor),
});

export const tariffOf = (c: ChargerRow): ChargingTariff => ({
  currency: c.currency,
  bands: c.bands.map((b) => ({ fromMinute: b.from_minute, priceMinorPerKwh: BigInt(b.price_minor) })),
  serviceFeeMinorPerKwh: c.service_fee_minor,
});

/** Creates the charger or replaces its tariff (its register floor is kept). */
export async function upsertCharger(
  client: PoolClient,
  c: { deviceId: string; operatorId: string; projectId: string; merchantId: string; tariff: ChargingTariff },
): Promise<ChargerRow> {
  const bands = c.tariff.bands.map((b) => ({
    from_minute: b.fromMinute,
    price_minor: b.priceMinorPerKwh.toString(),
  }));
  const { rows } = await client.query<ChargerRow>(
    `INSERT INTO chargers (device_id, operator_id, project_id, merchant_id, currency, bands, service_fee_minor)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (device_id) DO UPDATE SET merchant_id = EXCLUDED.merchant_id, currency = EXCLUDED.currency,
            bands = EXCLUDED.bands, service_fee_minor = EXCLUDED.service_fee_minor, updated_at = clock_timestamp()
     RETURNING ${CHARGER}`,
    [
      c.deviceId,
      c.operatorId,
      c.projectId,
      c.merchantId,
      c.tariff.currency,
      JSON.stringify(bands),
      c.tariff.serviceFeeMinorPerKwh.toString(),
    ],
  );
  return charger(rows[0] as ChargerRow);
}

export async function findCharger(db: Db, deviceId: string): Promise<ChargerRow | undefined> {
  const { rows } = await db.query<ChargerRow>(`SELECT ${CHARGER} FROM chargers WHERE device_id = $1`, [
    deviceId,
  ]);
  return rows[0] && charger(rows[0]);
}

export async function lockCharger(client: PoolClient, deviceId: string): Promise<ChargerRow | undefined> {
  const { rows } = await client.query<ChargerRow>(
    `SELECT ${CHARGER} FROM chargers WHERE device_id = $1 FOR UPDATE`,
    [deviceId],
  );
  return rows[0] && charger(rows[0]);
}

export async function raiseChargerFloor(
  client: PoolClient,
  deviceId: string,
  registerWh: bigint,
): Promise<void> {
  await client.query(
    `UPDATE chargers SET last_register_wh = GREATEST(last_register_wh, $2), updated_at = clock_timestamp()
      WHERE device_id = $1`,
    [deviceId, registerWh.toString()],
  );
}

export async function sessionOfTransaction(
  client: PoolClient,
  deviceId: string,
  transactionId: string,
): Promise<ChargingSessionRow | undefined> {
  const { rows } = await client.query<ChargingSessionRow>(
    `SELECT ${SESSION} FROM charging_sessions WHERE device_id = $1 AND transaction_id = $2 FOR UPDATE`,
    [deviceId, transactionId],
  );
  return rows[0] && session(rows[0]);
}

export async function findChargingSession(
  db: Db,
  sessionId: string,
): Promise<ChargingSessionRow | undefined> {
  const { rows } = await db.query<ChargingSessionRow>(
    `SELECT ${SESSION} FROM charging_sessions WHERE session_id = $1`,
    [sessionId],
  );
  return rows[0] && session(rows[0]);
}

export async function insertChargingSession(
  client: PoolClient,
  s: Pick<
    ChargingSessionRow,
    | 'session_id'
    | 'device_id'
    | 'transaction_id'
    | 'operator_id'
    | 'project_id'
    | 'merchant_id'
    | 'user_id'
    | 'currency'
    | 'started_at'
    | 'first_register_wh'
    | 'last_register_wh'
  >,
): Promise<ChargingSessionRow> {
  const { rows } = await client.query<ChargingSessionRow>(
    `INSERT INTO charging_sessions (session_id, device_id, transaction_id, operator_id, project_id, merchant_id, user_id,
                                    currency, started_at, last_seq, first_register_wh, last_register_wh)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11) RETURNING ${SESSION}`,
    [
      s.session_id,
      s.device_id,
      s.transaction_id,
      s.operator_id,
      s.project_id,
      s.merchant_id,
      s.user_id,
      s.currency,
      s.started_at,
      s.first_register_wh?.toString() ?? null,
      s.last_register_wh?.toString() ?? null,
    ],
  );
  return session(rows[0] as ChargingSessionRow);
}

export async function advanceSession(
  client: PoolClient,
  sessionId: string,
  a: {
    seq: number;
    state: ChargingSessionState;
    first: bigint | null;
    last: bigint | null;
    fault?: string;
    stoppedAt?: Date;
  },
): Promise<ChargingSessionRow> {
  const { rows } = await client.query<ChargingSessionRow>(
    `UPDATE charging_sessions SET last_seq = $2, state = $3, first_register_wh = $4, last_register_wh = $5,
            fault = COALESCE($6, fault), stopped_at = COALESCE($7, stopped_at)
      WHERE session_id = $1 RETURNING ${SESSION}`,
    [
      sessionId,
      a.seq,
      a.state,
      a.first?.toString() ?? null,
      a.last?.toString() ?? null,
      a.fault ?? null,
      a.stoppedAt ?? null,
    ],
  );
  return session(rows[0] as ChargingSessionRow);
}

export async function setBill(
  client: PoolClient,
  sessionId: string,
  b: { energyWh: bigint; energyMinor: bigint; serviceFeeMinor: bigint; totalMinor: bigint },
): Promise<ChargingSessionRow> {
  const { rows } = await client.query<ChargingSessionRow>(
    `UPDATE charging_sessions SET energy_wh = $2, energy_minor = $3, service_fee_minor = $4, total_minor = $5
      WHERE session_id = $1 RETURNING ${SESSION}`,
    [
      sessionId,
      b.energyWh.toString(),
      b.energyMinor.toString(),
      b.serviceFeeMinor.toString(),
      b.totalMinor.toString(),
    ],
  );
  return session(rows[0] as ChargingSessionRow);
}

export async function setChargingPayment(
  client: PoolClient,
  sessionId: string,
  paymentId: string,
): Promise<void> {
  await client.query(`UPDATE charging_sessions SET payment_id = $2 WHERE session_id = $1`, [
    sessionId,
    paymentId,
  ]);
}

/** The session under its row lock (taken after the charger's, as the charger's events do). */
export async function lockChargingSession(
  client: PoolClient,
  sessionId: string,
): Promise<ChargingSessionRow | undefined> {
  const { rows } = await client.query<ChargingSessionRow>(
    `SELECT ${SESSION} FROM charging_sessions WHERE session_id = $1 FOR UPDATE`,
    [sessionId],
  );
  return rows[0] && session(rows[0]);
}

export const choiceOf = (s: ChargingSessionRow): CheckoutChoice | undefined =>
  s.checkout_choice
    ? {
        points: BigInt(s.checkout_choice.points),
        couponCode: s.checkout_choice.coupon_code,
        couponId: s.checkout_choice.coupon_id ?? '',
        pointsHolderId: s.checkout_choice.points_holder_id,
      }
    : undefined;

const choiceJson = (c: CheckoutChoice): string =>
  JSON.stringify({
    points: c.points.toString(),
    coupon_code: c.couponCode,
    coupon_id: c.couponId,
    points_holder_id: c.pointsHolderId,
  });

/** Records the checkout the app chose while the session runs. */
export async function chooseCheckout(
  client: PoolClient,
  sessionId: string,
  c: CheckoutChoice,
): Promise<void> {
  await client.query(
    `UPDATE charging_sessions SET payment_state = 'CHECKOUT_CHOSEN', checkout_choice = $2 WHERE session_id = $1`,
    [
      sessionId,
      JSON.stringify({
        points: c.points.toString(),
        coupon_code: c.couponCode,
        points_holder_id: c.pointsHolderId,
      }),
    ],
  );
}

/** A billing call asked for the session (attempt = the call's): its payment is OPEN. */
export async function paymentAsked(
  client: PoolClient,
  sessionId: string,
  attempt: number,
  choice: CheckoutChoice | undefined,
): Promise<void> {
  await client.query(
    `UPDATE charging_sessions SET payment_state = 'OPEN', pay_attempt = $2, checkout_choice = $3, checkout_id = NULL
      WHERE session_id = $1`,
    [sessionId, attempt, choice ? choiceJson(choice) : null],
  );
}

export async function setChargingCheckout(client: PoolClient, sessionId: string, checkoutId: string) {
  await client.query(`UPDATE charging_sessions SET checkout_id = $2 WHERE session_id = $1`, [
    sessionId,
    checkoutId,
  ]);
}

/** The session's payment ended: PAID (with the payment that paid, if any) or UNPAID. */
export async function setPaymentState(
  client: PoolClient,
  sessionId: string,
  state: 'PAID' | 'UNPAID' | 'NONE',
  paymentId = '',
): Promise<void> {
  await client.query(
    `UPDATE charging_sessions SET payment_state = $2, payment_id = COALESCE(NULLIF($3, ''), payment_id)
      WHERE session_id = $1`,
    [sessionId, state, paymentId],
  );
}

export async function insertReading(
  client: PoolClient,
  sessionId: string,
  seq: number,
  r: MeterReading,
): Promise<void> {
  await client.query(
    `INSERT INTO charging_readings (session_id, seq, at, register_wh) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [sessionId, seq, r.at, r.registerWh.toString()],
  );
}

export async function readingsOf(client: PoolClient, sessionId: string): Promise<MeterReading[]> {
  const { rows } = await client.query<{ at: Date; register_wh: string }>(
    `SELECT at, register_wh::text AS register_wh FROM charging_readings WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((r) => ({ at: r.at, registerWh: BigInt(r.register_wh) }));
}

export type ChargingListRow = ChargingSessionRow & { cursor_at: string };

export async function listChargingSessions(db: Pool, q: ListChargingQuery): Promise<ChargingListRow[]> {
  const { rows } = await db.query<ChargingListRow>(
    `SELECT ${SESSION}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM charging_sessions
      WHERE device_id = $1
        AND ($2::timestamptz IS NULL OR (created_at, session_id) < ($2::timestamptz, $3::uuid))
      ORDER BY created_at DESC, session_id DESC
      LIMIT $4`,
    [q.deviceId, q.after?.createdAt ?? null, q.after?.sessionId ?? null, q.size + 1],
  );
  return rows.map((r) => ({ ...session(r), cursor_at: r.cursor_at }));
}
