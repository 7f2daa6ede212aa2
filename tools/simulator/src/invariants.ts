/** One invariant checked at the end of a day of life: held, or not with what was seen. */
export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** settlement's check-ledger report (services/settlement/dist/admin.js check-ledger). */
export interface LedgerReport {
  ok: boolean;
  violations: unknown[];
}

export interface BudgetFigures {
  /** e.g. "points budget of operator op-1 (2026-12)" */
  name: string;
  allotted: bigint;
  issued: bigint;
}

export interface CouponFigures {
  name: string;
  maxCoupons: bigint;
  /** What marketing says was claimed. */
  claimed: bigint;
  /** What the simulator was told it claimed. */
  claimedBySimulator: bigint;
  /** Claims that ended in an error that does not say whether the coupon was given (a timeout). */
  unsure: bigint;
}

/** A count the simulator kept of what the city acknowledged, next to what a service's API shows. */
export interface CountFigures {
  name: string;
  simulator: number;
  /** Operations whose outcome the simulator never learnt (a timeout): the service may count them or not. */
  unsure: number;
  service: number;
}

/** A participant of a group buy as marketing shows it, with its escrow order's status at settlement. */
export interface SeatFigures {
  participantId: string;
  /** ParticipantStatus: 1 PENDING, 2 PAID, 3 RELEASED, 4 REFUNDED, 5 WITHDRAWN. */
  status: number;
  /** EscrowStatus of the seat's payment at settlement (3 COMPLETED, 4 REFUNDED...); 0: no order. */
  escrow: number;
}

/** A group buy the simulator opened: what marketing shows, next to the joins the simulator had answered. */
export interface DealFigures {
  name: string;
  minParticipants: number;
  maxParticipants: number;
  /** GroupDealStatus: 1 OPEN, 2 SUCCEEDED, 3 FAILED. */
  status: number;
  paid: number;
  pending: number;
  /** Its deadline had passed when it was read. */
  pastDeadline: boolean;
  seats: SeatFigures[];
  /** Participant ids JoinGroupDeal answered to the simulator. */
  acknowledged: string[];
  /** Joins whose outcome the simulator never learnt (a timeout). */
  unsure: number;
}

/** A dispute the simulator resolved: the escrow order as the resolution leaves it, and as settlement shows it. */
export interface DisputeFigures {
  name: string;
  expectedStatus: number;
  expectedRefunded: bigint;
  status: number;
  refunded: bigint;
  /** Held plus refund pending: nothing may be left in escrow or on the way back. */
  outstanding: bigint;
}

/** The alarms of one smoke sensor: smoke readings the broker took, alarms the simulator acknowledged. */
export interface AlarmFigures {
  name: string;
  /** Smoke readings acknowledged by the broker, and those whose publish failed (may have got through). */
  smokeReadings: number;
  unsure: number;
  /** Readings iot counted into its SMOKE alarms of the sensor (sum of occurrences). */
  occurrences: number;
  /** Alarm ids AcknowledgeAlarm answered acknowledged to the simulator. */
  acknowledged: string[];
  /** Of those, the ones iot now shows acknowledged (ACKED, or CLEARED keeping acknowledged). */
  acknowledgedInService: string[];
}

/** A household member bound by the simulator: whether identity lists them in the household. */
export interface MemberFigures {
  name: string;
  bound: boolean;
}

export interface InvariantInputs {
  /** undefined: the check could not run (an error says why). */
  ledger?: LedgerReport;
  ledgerError?: string;
  budgets: BudgetFigures[];
  coupons: CouponFigures[];
  counts: CountFigures[];
  deals?: DealFigures[];
  disputes?: DisputeFigures[];
  alarms?: AlarmFigures[];
  members?: MemberFigures[];
}

const SEAT_PENDING = 1;
const SEAT_PAID = 2;
const SEAT_REFUNDED = 4;
const DEAL_OPEN = 1;
const DEAL_SUCCEEDED = 2;
const DEAL_FAILED = 3;
const ESCROW_COMPLETED = 3;
const ESCROW_REFUNDED = 4;

/** What is wrong with a group buy's outcome (empty: nothing). */
function dealOutcomeProblems(d: DealFigures): string[] {
  const problems: string[] = [];
  const paidSeats = d.seats.filter((s) => s.status === SEAT_PAID);
  if (d.status === DEAL_OPEN && d.pastDeadline) problems.push('still OPEN after its deadline');
  if (d.status === DEAL_SUCCEEDED) {
    if (d.paid < d.minParticipants)
      problems.push(`SUCCEEDED with ${d.paid} paid of at least ${d.minParticipants}`);
    const unsettled = paidSeats.filter((s) => s.escrow !== ESCROW_COMPLETED);
    if (unsettled.length > 0)
      problems.push(`${unsettled.length} paid seat(s) whose order did not complete at settlement`);
  }
  if (d.status === DEAL_FAILED) {
    if (d.paid !== 0 || d.pending !== 0 || paidSeats.length > 0)
      problems.push(`FAILED keeping seats (paid ${d.paid}, pending ${d.pending})`);
    const unrefunded = d.seats.filter((s) => s.status === SEAT_REFUNDED && s.escrow !== ESCROW_REFUNDED);
    if (unrefunded.length > 0)
      problems.push(`${unrefunded.length} refunded seat(s) whose order is not refunded at settlement`);
  }
  return problems;
}

