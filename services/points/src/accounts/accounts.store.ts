import type { Pool, PoolClient } from '@citybase/platform';
import type {
  EntryKind,
  LotSource,
  LotStatus,
  ReservationStatus,
} from '@citybase/contracts/citybase/points/v1/points';
import type { ListHistoryQuery, ListLotsQuery } from './accounts.domain';

/**
 * All SQL of accounts (migrations/0003_accounts.sql); mutations run in the caller's transaction,
 * under the account's row lock (lockAccount / ensureAccount).
 */

type Db = Pool | PoolClient;

export interface AccountRow {
  account_id: string;
  operator_id: string;
  holder_id: string;
  holder_kind: number;
  tier: string;
  debt: bigint;
  created_at: Date;
}

export interface LotRow {
  lot_id: string;
  account_id: string;
  amount: bigint;
  remaining: bigint;
  held: bigint;
  status: LotStatus;
  source: LotSource;
  source_ref: string;
  issuer_operator_id: string;
  issuer_project_id: string;
  budget_id: string;
  member_id: string;
  entry_id: string;
  earned_at: Date;
  available_at: Date;
  expires_at: Date;
  /** The sender's lot a TRANSFER_IN lot came from; null for every other source. */
  from_lot_id: string | null;
  /** When its PointsExpiring notice was sent; null until then. */
  expiry_noticed_at: Date | null;
}

/** What a new lot is made of (remaining = amount, nothing held, not noticed). */
export type NewLot = Omit<LotRow, 'remaining' | 'held' | 'from_lot_id' | 'expiry_noticed_at'> & {
  from_lot_id?: string | null;
};

export interface ReservationRow {
  reservation_id: string;
  account_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  /** Where the points are spent (redeemed_at); the request's tenancy unless it named another. */
  redeemed_operator_id: string;
  redeemed_project_id: string;
  redeemed_merchant_id: string;
  holder_id: string;
  points: bigint;
  status: ReservationStatus;
  reference: string;
  created_at: Date;
  expires_at: Date;
  ended_at: Date | null;
}

export interface EntryRow {
  entry_id: string;
  account_id: string;
  kind: EntryKind;
  available_delta: bigint;
  pending_delta: bigint;
  reserved_delta: bigint;
  debt_delta: bigint;
  reason: string;
  reference: string;
  reservation_id: string | null;
  client_id: string;
  event_id: string;
  member_id: string;
  occurred_at: Date;
}

export type NewEntry = Pick<EntryRow, 'entry_id' | 'account_id' | 'kind'> &
  Partial<
    Pick<
      EntryRow,
      | 'available_delta'
      | 'pending_delta'
      | 'reserved_delta'
      | 'debt_delta'
      | 'reason'
      | 'reference'
      | 'reservation_id'
      | 'client_id'
      | 'event_id'
      | 'member_id'
    >
  >;

/** A change of one lot after its creation, recorded in entry_lots. */
export interface LotDelta {
  lotId: string;
  remaining: bigint;
  held: bigint;
}

/** The units of one lot a reservation holds, with what the lot says about whose they are. */
export interface HeldUnits {
  lot_id: string;
  units: bigint;
  budget_id: string;
  issuer_operator_id: string;
  issuer_project_id: string;
  expires_at: Date;
}

export interface Balance {
  available: bigint;
  reserved: bigint;
  pending: bigint;
}

// ---- accounts ----

export async function findAccount(
  db: Db,
  operatorId: string,
  holderId: string,
): Promise<AccountRow | undefined> {
  const { rows } = await db.query<AccountRow>(
    'SELECT * FROM accounts WHERE operator_id = $1 AND holder_id = $2',
    [operatorId, holderId],
  );
  return rows[0];
}

/** The account's row lock, the account created first if it does not exist yet. */
export async function ensureAccount(
  client: PoolClient,
  a: { accountId: string; operatorId: string; holderId: string },
): Promise<AccountRow> {
  const lock = () =>
    client.query<AccountRow>('SELECT * FROM accounts WHERE operator_id = $1 AND holder_id = $2 FOR UPDATE', [
      a.operatorId,
      a.holderId,
    ]);
  // an existing account (the usual case) is locked in one round trip; a new one is inserted first
  const existing = (await lock()).rows[0];
  if (existing) return existing;
  await client.query(
    `INSERT INTO accounts (account_id, operator_id, holder_id) VALUES ($1, $2, $3)
     ON CONFLICT (operator_id, holder_id) DO NOTHING`,
    [a.accountId, a.operatorId, a.holderId],
  );
  return (await lock()).rows[0] as AccountRow;
}

