import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { AccountKey } from '../ledger/ledger.service';

/**
 * The ledger postings of points' events and of the clearing cycle, as pure functions
 * (docs/settlement-points.md, "Postings"; docs/points.md "Liability and clearing"): which accounts
 * each fact debits and credits, by how much, under which idempotency key. Amounts are signed minor
 * units, debit positive; every posting sums to zero. The service turns the account keys into ids
 * (LedgerService) and posts.
 */

/** An issuer of points (the lots' operator and project). */
export interface Issuer {
  operatorId: string;
  projectId: string;
}

/** Where points were spent: an operator, its project and merchant ('' = the project or operator itself). */
export interface Place extends Issuer {
  merchantId: string;
}

/** Points of one issuer and their money value (an event's IssuerPoints, or a lot's event). */
export interface IssuerValue {
  issuer: Issuer;
  currency: string;
  amountMinor: bigint;
}

export interface PlannedLine {
  account: AccountKey;
  amountMinor: bigint;
}

export interface PlannedPosting {
  kind:
    | 'points_issued'
    | 'points_reversed'
    | 'points_expired'
    | 'points_redeemed'
    | 'points_clearing'
    | 'points_clearing_settled'
    | 'points_returned';
  idempotencyKey: string;
  currency: string;
  /** The transaction's tenancy (who sees it): the issuer's operator, or the operator the cycle settles. */
  operatorId: string;
  projectId: string;
  reference: string;
  lines: PlannedLine[];
}

export const subsidy = (i: Issuer, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_MARKETING_SUBSIDY,
  currency,
  operatorId: i.operatorId,
  projectId: i.projectId,
});
export const liability = (i: Issuer, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_POINTS_LIABILITY,
  currency,
  operatorId: i.operatorId,
  projectId: i.projectId,
});
export const clearing = (i: Issuer, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_POINTS_CLEARING,
  currency,
  operatorId: i.operatorId,
  projectId: i.projectId,
});
export const payable = (p: Place, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
  currency,
  operatorId: p.operatorId,
  projectId: p.projectId,
  merchantId: p.merchantId,
});
export const bank = (operatorId: string, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_BANK,
  currency,
  operatorId,
});

/** Whether the points of `issuer` spent at `place` are owed by clearing (points' needsClearing). */
export function needsClearing(issuer: Issuer, place: Issuer): boolean {
  return issuer.operatorId !== place.operatorId || issuer.projectId !== place.projectId;
}

/** The values summed per issuer, in order of first appearance; zero sums left out. */
function byIssuer(values: readonly IssuerValue[]): IssuerValue[] {
  const out = new Map<string, IssuerValue>();
  for (const v of values) {
    const key = `${v.issuer.operatorId}\u0000${v.issuer.projectId}\u0000${v.currency}`;
    const sum = out.get(key) ?? { issuer: v.issuer, currency: v.currency, amountMinor: 0n };
    sum.amountMinor += v.amountMinor;
    out.set(key, sum);
  }
  return [...out.values()].filter((v) => v.amountMinor !== 0n);
}

function oneCurrency(values: readonly IssuerValue[], what: string): string {
  const currencies = new Set(values.map((v) => v.currency));
  if (currencies.size !== 1)
    throw new Error(`${what}: values in ${[...currencies].join(', ')}, not one currency`);
  return values[0]!.currency;
}

function assertPositive(values: readonly IssuerValue[], what: string): void {
  for (const v of values)
    if (v.amountMinor < 0n) throw new Error(`${what}: negative value ${v.amountMinor} of an issuer`);
}

/** PointsIssued / PointsEarned: the issuer's expense, and its liability (Dr subsidy / Cr liability). */
export function issuedPosting(lotId: string, v: IssuerValue): PlannedPosting | undefined {
  assertPositive([v], `lot ${lotId}`);
  if (v.amountMinor === 0n) return undefined;
  return {
    kind: 'points_issued',
    idempotencyKey: `points:lot:${lotId}`,
    currency: v.currency,
    operatorId: v.issuer.operatorId,
    projectId: v.issuer.projectId,
    reference: lotId,
    lines: [
      { account: subsidy(v.issuer, v.currency), amountMinor: v.amountMinor },
      { account: liability(v.issuer, v.currency), amountMinor: -v.amountMinor },
    ],
  };
}

