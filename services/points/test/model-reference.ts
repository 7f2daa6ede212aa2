// A deliberately simple reference model of the points accounts for the randomized test
// (model.int-spec.ts): plain objects and arithmetic, written from docs/points.md ("Accounts",
// "Earning", "Budgets"), not from the service's code. The test runs the same operations against the
// real service and the model and requires every balance, every lot, every budget and every refusal
// to agree exactly.
//
// One account per holder, each charged to its own project budget (the model runs accounts in
// parallel). Accounts share something only through transfers (run in the test's sequential step):
// a received lot keeps the sender's budget, so a refund that takes units from it changes the
// sender's budget (the test runs such refunds in the sequential step too). "Earliest expiry first"
// breaks ties by lot id, as the service does (a received lot has its source's expiry).

export type LotStatus = 'PENDING' | 'AVAILABLE';

export interface ModelLot {
  /** The service's lot id (known once the issue or earning is applied). */
  lotId: string;
  amount: bigint;
  remaining: bigint;
  held: bigint;
  status: LotStatus;
  expiresAtMs: number;
  /** Past its expiry (made due and expired by the lot expiry pass). */
  lapsed: boolean;
  /** Units taken by expiries (the lot expiry pass, or a held unit released after the lot lapsed). */
  expired: bigint;
  /**
   * The budget node the lot's points were charged to: its account's own, or, for a lot received by
   * a transfer, the sender's (liability stays with the issuer): spends, expiries and reversals of
   * its units count there.
   */
  budget: ModelBudget;
  /**
   * Units of it were transferred, or it was received by a transfer: the lot and its relatives share
   * one expiry (checkPointsInvariants), so the test never makes such a lot due on its own.
   */
  transferred: boolean;
}

export type ReservationStatus = 'HELD' | 'CONFIRMED' | 'CANCELLED' | 'EXPIRED';

export interface ModelReservation {
  reservationId: string;
  points: bigint;
  units: { lot: ModelLot; units: bigint }[];
  status: ReservationStatus;
}

export interface ModelEarning {
  paymentId: string;
  paid: bigint;
  /** Points the payment earned (0: it earned nothing; `reason` says why). */
  points: bigint;
  debtRepaid: bigint;
  lot: ModelLot | undefined;
  reversed: bigint;
  expiredAbsorbed: bigint;
  cityDay: string;
  refundedTotal: bigint;
  reason: string;
}

export interface ModelBudget {
  allotted: bigint;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
}

export interface Rule {
  pointsPerYuan: number;
  dailyCap: bigint;
}