/** Creates the account if it does not exist yet (no lock); its id. */
export async function createAccount(
  client: PoolClient,
  a: { accountId: string; operatorId: string; holderId: string },
): Promise<string> {
  await client.query(
    `INSERT INTO accounts (account_id, operator_id, holder_id) VALUES ($1, $2, $3)
     ON CONFLICT (operator_id, holder_id) DO NOTHING`,
    [a.accountId, a.operatorId, a.holderId],
  );
  // a statement of its own: it sees the row another transaction committed while this one waited
  const { rows } = await client.query<{ account_id: string }>(
    'SELECT account_id FROM accounts WHERE operator_id = $1 AND holder_id = $2',
    [a.operatorId, a.holderId],
  );
  if (!rows[0]) throw new Error(`points account of ${a.holderId} was neither created nor found`);
  return rows[0].account_id;
}

/** The row lock every change of an account happens under. */
export async function lockAccount(client: PoolClient, accountId: string): Promise<AccountRow> {
  const { rows } = await client.query<AccountRow>('SELECT * FROM accounts WHERE account_id = $1 FOR UPDATE', [
    accountId,
  ]);
  if (!rows[0]) throw new Error(`points account ${accountId} does not exist`);
  return rows[0];
}

/**
 * The balance derived from the lots: available = Σ (remaining - held) over available, unexpired
 * lots; reserved = Σ held; pending = Σ remaining of pending lots.
 */
export async function balanceOf(db: Db, accountId: string): Promise<Balance> {
  const { rows } = await db.query<Balance>(
    `SELECT coalesce(sum(remaining - held) FILTER (WHERE status = 2 AND expires_at > now()), 0)::bigint AS available,
            coalesce(sum(held), 0)::bigint AS reserved,
            coalesce(sum(remaining) FILTER (WHERE status = 1 AND expires_at > now()), 0)::bigint AS pending
       FROM lots WHERE account_id = $1`,
    [accountId],
  );
  return rows[0] as Balance;
}

/**
 * Available points that expire within `days` from now: Σ (remaining - held) of available lots with
 * now < expires_at <= now + days (GetBalance's expiring_soon; 0 when days is 0).
 */
export async function expiringWithin(db: Db, accountId: string, days: number): Promise<bigint> {
  if (days <= 0) return 0n;
  const { rows } = await db.query<{ points: bigint }>(
    `SELECT coalesce(sum(remaining - held), 0)::bigint AS points FROM lots
      WHERE account_id = $1 AND status = 2 AND expires_at > now()
        AND expires_at <= now() + make_interval(days => $2)`,
    [accountId, days],
  );
  return rows[0]?.points ?? 0n;
}

/** Adds the signed delta to the account's debt (its CHECK refuses a debt below 0). */
export async function changeDebt(client: PoolClient, accountId: string, delta: bigint): Promise<void> {
  await client.query('UPDATE accounts SET debt = debt + $2 WHERE account_id = $1', [
    accountId,
    delta.toString(),
  ]);
}

// ---- history ----

