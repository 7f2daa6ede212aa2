import type { Pool, PoolClient } from '@citybase/platform';
import type { ChannelSplitStatus, EscrowStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { Queryable } from '../ledger/ledger.service';
import type { SplitParts } from './escrow.domain';
import type { ListEscrowOrdersQuery } from './escrow.requests';

/** SQL of escrow (migrations/0003_escrow.sql). Mutations run in the caller's transaction. */

export interface EscrowOrderRow {
  order_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  merchant_category: string;
  payer_ref: string;
  channel_id: string;
  channel_transaction_id: string;
  currency: string;
  status: EscrowStatus;
  paid_minor: bigint;
  released_minor: bigint;
  refunded_minor: bigint;
  held_minor: bigint;
  refund_pending_minor: bigint;
  profit_sharing: boolean;
  channel_split_status: ChannelSplitStatus;
  split_instruction_id: string | null;
  split_failure_reason: string;
  paid_at: Date;
  auto_confirm_at: Date;
  completed_at: Date | null;
  completed_by: string;
  rule_commission_bps: number | null;
  rule_property_share_bps: number | null;
  rule_tax_bps: number | null;
  merchant_minor: bigint;
  property_minor: bigint;
  commission_minor: bigint;
  tax_minor: bigint;
  merchant_refunded_minor: bigint;
  property_refunded_minor: bigint;
  commission_refunded_minor: bigint;
  tax_refunded_minor: bigint;
  dispute_reason: string;
  disputed_at: Date | null;
  dispute_resolution: string;
  dispute_note: string;
  dispute_resolved_by: string;
  dispute_resolved_at: Date | null;
  resolution_refund_id: string | null;
  /** NULL for a checkout's order paid without money (its parts post their own transactions). */
  escrow_tx_id: string | null;
  completion_tx_id: string | null;
  payment_event_id: string;
  /** The checkout the order is for (docs/settlement-checkout.md); null for a plain payment. */
  checkout_id: string | null;
  /** The coupon's discount and the points' value paid into the order (money = paid - both). */
  discount_minor: bigint;
  points_minor: bigint;
  discount_refunded_minor: bigint;
  points_refunded_minor: bigint;
  /** A checkout's order still waiting for a part: it cannot complete. */
  parts_pending: boolean;
  /** The order's checkout was released (CheckoutReleased): it cannot complete; its money goes back. */
  checkout_released: boolean;
  created_at: Date;
  updated_at: Date;
}

/** What PaymentSucceeded creates; the rest starts at its column default. */
export type NewEscrowOrder = Pick<
  EscrowOrderRow,
  | 'order_id'
  | 'operator_id'
  | 'project_id'
  | 'merchant_id'
  | 'merchant_category'
  | 'payer_ref'
  | 'channel_id'
  | 'channel_transaction_id'
  | 'currency'
  | 'status'
  | 'paid_minor'
  | 'held_minor'
  | 'profit_sharing'
  | 'channel_split_status'
  | 'paid_at'
  | 'auto_confirm_at'
  | 'escrow_tx_id'
  | 'payment_event_id'
> &
  Partial<Pick<EscrowOrderRow, 'checkout_id' | 'parts_pending'>>;

/** The split of a completed order as it stands (parts less what refunds took back). */
export function netParts(o: EscrowOrderRow): SplitParts {
  return {
    merchant: o.merchant_minor - o.merchant_refunded_minor,
    property: o.property_minor - o.property_refunded_minor,
    commission: o.commission_minor - o.commission_refunded_minor,
    tax: o.tax_minor - o.tax_refunded_minor,
  };
}

export async function findOrder(db: Queryable, orderId: string): Promise<EscrowOrderRow | undefined> {
  const { rows } = await db.query<EscrowOrderRow>('SELECT * FROM escrow_orders WHERE order_id = $1', [
    orderId,
  ]);
  return rows[0];
}

/** The order id an RPC names: an order's own id, or a checkout's (its order's id), released or not. */
export async function orderIdFor(db: Queryable, id: string): Promise<string> {
  const { rows } = await db.query<{ order_id: string }>(
    `SELECT order_id FROM checkouts WHERE checkout_id = $1
     UNION ALL
     SELECT order_id FROM checkout_releases WHERE checkout_id = $1 AND order_id IS NOT NULL`,
    [id],
  );
  return rows[0]?.order_id ?? id;
}

/** The order with this id, or the order of the checkout with this id (GetEscrowOrder). */
export async function findOrderOrCheckout(db: Queryable, id: string): Promise<EscrowOrderRow | undefined> {
  const { rows } = await db.query<EscrowOrderRow>(
    `SELECT * FROM escrow_orders WHERE order_id = $1
     UNION ALL
     SELECT o.* FROM checkouts c JOIN escrow_orders o ON o.order_id = c.order_id
      WHERE c.checkout_id = $1 AND c.order_id <> $1
     UNION ALL
     SELECT o.* FROM checkout_releases r JOIN escrow_orders o ON o.order_id = r.order_id
      WHERE r.checkout_id = $1`,
    [id],
  );
  return rows[0];
}

/** The order's row lock: every change of an order (and of its refunds) happens under it. */
export async function lockOrder(client: PoolClient, orderId: string): Promise<EscrowOrderRow | undefined> {
  const { rows } = await client.query<EscrowOrderRow>(
    'SELECT * FROM escrow_orders WHERE order_id = $1 FOR UPDATE',
    [orderId],
  );
  return rows[0];
}

/** Inserts the order unless it exists; resolves with the new row, or undefined if it existed. */
export async function insertOrder(
  client: PoolClient,
  o: NewEscrowOrder,
): Promise<EscrowOrderRow | undefined> {
  const cols = Object.keys(o) as (keyof NewEscrowOrder)[];
  const { rows } = await client.query<EscrowOrderRow>(
    `INSERT INTO escrow_orders (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT (order_id) DO NOTHING RETURNING *`,
    cols.map((c) => o[c]),
  );
  return rows[0];
}

type OrderChanges = Partial<Omit<EscrowOrderRow, 'order_id' | 'created_at' | 'updated_at'>>;

/**
 * Sets the given columns of one row and stamps updated_at; the row as it is now. Table, key and
 * column names come from the row types only, never from input.
 */
async function updateRow<R extends EscrowOrderRow | EscrowRefundRow>(
  client: PoolClient,
  row: { table: 'escrow_orders' | 'escrow_refunds'; key: 'order_id' | 'refund_id'; id: string; what: string },
  changes: Partial<R>,
): Promise<R> {
  const cols = Object.keys(changes) as (keyof R & string)[];
  const { rows } = await client.query<R>(
    `UPDATE ${row.table} SET ${cols.map((c, i) => `${c} = $${i + 2}`).join(', ')}, updated_at = clock_timestamp()
      WHERE ${row.key} = $1 RETURNING *`,
    [row.id, ...cols.map((c) => changes[c])],
  );
  if (!rows[0]) throw new Error(`${row.what} ${row.id} does not exist`);
  return rows[0];
}

/** Sets the given columns (names from the row type only, never from input). */
export function updateOrder(
  client: PoolClient,
  orderId: string,
  changes: OrderChanges,
): Promise<EscrowOrderRow> {
  return updateRow<EscrowOrderRow>(
    client,
    { table: 'escrow_orders', key: 'order_id', id: orderId, what: 'escrow order' },
    changes,
  );
}

/**
 * The next held order past its auto-confirm deadline that no other transaction holds, locked for
 * this transaction (several processes may run the job at once). Orders with a refund through the
 * channel in flight wait for its answer; `skip` are orders that failed earlier in this pass.
 */
export async function claimDueOrder(client: PoolClient, skip: string[]): Promise<EscrowOrderRow | undefined> {
  const { rows } = await client.query<EscrowOrderRow>(
    `SELECT * FROM escrow_orders
      WHERE status = 1 AND auto_confirm_at <= now() AND refund_pending_minor = 0 AND resolution_refund_id IS NULL
        AND NOT parts_pending AND NOT checkout_released AND NOT (order_id = ANY($1::uuid[]))
      ORDER BY auto_confirm_at
      LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [skip],
  );
  return rows[0];
}

/** Due orders as they are now, unlocked (to prepare their accounts before claiming them). */
export async function peekDueOrders(db: Queryable, limit: number): Promise<EscrowOrderRow[]> {
  const { rows } = await db.query<EscrowOrderRow>(
    `SELECT * FROM escrow_orders
      WHERE status = 1 AND auto_confirm_at <= now() AND refund_pending_minor = 0 AND resolution_refund_id IS NULL
        AND NOT parts_pending AND NOT checkout_released
      ORDER BY auto_confirm_at LIMIT $1`,
    [limit],
  );
  return rows;
}

export interface TenancyScope {
  all: boolean;
  operatorIds: string[];
  projectIds: string[];
}

/** SQL condition "row in the caller's tenancy", with its three parameters starting at $n. */
const inScope = (n: number) =>
  `($${n}::boolean OR operator_id = ANY($${n + 1}::text[]) OR project_id = ANY($${n + 2}::text[]))`;
const scopeParams = (s: TenancyScope) => [s.all, s.operatorIds, s.projectIds];

export async function listOrders(
  db: Pool,
  q: ListEscrowOrdersQuery,
  scope: TenancyScope,
): Promise<(EscrowOrderRow & { cursor_at: string })[]> {
  const { rows } = await db.query<EscrowOrderRow & { cursor_at: string }>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM escrow_orders
      WHERE ${inScope(1)}
        AND ($4 = '' OR operator_id = $4) AND ($5 = '' OR project_id = $5)
        AND ($6::smallint IS NULL OR status = $6)
        AND ($7::timestamptz IS NULL OR (created_at, order_id) < ($7::timestamptz, $8::uuid))
      ORDER BY created_at DESC, order_id DESC
      LIMIT $9`,
    [
      ...scopeParams(scope),
      q.operatorId,
      q.projectId,
      q.status ?? null,
      q.after?.createdAt ?? null,
      q.after?.orderId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}

export interface PositionRow {
  operator_id: string;
  project_id: string;
  currency: string;
  paid: bigint;
  released: bigint;
  refunded: bigint;
  held: bigint;
  ledger: bigint;
  held_orders: bigint;
  disputed_orders: bigint;
  paid_discount: bigint;
  paid_points: bigint;
  refunded_discount: bigint;
  refunded_points: bigint;
}

/** Per project and currency: the orders' sums next to the project's escrow account balance. */
export async function positions(
  db: Pool,
  q: { operatorId: string; projectId: string },
  scope: TenancyScope,
): Promise<PositionRow[]> {
  const { rows } = await db.query<PositionRow>(
    `WITH orders AS (
       SELECT operator_id, project_id, currency,
              sum(paid_minor) AS paid, sum(released_minor) AS released, sum(refunded_minor) AS refunded,
              sum(held_minor) AS held,
              sum(discount_minor) AS paid_discount, sum(points_minor) AS paid_points,
              sum(discount_refunded_minor) AS refunded_discount, sum(points_refunded_minor) AS refunded_points,
              count(*) FILTER (WHERE status = 1) AS held_orders,
              count(*) FILTER (WHERE status = 2) AS disputed_orders
         FROM escrow_orders
        WHERE operator_id = $4 AND ($5 = '' OR project_id = $5) AND ${inScope(1)}
        GROUP BY 1, 2, 3),
     ledger AS (
       SELECT a.operator_id, a.project_id, a.currency, sum(-b.balance_minor) AS held
         FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
        WHERE a.kind = 2 AND a.operator_id = $4 AND ($5 = '' OR a.project_id = $5)
          AND ($1::boolean OR a.operator_id = ANY($2::text[]) OR a.project_id = ANY($3::text[]))
        GROUP BY 1, 2, 3)
     SELECT coalesce(o.operator_id, l.operator_id) AS operator_id,
            coalesce(o.project_id, l.project_id) AS project_id,
            coalesce(o.currency, l.currency) AS currency,
            coalesce(o.paid, 0)::bigint AS paid, coalesce(o.released, 0)::bigint AS released,
            coalesce(o.refunded, 0)::bigint AS refunded, coalesce(o.held, 0)::bigint AS held,
            coalesce(l.held, 0)::bigint AS ledger,
            coalesce(o.held_orders, 0)::bigint AS held_orders,
            coalesce(o.disputed_orders, 0)::bigint AS disputed_orders,
            coalesce(o.paid_discount, 0)::bigint AS paid_discount,
            coalesce(o.paid_points, 0)::bigint AS paid_points,
            coalesce(o.refunded_discount, 0)::bigint AS refunded_discount,
            coalesce(o.refunded_points, 0)::bigint AS refunded_points
       FROM orders o FULL JOIN ledger l USING (operator_id, project_id, currency)
      ORDER BY 2, 3`,
    [...scopeParams(scope), q.operatorId, q.projectId],
  );
  return rows;
}

// ---- refunds ----

export type RefundOrigin = 'order' | 'dispute' | 'payment' | 'checkout' | 'checkout_release';
export type RefundStatusName = 'returning_split' | 'refunding' | 'succeeded' | 'failed';

export interface EscrowRefundRow {
  refund_id: string;
  order_id: string;
  origin: RefundOrigin;
  destination: 'original' | 'wallet';
  after_split: boolean;
  currency: string;
  amount_minor: bigint;
  merchant_minor: bigint;
  property_minor: bigint;
  commission_minor: bigint;
  tax_minor: bigint;
  status: RefundStatusName;
  refund_instruction_id: string | null;
  payment_refund_id: string | null;
  reason: string;
  failure_reason: string;
  requested_by: string;
  tx_id: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export const refundParts = (r: EscrowRefundRow): SplitParts => ({
  merchant: r.merchant_minor,
  property: r.property_minor,
  commission: r.commission_minor,
  tax: r.tax_minor,
});

export type NewRefund = Pick<
  EscrowRefundRow,
  | 'refund_id'
  | 'order_id'
  | 'origin'
  | 'destination'
  | 'after_split'
  | 'currency'
  | 'amount_minor'
  | 'merchant_minor'
  | 'property_minor'
  | 'commission_minor'
  | 'tax_minor'
  | 'status'
  | 'refund_instruction_id'
  | 'payment_refund_id'
  | 'reason'
  | 'failure_reason'
  | 'requested_by'
  | 'tx_id'
  | 'completed_at'
>;

export async function insertRefund(client: PoolClient, r: NewRefund): Promise<EscrowRefundRow> {
  const cols = Object.keys(r) as (keyof NewRefund)[];
  const { rows } = await client.query<EscrowRefundRow>(
    `INSERT INTO escrow_refunds (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
     RETURNING *`,
    cols.map((c) => r[c]),
  );
  return rows[0]!;
}

type RefundChanges = Partial<
  Pick<EscrowRefundRow, 'status' | 'refund_instruction_id' | 'failure_reason' | 'tx_id' | 'completed_at'>
>;

export function updateRefund(
  client: PoolClient,
  refundId: string,
  changes: RefundChanges,
): Promise<EscrowRefundRow> {
  return updateRow<EscrowRefundRow>(
    client,
    { table: 'escrow_refunds', key: 'refund_id', id: refundId, what: 'escrow refund' },
    changes,
  );
}

export async function findRefund(db: Queryable, refundId: string): Promise<EscrowRefundRow | undefined> {
  const { rows } = await db.query<EscrowRefundRow>('SELECT * FROM escrow_refunds WHERE refund_id = $1', [
    refundId,
  ]);
  return rows[0];
}

export async function findRefundByPaymentRefund(
  db: Queryable,
  paymentRefundId: string,
): Promise<EscrowRefundRow | undefined> {
  const { rows } = await db.query<EscrowRefundRow>(
    'SELECT * FROM escrow_refunds WHERE payment_refund_id = $1',
    [paymentRefundId],
  );
  return rows[0];
}

/** What refunds after completion still in flight have reserved of each split part. */
export async function reservedParts(db: Queryable, orderId: string): Promise<SplitParts> {
  const { rows } = await db.query<{ m: bigint; p: bigint; c: bigint; t: bigint }>(
    `SELECT coalesce(sum(merchant_minor), 0)::bigint AS m, coalesce(sum(property_minor), 0)::bigint AS p,
            coalesce(sum(commission_minor), 0)::bigint AS c, coalesce(sum(tax_minor), 0)::bigint AS t
       FROM escrow_refunds
      WHERE order_id = $1 AND after_split AND status IN ('returning_split', 'refunding')`,
    [orderId],
  );
  const r = rows[0]!;
  return { merchant: r.m, property: r.p, commission: r.c, tax: r.t };
}

// ---- channel instructions ----

export type InstructionKind = 'split' | 'split_return' | 'refund';
export type InstructionStatus = 'pending' | 'succeeded' | 'failed';

export interface InstructionRow {
  instruction_id: string;
  order_id: string;
  kind: InstructionKind;
  refund_id: string | null;
  account: string;
  currency: string;
  amount_minor: bigint;
  status: InstructionStatus;
  failure_reason: string;
  created_at: Date;
  answered_at: Date | null;
}

export async function insertInstruction(
  client: PoolClient,
  i: Pick<
    InstructionRow,
    'instruction_id' | 'order_id' | 'kind' | 'refund_id' | 'account' | 'currency' | 'amount_minor'
  >,
): Promise<void> {
  await client.query(
    `INSERT INTO escrow_channel_instructions (instruction_id, order_id, kind, refund_id, account, currency, amount_minor)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [i.instruction_id, i.order_id, i.kind, i.refund_id, i.account, i.currency, i.amount_minor],
  );
}

export async function findInstruction(
  db: Queryable,
  instructionId: string,
): Promise<InstructionRow | undefined> {
  const { rows } = await db.query<InstructionRow>(
    'SELECT * FROM escrow_channel_instructions WHERE instruction_id = $1',
    [instructionId],
  );
  return rows[0];
}

/** Records the answer of a pending instruction; false if it had been answered already. */
/** The channel's answer to an instruction (or payment's, for refunds). */
export type ChannelOutcome = { succeeded: true } | { succeeded: false; reason: string };

/** Records the answer on a pending instruction; false when it had been answered before. */
export async function answerInstruction(
  client: PoolClient,
  instructionId: string,
  outcome: ChannelOutcome,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE escrow_channel_instructions SET status = $2, failure_reason = $3, answered_at = clock_timestamp()
      WHERE instruction_id = $1 AND status = 'pending'`,
    [instructionId, outcome.succeeded ? 'succeeded' : 'failed', outcome.succeeded ? '' : outcome.reason],
  );
  return rowCount === 1;
}

export async function instructionsOfRefund(
  db: Queryable,
  refundId: string,
  kind: InstructionKind,
): Promise<InstructionRow[]> {
  const { rows } = await db.query<InstructionRow>(
    'SELECT * FROM escrow_channel_instructions WHERE refund_id = $1 AND kind = $2 ORDER BY created_at, instruction_id',
    [refundId, kind],
  );
  return rows;
}