/**
 * PointsReversed / PointsExpired: what was taken back or expired leaves the liability and the
 * expense, per issuer (Dr liability / Cr subsidy). Undefined when nothing was taken.
 */
export function takenBackPosting(
  kind: 'points_reversed' | 'points_expired',
  eventId: string,
  programmeOperatorId: string,
  values: readonly IssuerValue[],
): PlannedPosting | undefined {
  assertPositive(values, `event ${eventId}`);
  const sums = byIssuer(values);
  if (sums.length === 0) return undefined;
  const currency = oneCurrency(sums, `event ${eventId}`);
  return {
    kind,
    idempotencyKey: `points:${kind === 'points_reversed' ? 'reversed' : 'expired'}:${eventId}`,
    currency,
    operatorId: programmeOperatorId,
    projectId: '',
    reference: eventId,
    lines: sums.flatMap((v) => [
      { account: liability(v.issuer, currency), amountMinor: v.amountMinor },
      { account: subsidy(v.issuer, currency), amountMinor: -v.amountMinor },
    ]),
  };
}

/**
 * PointsRedeemed: the lots whose issuer is the place (same operator and project) were spent where
 * they were issued: Dr liability(issuer) / Cr merchant payable(place). The other lots come with a
 * ClearingObligationCreated each (obligationPosting). Undefined when every lot is owed by clearing.
 */
export function redeemedPosting(
  reservationId: string,
  programmeOperatorId: string,
  place: Place,
  values: readonly IssuerValue[],
): PlannedPosting | undefined {
  assertPositive(values, `reservation ${reservationId}`);
  const own = byIssuer(values.filter((v) => !needsClearing(v.issuer, place)));
  if (own.length === 0) return undefined;
  const currency = oneCurrency(own, `reservation ${reservationId}`);
  const total = own.reduce((s, v) => s + v.amountMinor, 0n);
  return {
    kind: 'points_redeemed',
    idempotencyKey: `points:redeemed:${reservationId}`,
    currency,
    operatorId: programmeOperatorId,
    projectId: '',
    reference: reservationId,
    lines: [
      ...own.map((v) => ({ account: liability(v.issuer, currency), amountMinor: v.amountMinor })),
      { account: payable(place, currency), amountMinor: -total },
    ],
  };
}

/**
 * ClearingObligationCreated: the debtor's points spent at the creditor. The debtor's liability ends
 * and it owes the value through clearing (Dr liability(debtor) / Cr clearing(debtor)); the place is
 * owed it through clearing and owes its merchant (Dr clearing(creditor) / Cr payable(creditor)).
 */
export function obligationPosting(o: {
  obligationId: string;
  reservationId: string;
  debtor: Issuer;
  creditor: Place;
  currency: string;
  amountMinor: bigint;
}): PlannedPosting {
  if (o.amountMinor <= 0n)
    throw new Error(`obligation ${o.obligationId}: value ${o.amountMinor} is not positive`);
  if (!needsClearing(o.debtor, o.creditor))
    throw new Error(`obligation ${o.obligationId}: debtor and creditor are the same issuer`);
  const v = o.amountMinor;
  return {
    kind: 'points_clearing',
    idempotencyKey: `points:obligation:${o.obligationId}`,
    currency: o.currency,
    operatorId: o.debtor.operatorId,
    projectId: o.debtor.projectId,
    reference: o.reservationId,
    lines: [
      { account: liability(o.debtor, o.currency), amountMinor: v },
      { account: clearing(o.debtor, o.currency), amountMinor: -v },
      { account: clearing(o.creditor, o.currency), amountMinor: v },
      { account: payable(o.creditor, o.currency), amountMinor: -v },
    ],
  };
}

/**
 * PointsReturned: a checkout refund gave points back to their holder as new lots of their issuers.
 * The value comes back from the place they had been spent at (its payable, where the checkout
 * refund put it) into each issuer's liability: the lots of the place's own issuer directly (Dr
 * payable(place) / Cr liability(issuer)), each other issuer through clearing with an obligation of
 * the place to that issuer (Dr payable(place), Cr clearing(place), Dr clearing(issuer), Cr
 * liability(issuer)): the reverse of the redemption's obligation. Undefined when nothing came back.
 */