export async function insertEntry(
  client: PoolClient,
  e: NewEntry,
  lots: readonly LotDelta[] = [],
): Promise<void> {
  await client.query(
    `INSERT INTO points_entries (entry_id, account_id, kind, available_delta, pending_delta, reserved_delta,
                                 debt_delta, reason, reference, reservation_id, client_id, event_id, member_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      e.entry_id,
      e.account_id,
      e.kind,
      e.available_delta ?? 0n,
      e.pending_delta ?? 0n,
      e.reserved_delta ?? 0n,
      e.debt_delta ?? 0n,
      e.reason ?? '',
      e.reference ?? '',
      e.reservation_id ?? null,
      e.client_id ?? '',
      e.event_id ?? '',
      e.member_id ?? '',
    ],
  );
  if (lots.length === 0) return;
  await client.query(
    `INSERT INTO entry_lots (entry_id, lot_id, remaining_delta, held_delta)
     SELECT $1, lot_id, remaining_delta, held_delta
       FROM unnest($2::uuid[], $3::bigint[], $4::bigint[]) AS d(lot_id, remaining_delta, held_delta)`,
    [e.entry_id, lots.map((l) => l.lotId), lots.map((l) => l.remaining), lots.map((l) => l.held)],
  );
}

// ---- lots ----

export async function insertLot(client: PoolClient, l: NewLot): Promise<LotRow> {
  const { rows } = await client.query<LotRow>(
    `INSERT INTO lots (lot_id, account_id, amount, remaining, status, source, source_ref, issuer_operator_id,
                       issuer_project_id, budget_id, member_id, entry_id, earned_at, available_at, expires_at,
                       from_lot_id)
     VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *`,
    [
      l.lot_id,
      l.account_id,
      l.amount,
      l.status,
      l.source,
      l.source_ref,
      l.issuer_operator_id,
      l.issuer_project_id,
      l.budget_id,
      l.member_id,
      l.entry_id,
      l.earned_at,
      l.available_at,
      l.expires_at,
      l.from_lot_id ?? null,
    ],
  );
  return rows[0] as LotRow;
}

/**
 * The lots a transfer takes from, as they are under the sender's lock: the units taken from each
 * (allocated earliest expiry first) with the lot's issuer, budget and expiry, which the receiver's
 * TRANSFER_IN lot keeps.
 */
export async function lotsByIds(client: PoolClient, lotIds: readonly string[]): Promise<LotRow[]> {
  const { rows } = await client.query<LotRow>(
    'SELECT * FROM lots WHERE lot_id = ANY($1::uuid[]) ORDER BY expires_at, lot_id',
    [lotIds],
  );
  return rows;
}

export async function findLot(db: Db, lotId: string): Promise<LotRow | undefined> {
  const { rows } = await db.query<LotRow>('SELECT * FROM lots WHERE lot_id = $1', [lotId]);
  return rows[0];
}

/** Units free to hold in the account's available, unexpired lots, earliest expiry first. */
export async function freeLots(
  client: PoolClient,
  accountId: string,
): Promise<{ lotId: string; free: bigint }[]> {
  const { rows } = await client.query<{ lot_id: string; free: bigint }>(
    `SELECT lot_id, remaining - held AS free FROM lots
      WHERE account_id = $1 AND status = 2 AND expires_at > now() AND remaining > held
      ORDER BY expires_at, lot_id`,
    [accountId],
  );
  return rows.map((r) => ({ lotId: r.lot_id, free: r.free }));
}

/**
 * Makes the account's pending lots due by now available (status 1 -> 2, one statement: a lot is
 * released once). Returns the released lots.
 */
export async function releaseDueLots(client: PoolClient, accountId: string): Promise<LotRow[]> {
  const { rows } = await client.query<LotRow>(
    `UPDATE lots SET status = 2
      WHERE account_id = $1 AND status = 1 AND available_at <= now()
      RETURNING *`,
    [accountId],
  );
  return rows;
}

/** Accounts with pending lots due for release, earliest due first. */
export async function accountsWithPendingDue(db: Db, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ account_id: string }>(
    `SELECT DISTINCT account_id FROM (
       SELECT account_id FROM lots WHERE status = 1 AND available_at <= now() ORDER BY available_at LIMIT $1
     ) due`,
    [limit],
  );
  return rows.map((r) => r.account_id);
}

/** Adds the signed deltas to the lots (the lots' CHECK refuses any that would break 0 <= held <= remaining). */
export async function changeLots(client: PoolClient, deltas: readonly LotDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  await client.query(
    `UPDATE lots l SET remaining = l.remaining + d.remaining_delta, held = l.held + d.held_delta
       FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS d(lot_id, remaining_delta, held_delta)
      WHERE l.lot_id = d.lot_id`,
    [deltas.map((d) => d.lotId), deltas.map((d) => d.remaining), deltas.map((d) => d.held)],
  );
}

/**
 * Expires what is left of the account's lots past their expiry: remaining becomes held (held
 * units expire when their reservation ends unconfirmed). Returns each lot and what expired of it.
 */
export async function expireLapsedLots(
  client: PoolClient,
  accountId: string,
): Promise<(LotRow & { units: bigint })[]> {
  const { rows } = await client.query<LotRow & { units: bigint }>(
    `UPDATE lots l SET remaining = l.held
       FROM (SELECT lot_id, remaining - held AS units FROM lots
              WHERE account_id = $1 AND expires_at <= now() AND remaining > held) d
      WHERE l.lot_id = d.lot_id
      RETURNING l.*, d.units`,
    [accountId],
  );
  return rows;
}

/** Accounts with lots past expiry that still have units to expire. */
export async function accountsWithDueLots(db: Db, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ account_id: string }>(
    `SELECT DISTINCT account_id FROM (
       SELECT account_id FROM lots WHERE expires_at <= now() AND remaining > held ORDER BY expires_at LIMIT $1
     ) due`,
    [limit],
  );
  return rows.map((r) => r.account_id);
}

/** A lot whose PointsExpiring notice is due, as the notice job marks it. */
export interface NoticedLot {
  lot_id: string;
  account_id: string;
  operator_id: string;
  holder_id: string;
  points: bigint;
  expires_at: Date;
}

/**
 * Marks up to `limit` lots noticed whose expiry falls within their programme's notice days and that
 * have free units (remaining > held), and returns them: one statement, and only lots not noticed
 * yet, so a lot is noticed once, also with two replicas at once (a lot another pass has locked is
 * skipped, and re-checked as noticed when it is looked at again).
 */
export async function noticeDueLots(client: PoolClient, limit: number): Promise<NoticedLot[]> {
  const { rows } = await client.query<NoticedLot>(
    `UPDATE lots l SET expiry_noticed_at = clock_timestamp()
       FROM (SELECT lo.lot_id, a.operator_id, a.holder_id
               FROM lots lo
               JOIN accounts a USING (account_id)
               JOIN programmes p ON p.operator_id = a.operator_id
              WHERE lo.expiry_noticed_at IS NULL AND lo.remaining > lo.held AND p.expiry_notice_days > 0
                AND lo.expires_at > now() AND lo.expires_at <= now() + make_interval(days => p.expiry_notice_days)
              ORDER BY lo.expires_at
              LIMIT $1
                FOR NO KEY UPDATE OF lo SKIP LOCKED) d
      WHERE l.lot_id = d.lot_id AND l.expiry_noticed_at IS NULL
      RETURNING l.lot_id, l.account_id, d.operator_id, d.holder_id, l.remaining - l.held AS points, l.expires_at`,
    [limit],
  );
  return rows;
}

export type LotListRow = LotRow & { cursor_at: string };

/** One page (size + 1 rows) of an account's lots, earliest expiry first. */
export async function listLots(db: Db, accountId: string, q: ListLotsQuery): Promise<LotListRow[]> {
  const { rows } = await db.query<LotListRow>(
    `SELECT *, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM lots
      WHERE account_id = $1
        AND ($2::boolean OR remaining > 0)
        AND ($3::timestamptz IS NULL OR (expires_at, lot_id) > ($3::timestamptz, $4::uuid))
      ORDER BY expires_at, lot_id
      LIMIT $5`,
    [accountId, q.includeEmpty, q.after?.expiresAt ?? null, q.after?.lotId ?? null, q.size + 1],
  );
  return rows;
}

export type EntryListRow = EntryRow & { cursor_at: string };

/** One page (size + 1 rows) of an account's history (or of its entries of one member), newest first. */
export async function listEntries(db: Db, accountId: string, q: ListHistoryQuery): Promise<EntryListRow[]> {
  const { rows } = await db.query<EntryListRow>(
    `SELECT *, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM points_entries
      WHERE account_id = $1
        AND ($2::timestamptz IS NULL OR (occurred_at, entry_id) < ($2::timestamptz, $3::uuid))
        AND ($5 = '' OR member_id = $5)
      ORDER BY occurred_at DESC, entry_id DESC
      LIMIT $4`,
    [accountId, q.after?.occurredAt ?? null, q.after?.entryId ?? null, q.size + 1, q.memberId],
  );
  return rows;
}

// ---- reservations ----

export async function findReservation(db: Db, reservationId: string): Promise<ReservationRow | undefined> {
  const { rows } = await db.query<ReservationRow>('SELECT * FROM reservations WHERE reservation_id = $1', [
    reservationId,
  ]);
  return rows[0];
}

export async function insertReservation(
  client: PoolClient,
  r: Omit<ReservationRow, 'status' | 'created_at' | 'ended_at'>,
  lots: readonly { lotId: string; units: bigint }[],
): Promise<ReservationRow> {
  const { rows } = await client.query<ReservationRow>(
    `INSERT INTO reservations (reservation_id, account_id, operator_id, project_id, merchant_id, holder_id,
                               points, status, reference, expires_at, redeemed_operator_id, redeemed_project_id,
                               redeemed_merchant_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12) RETURNING *`,
    [
      r.reservation_id,
      r.account_id,
      r.operator_id,
      r.project_id,
      r.merchant_id,
      r.holder_id,
      r.points,
      r.reference,
      r.expires_at,
      r.redeemed_operator_id,
      r.redeemed_project_id,
      r.redeemed_merchant_id,
    ],
  );
  await client.query(
    `INSERT INTO reservation_lots (reservation_id, lot_id, units)
     SELECT $1, lot_id, units FROM unnest($2::uuid[], $3::bigint[]) AS d(lot_id, units)`,
    [r.reservation_id, lots.map((l) => l.lotId), lots.map((l) => l.units)],
  );
  return rows[0] as ReservationRow;
}

/** The units a reservation holds, per lot, earliest expiry first. */
export async function heldUnits(db: Db, reservationId: string): Promise<HeldUnits[]> {
  const { rows } = await db.query<HeldUnits>(
    `SELECT rl.lot_id, rl.units, l.budget_id, l.issuer_operator_id, l.issuer_project_id, l.expires_at
       FROM reservation_lots rl JOIN lots l USING (lot_id)
      WHERE rl.reservation_id = $1
      ORDER BY l.expires_at, rl.lot_id`,
    [reservationId],
  );
  return rows;
}

/** Ends a held reservation; undefined when it is not held (it ended already). */
export async function endReservation(
  client: PoolClient,
  reservationId: string,
  status: ReservationStatus,
): Promise<ReservationRow | undefined> {
  const { rows } = await client.query<ReservationRow>(
    `UPDATE reservations SET status = $2, ended_at = clock_timestamp()
      WHERE reservation_id = $1 AND status = 1 RETURNING *`,
    [reservationId, status],
  );
  return rows[0];
}

/** Held reservations past their deadline (to expire each under its account's lock). */
export async function dueReservations(
  db: Db,
  limit: number,
): Promise<{ reservation_id: string; account_id: string }[]> {
  const { rows } = await db.query<{ reservation_id: string; account_id: string }>(
    `SELECT reservation_id, account_id FROM reservations
      WHERE status = 1 AND expires_at <= now() ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return rows;
}

// ---- clearing ----

export interface ClearingObligationRow {
  obligation_id: string;
  reservation_id: string;
  debtor_operator_id: string;
  debtor_project_id: string;
  creditor_operator_id: string;
  creditor_project_id: string;
  creditor_merchant_id: string;
  points: bigint;
  currency: string;
  amount_minor: bigint;
  created_at: Date;
}

/** One obligation of a confirmation (unique per reservation and issuer). */
export async function insertClearingObligation(
  client: PoolClient,
  o: Omit<ClearingObligationRow, 'created_at'>,
): Promise<ClearingObligationRow> {
  const { rows } = await client.query<ClearingObligationRow>(
    `INSERT INTO clearing_obligations (obligation_id, reservation_id, debtor_operator_id, debtor_project_id,
                                       creditor_operator_id, creditor_project_id, creditor_merchant_id, points,
                                       currency, amount_minor)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
    [
      o.obligation_id,
      o.reservation_id,
      o.debtor_operator_id,
      o.debtor_project_id,
      o.creditor_operator_id,
      o.creditor_project_id,
      o.creditor_merchant_id,
      o.points,
      o.currency,
      o.amount_minor,
    ],
  );
  return rows[0] as ClearingObligationRow;
}

// ---- returns on checkout refunds ----

/** A lot a confirmed reservation spent, with what its returns gave back of it so far. */
export interface SpentLot {
  lot_id: string;
  /** Units the confirmation took from it. */
  units: bigint;
  /** Units RETURNED lots of this reservation gave back of it. */
  returned: bigint;
  budget_id: string;
  issuer_operator_id: string;
  issuer_project_id: string;
  member_id: string;
  expires_at: Date;
}

/**
 * The lots a confirmed reservation spent, latest expiry first (the order returns give back in: the
 * points that would have lasted longest come back first), each with what earlier returns gave back.
 */
export async function spentLots(client: PoolClient, reservationId: string): Promise<SpentLot[]> {
  const { rows } = await client.query<SpentLot>(
    `SELECT l.lot_id, -el.remaining_delta AS units, coalesce(r.returned, 0)::bigint AS returned, l.budget_id,
            l.issuer_operator_id, l.issuer_project_id, l.member_id, l.expires_at
       FROM points_entries e JOIN entry_lots el USING (entry_id) JOIN lots l USING (lot_id)
       LEFT JOIN (SELECT rl.from_lot_id, sum(rl.amount) AS returned
                    FROM lots rl JOIN points_entries re ON re.entry_id = rl.entry_id
                   WHERE re.kind = 14 AND re.reservation_id = $1 GROUP BY rl.from_lot_id) r
         ON r.from_lot_id = l.lot_id
      WHERE e.kind = 5 AND e.reservation_id = $1
      ORDER BY l.expires_at DESC, l.lot_id DESC`,
    [reservationId],
  );
  return rows;
}

/** Whether the checkout refund `refundId` already returned points of the reservation. */
export async function returnedBy(
  client: PoolClient,
  reservationId: string,
  refundId: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM points_entries WHERE kind = 14 AND reservation_id = $1 AND reference = $2',
    [reservationId, refundId],
  );
  return (rowCount ?? 0) > 0;
}