/**
 * The invariants of a day of life:
 *  - settlement's ledger invariants hold (balanced transactions, escrow, no negative balances...);
 *  - no points budget issued more than it was allotted;
 *  - no coupon campaign gave out more coupons than its limit, and each claim the simulator was
 *    acknowledged is one marketing counts (no claim lost, none twice);
 *  - events = database: each count of acknowledged operations equals what the service shows;
 *  - group buys: never more seats than the deal's size; each join acknowledged is a participant of
 *    marketing's (none lost, none extra); an ended deal's outcome is right (succeeded with its
 *    minimum and its orders completed at settlement, or failed with every payer refunded);
 *  - disputes: each resolved order is as its resolution leaves it (released, refunded, or part);
 *  - alarms: each alarm acknowledged to the simulator is acknowledged in iot; no smoke reading
 *    counted twice into an alarm;
 *  - household members: identity lists each member the simulator bound.
 */
export function evaluateInvariants(inputs: InvariantInputs): InvariantResult[] {
  const results: InvariantResult[] = [];
  if (inputs.ledger) {
    results.push({
      name: 'ledger: settlement check-ledger',
      ok: inputs.ledger.ok && inputs.ledger.violations.length === 0,
      detail:
        inputs.ledger.violations.length === 0
          ? 'no violation'
          : `${inputs.ledger.violations.length} violation(s): ${JSON.stringify(inputs.ledger.violations).slice(0, 400)}`,
    });
  } else {
    results.push({
      name: 'ledger: settlement check-ledger',
      ok: false,
      detail: `could not run: ${inputs.ledgerError ?? 'no report'}`,
    });
  }
  for (const b of inputs.budgets) {
    results.push({
      name: `points: ${b.name} issued <= allotted`,
      ok: b.issued <= b.allotted && b.issued >= 0n,
      detail: `issued ${b.issued} of ${b.allotted}`,
    });
  }
  for (const c of inputs.coupons) {
    results.push({
      name: `coupons: ${c.name} not oversold`,
      ok: c.maxCoupons === 0n || c.claimed <= c.maxCoupons,
      detail: `claimed ${c.claimed} of ${c.maxCoupons === 0n ? 'unlimited' : c.maxCoupons}`,
    });
    results.push({
      name: `coupons: ${c.name} claims acknowledged = claims counted`,
      ok: c.claimed >= c.claimedBySimulator && c.claimed <= c.claimedBySimulator + c.unsure,
      detail: `simulator ${c.claimedBySimulator} (+${c.unsure} unsure), marketing ${c.claimed}`,
    });
  }
  for (const c of inputs.counts) {
    results.push({
      name: `events = database: ${c.name}`,
      ok: c.service >= c.simulator && c.service <= c.simulator + c.unsure,
      detail: `simulator ${c.simulator} (+${c.unsure} unsure), service ${c.service}`,
    });
  }
  for (const d of inputs.deals ?? []) {
    const held = d.seats.filter((s) => s.status === SEAT_PAID || s.status === SEAT_PENDING).length;
    results.push({
      name: `group buys: ${d.name} never above its size`,
      ok: d.paid + d.pending <= d.maxParticipants && held <= d.maxParticipants,
      detail: `paid ${d.paid} + pending ${d.pending} (${held} seats held) of ${d.maxParticipants}`,
    });
    const ids = new Set(d.seats.map((s) => s.participantId));
    const lost = d.acknowledged.filter((id) => !ids.has(id));
    results.push({
      name: `group buys: ${d.name} joins acknowledged = participants`,
      ok: lost.length === 0 && d.seats.length <= d.acknowledged.length + d.unsure,
      detail:
        `simulator ${d.acknowledged.length} (+${d.unsure} unsure), marketing ${d.seats.length}` +
        (lost.length > 0 ? `; missing ${lost.join(', ')}` : ''),
    });
    const problems = dealOutcomeProblems(d);
    results.push({
      name: `group buys: ${d.name} outcome`,
      ok: problems.length === 0,
      detail:
        problems.join('; ') ||
        `${['?', 'OPEN', 'SUCCEEDED', 'FAILED'][d.status] ?? d.status} with ${d.paid} paid (min ${d.minParticipants})`,
    });
  }
  for (const d of inputs.disputes ?? []) {
    results.push({
      name: `disputes: ${d.name} as resolved`,
      ok: d.status === d.expectedStatus && d.refunded === d.expectedRefunded && d.outstanding === 0n,
      detail:
        `expected status ${d.expectedStatus} refunded ${d.expectedRefunded}, ` +
        `settlement status ${d.status} refunded ${d.refunded} outstanding ${d.outstanding}`,
    });
  }
  for (const a of inputs.alarms ?? []) {
    const missing = a.acknowledged.filter((id) => !a.acknowledgedInService.includes(id));
    results.push({
      name: `alarms: ${a.name} acknowledged alarms stay acknowledged`,
      ok: missing.length === 0,
      detail:
        `${a.acknowledged.length} acknowledged, ${a.acknowledged.length - missing.length} so in iot` +
        (missing.length > 0 ? `; not: ${missing.join(', ')}` : ''),
    });
    results.push({
      name: `alarms: ${a.name} no smoke reading counted twice`,
      ok: a.occurrences <= a.smokeReadings + a.unsure,
      detail: `smoke readings ${a.smokeReadings} (+${a.unsure} unsure), alarm occurrences ${a.occurrences}`,
    });
  }
  for (const m of inputs.members ?? []) {
    results.push({
      name: `household members: ${m.name} bound`,
      ok: m.bound,
      detail: m.bound ? 'listed by identity' : 'not in the household identity shows',
    });
  }
  return results;
}

export const allHold = (results: readonly InvariantResult[]): boolean =>
  results.length > 0 && results.every((r) => r.ok);