export type Refusal = { code: string } | undefined;

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** The city day (UTC+8) a daily cap counts in. */
export function cityDayOf(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

export class ModelAccount {
  debt = 0n;
  readonly lots: ModelLot[] = [];
  readonly reservations = new Map<string, ModelReservation>();
  readonly earnings = new Map<string, ModelEarning>();
  readonly budget: ModelBudget = { allotted: 0n, issued: 0n, redeemed: 0n, expired: 0n };

  constructor(
    readonly holderId: string,
    readonly projectId: string,
    readonly policy: 'DEBT' | 'FORGIVE',
    readonly rule: Rule,
  ) {}

  // ---- reads ----

  balance() {
    let available = 0n;
    let reserved = 0n;
    let pending = 0n;
    for (const l of this.lots) {
      reserved += l.held;
      if (l.lapsed) continue;
      if (l.status === 'AVAILABLE') available += l.remaining - l.held;
      else pending += l.remaining;
    }
    return { available, reserved, pending, debt: this.debt };
  }

  /** Available unheld units of unexpired lots, earliest expiry first. */
  private freeLots(except?: ModelLot): ModelLot[] {
    return this.lots
      .filter((l) => l !== except && l.status === 'AVAILABLE' && !l.lapsed && l.remaining > l.held)
      .sort((a, b) => a.expiresAtMs - b.expiresAtMs || (a.lotId < b.lotId ? -1 : a.lotId > b.lotId ? 1 : 0));
  }

  heldReservations(): ModelReservation[] {
    return [...this.reservations.values()].filter((r) => r.status === 'HELD');
  }

  // ---- budget ----

  /** SetBudget of the account's project node (no children: never below what it issued). */
  setBudget(allotted: bigint): Refusal {
    if (allotted < this.budget.issued) return { code: 'BUDGET_BELOW_USE' };
    this.budget.allotted = allotted;
    return undefined;
  }

  private charge(points: bigint): boolean {
    if (this.budget.issued + points > this.budget.allotted) return false;
    this.budget.issued += points;
    return true;
  }

  // ---- issuance ----

  /** IssuePoints: an available lot charged to the project's budget. */
  issue(points: bigint, expiresAtMs: number): { refusal: Refusal; lot?: ModelLot } {
    if (!this.charge(points)) return { refusal: { code: 'BUDGET_EXCEEDED' } };
    const lot = newLot(points, 'AVAILABLE', expiresAtMs, this.budget);
    this.lots.push(lot);
    return { refusal: undefined, lot };
  }

  // ---- earning ----

  /** PaymentSucceeded: the rule's points (daily cap), the debt paid off first, the rest a pending lot. */
  earn(paymentId: string, paid: bigint, paidAtMs: number, lifetimeMs: number): ModelEarning {
    const day = cityDayOf(paidAtMs);
    const earnedToday = [...this.earnings.values()]
      .filter((e) => e.cityDay === day)
      .reduce((s, e) => s + e.points, 0n);
    let points = (paid * BigInt(this.rule.pointsPerYuan)) / 100n;
    let reason = '';
    if (this.rule.dailyCap > 0n) {
      const left = this.rule.dailyCap - earnedToday;
      points = left <= 0n ? 0n : min(points, left);
    }
    const earning: ModelEarning = {
      paymentId,
      paid,
      points: 0n,
      debtRepaid: 0n,
      lot: undefined,
      reversed: 0n,
      expiredAbsorbed: 0n,
      cityDay: day,
      refundedTotal: 0n,
      reason,
    };
    this.earnings.set(paymentId, earning);
    if (points === 0n) {
      reason =
        this.rule.dailyCap > 0n && earnedToday >= this.rule.dailyCap ? 'DAILY_CAP_REACHED' : 'NOTHING_EARNED';
      earning.reason = reason;
      return earning;
    }
    const repaid = min(this.debt, points);
    const lotPoints = points - repaid;
    if (lotPoints > 0n && !this.charge(lotPoints)) {
      earning.reason = 'BUDGET_EXCEEDED';
      return earning;
    }
    this.debt -= repaid;
    earning.points = points;
    earning.debtRepaid = repaid;
    if (lotPoints > 0n) {
      earning.lot = newLot(lotPoints, 'PENDING', paidAtMs + lifetimeMs, this.budget);
      this.lots.push(earning.lot);
    }
    return earning;
  }

  /**
   * RefundSucceeded with the payment's refunded total: floor(points * refunded / paid) less what
   * was reversed; what the earned lot lost to expiry is absorbed; then the earned lot's unheld
   * units, the other available unheld units earliest expiry first; the rest debt (DEBT) or forgiven.
   */
  refund(paymentId: string, refundedTotal: bigint): void {
    const e = this.earnings.get(paymentId);
    if (!e) throw new Error(`model: no earning for ${paymentId}`);
    e.refundedTotal = refundedTotal;
    if (e.points === 0n) return;
    const refunded = refundedTotal > e.paid ? e.paid : refundedTotal;
    const due = (e.points * refunded) / e.paid - e.reversed;
    const take = due > 0n ? due : 0n;
    if (take === 0n) return;
    const own = e.lot;
    const absorbed = own ? min(take, own.expired - e.expiredAbsorbed) : 0n;
    const first = own && !own.lapsed && own.remaining > own.held ? [own] : [];
    let left = take - absorbed;
    for (const l of [...first, ...this.freeLots(own)]) {
      if (left === 0n) break;
      const units = min(l.remaining - l.held, left);
      l.remaining -= units;
      l.budget.issued -= units;
      left -= units;
    }
    if (this.policy === 'DEBT') this.debt += left;
    e.reversed += take;
    e.expiredAbsorbed += absorbed;
  }

  /** The release pass for the given pending lots (their refund window made due). */
  release(lots: readonly ModelLot[]): void {
    for (const l of lots) l.status = 'AVAILABLE';
  }

  // ---- reservations ----

  reserve(reservationId: string, points: bigint): Refusal {
    const free = this.freeLots();
    const total = free.reduce((s, l) => s + l.remaining - l.held, 0n);
    if (total < points) return { code: 'POINTS_INSUFFICIENT' };
    const units: { lot: ModelLot; units: bigint }[] = [];
    let left = points;
    for (const l of free) {
      if (left === 0n) break;
      const u = min(l.remaining - l.held, left);
      l.held += u;
      units.push({ lot: l, units: u });
      left -= u;
    }
    this.reservations.set(reservationId, { reservationId, points, units, status: 'HELD' });
    return undefined;
  }

  /** ConfirmReservation of a held reservation: its units are spent, the budget's redeemed +=. */
  confirm(reservationId: string): Refusal {
    const r = this.reservationOf(reservationId);
    if (r.status !== 'HELD')
      return r.status === 'CONFIRMED' ? undefined : { code: `RESERVATION_${r.status}` };
    for (const { lot, units } of r.units) {
      lot.remaining -= units;
      lot.held -= units;
      lot.budget.redeemed += units;
    }
    r.status = 'CONFIRMED';
    return undefined;
  }

  /** CancelReservation, or the hold expiry: held units released, those of lapsed lots expire. */
  end(reservationId: string, status: 'CANCELLED' | 'EXPIRED'): Refusal {
    const r = this.reservationOf(reservationId);
    if (r.status !== 'HELD') return r.status === status ? undefined : { code: `RESERVATION_${r.status}` };
    for (const { lot, units } of r.units) {
      lot.held -= units;
      if (lot.lapsed) {
        lot.remaining -= units;
        lot.expired += units;
        lot.budget.expired += units;
      }
    }
    r.status = status;
    return undefined;
  }

  /** The lot expiry pass for lots made due: their unheld units expire, held ones stay with their reservation. */
  lapse(lots: readonly ModelLot[]): void {
    for (const l of lots) {
      l.lapsed = true;
      const units = l.remaining - l.held;
      l.remaining = l.held;
      l.expired += units;
      l.budget.expired += units;
    }
  }

  /** Whether a refund here could change another account's budget (it holds received units). */
  holdsReceivedUnits(): boolean {
    return this.lots.some((l) => l.budget !== this.budget && l.remaining > l.held);
  }

  // ---- transfers (two accounts: the test runs them in its sequential step) ----

  /**
   * TransferPoints out of this account: available unheld units of unexpired lots, earliest expiry
   * first (never held units); not covered: POINTS_INSUFFICIENT and nothing taken. Budgets do not
   * change (the units stay charged to their lot's budget).
   */
  transferOut(points: bigint): { refusal: Refusal; parts: { from: ModelLot; units: bigint }[] } {
    const free = this.freeLots();
    if (free.reduce((s, l) => s + l.remaining - l.held, 0n) < points)
      return { refusal: { code: 'POINTS_INSUFFICIENT' }, parts: [] };
    const parts: { from: ModelLot; units: bigint }[] = [];
    let left = points;
    for (const l of free) {
      if (left === 0n) break;
      const units = min(l.remaining - l.held, left);
      l.remaining -= units;
      l.transferred = true;
      parts.push({ from: l, units });
      left -= units;
    }
    return { refusal: undefined, parts };
  }

  /** The receiving side: one available lot per source lot, with its expiry and its budget. */
  transferIn(parts: readonly { from: ModelLot; units: bigint; lotId: string }[]): void {
    for (const p of parts) {
      const lot = newLot(p.units, 'AVAILABLE', p.from.expiresAtMs, p.from.budget);
      lot.lotId = p.lotId;
      lot.transferred = true;
      this.lots.push(lot);
    }
  }

  private reservationOf(reservationId: string): ModelReservation {
    const r = this.reservations.get(reservationId);
    if (!r) throw new Error(`model: no reservation ${reservationId}`);
    return r;
  }
}

function newLot(amount: bigint, status: LotStatus, expiresAtMs: number, budget: ModelBudget): ModelLot {
  return {
    lotId: '',
    amount,
    remaining: amount,
    held: 0n,
    status,
    expiresAtMs,
    lapsed: false,
    expired: 0n,
    budget,
    transferred: false,
  };
}