export function returnedPosting(
  returnId: string,
  programmeOperatorId: string,
  place: Place,
  values: readonly IssuerValue[],
): PlannedPosting | undefined {
  assertPositive(values, `return ${returnId}`);
  const sums = byIssuer(values);
  if (sums.length === 0) return undefined;
  const currency = oneCurrency(sums, `return ${returnId}`);
  const total = sums.reduce((s, v) => s + v.amountMinor, 0n);
  return {
    kind: 'points_returned',
    idempotencyKey: `points:returned:${returnId}`,
    currency,
    operatorId: programmeOperatorId,
    projectId: '',
    reference: returnId,
    lines: [
      { account: payable(place, currency), amountMinor: total },
      ...sums.flatMap((v) =>
        needsClearing(v.issuer, place)
          ? [
              { account: clearing(place, currency), amountMinor: -v.amountMinor },
              { account: clearing(v.issuer, currency), amountMinor: v.amountMinor },
              { account: liability(v.issuer, currency), amountMinor: -v.amountMinor },
            ]
          : [{ account: liability(v.issuer, currency), amountMinor: -v.amountMinor }],
      ),
    ],
  };
}

/** The obligations of a return: the place owes each other issuer the value given back to its liability. */
export function returnObligations(
  place: Place,
  values: readonly IssuerValue[],
): { debtor: Issuer; creditor: Place; currency: string; amountMinor: bigint }[] {
  return byIssuer(values)
    .filter((v) => needsClearing(v.issuer, place))
    .map((v) => ({
      debtor: { operatorId: place.operatorId, projectId: place.projectId },
      creditor: { ...v.issuer, merchantId: '' },
      currency: v.currency,
      amountMinor: v.amountMinor,
    }));
}

/** An open obligation as the cycle nets it. */
export interface OpenObligation {
  debtor: Issuer;
  creditor: Issuer;
  amountMinor: bigint;
}

/**
 * The net of a set of obligations per clearing account (operator, project), debit positive
 * (owed to it), zeros left out, sorted by operator then project. Sums to zero by construction.
 */
export function netPositions(obligations: readonly OpenObligation[]): { issuer: Issuer; net: bigint }[] {
  const net = new Map<string, { issuer: Issuer; net: bigint }>();
  const add = (i: Issuer, amount: bigint) => {
    const key = `${i.operatorId}\u0000${i.projectId}`;
    const p = net.get(key) ?? { issuer: { operatorId: i.operatorId, projectId: i.projectId }, net: 0n };
    p.net += amount;
    net.set(key, p);
  };
  for (const o of obligations) {
    add(o.creditor, o.amountMinor);
    add(o.debtor, -o.amountMinor);
  }
  return [...net.values()]
    .filter((p) => p.net !== 0n)
    .sort((a, b) =>
      a.issuer.operatorId === b.issuer.operatorId
        ? a.issuer.projectId.localeCompare(b.issuer.projectId)
        : a.issuer.operatorId.localeCompare(b.issuer.operatorId),
    );
}

/**
 * A clearing cycle: each clearing account's net position back to zero (Cr what is owed to it, Dr
 * what it owes), settled through its operator's bank account (Dr bank of the operators owed, Cr bank
 * of those that owe). Undefined when the obligations net to nothing.
 */
export function cyclePosting(
  cycleId: string,
  currency: string,
  obligations: readonly OpenObligation[],
): PlannedPosting | undefined {
  const positions = netPositions(obligations);
  if (positions.length === 0) return undefined;
  const perOperator = new Map<string, bigint>();
  for (const p of positions)
    perOperator.set(p.issuer.operatorId, (perOperator.get(p.issuer.operatorId) ?? 0n) + p.net);
  return {
    kind: 'points_clearing_settled',
    idempotencyKey: `points-clearing:cycle:${cycleId}:${currency}`,
    currency,
    operatorId: '',
    projectId: '',
    reference: cycleId,
    lines: [
      ...positions.map((p) => ({ account: clearing(p.issuer, currency), amountMinor: -p.net })),
      ...[...perOperator]
        .filter(([, n]) => n !== 0n)
        .map(([operatorId, n]) => ({ account: bank(operatorId, currency), amountMinor: n })),
    ],
  };
}
