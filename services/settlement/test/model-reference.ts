// A deliberately simple reference model of settlement for the randomized test (model.int-spec.ts):
// plain maps and arithmetic, written from the rules in DOMAIN.md and docs/settlement-*.md, not
// from the service's code. The test runs the same operations against the real service and the
// model and requires every order, every balance and every refusal to agree exactly.

export type Role = 'merchant' | 'property' | 'commission' | 'tax';
export const ROLES: Role[] = ['merchant', 'property', 'commission', 'tax'];
export type Parts = Record<Role, bigint>;
export const zeroParts = (): Parts => ({ merchant: 0n, property: 0n, commission: 0n, tax: 0n });

export interface Rule {
  commissionBps: number;
  propertyShareBps: number;
  taxBps: number;
}

/** Largest remainder: floor of each exact share, leftover units to the largest remainders, ties in order. */
export function largestRemainder(amount: bigint, weights: bigint[]): bigint[] {
  const total = weights.reduce((a, b) => a + b, 0n);
  if (total === 0n) throw new Error('no weight');
  const parts = weights.map((w) => (amount * w) / total);
  const rema = weights.map((w, i) => ({ i, r: (amount * w) % total }));
  let left = amount - parts.reduce((a, b) => a + b, 0n);
  rema.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of rema) {
    if (left === 0n) break;
    parts[i]! += 1n;
    left -= 1n;
  }
  return parts;
}

export function split(amount: bigint, rule: Rule): Parts {
  const w = [
    BigInt(10_000 - rule.commissionBps - rule.propertyShareBps - rule.taxBps),
    BigInt(rule.propertyShareBps),
    BigInt(rule.commissionBps),
    BigInt(rule.taxBps),
  ];
  const [merchant, property, commission, tax] = largestRemainder(amount, w);
  return { merchant: merchant!, property: property!, commission: commission!, tax: tax! };
}

export type Status = 'HELD' | 'DISPUTED' | 'COMPLETED' | 'REFUNDED';

export interface ModelOrder {
  orderId: string;
  projectId: string;
  merchantId: string;
  payerRef: string;
  profitSharing: boolean;
  paid: bigint;
  held: bigint;
  released: bigint;
  refunded: bigint;
  status: Status;
  /** What is left of each split part (after refunds after completion). */
  parts: Parts;
}

/** Balances on the normal side, keyed like `${kind}|${projectId}|${merchantId}|${ownerRef}`. */
export class Model {
  readonly orders = new Map<string, ModelOrder>();
  readonly balances = new Map<string, bigint>();
  readonly held = new Map<string, bigint>();

  static key(kind: string, projectId = '', merchantId = '', ownerRef = ''): string {
    return `${kind}|${projectId}|${merchantId}|${ownerRef}`;
  }

  add(key: string, amount: bigint): void {
    const next = (this.balances.get(key) ?? 0n) + amount;
    if (next === 0n) this.balances.delete(key);
    else this.balances.set(key, next);
  }

  balance(key: string): bigint {
    return this.balances.get(key) ?? 0n;
  }

  available(key: string): bigint {
    return this.balance(key) - (this.held.get(key) ?? 0n);
  }

  hold(key: string, amount: bigint): void {
    const next = (this.held.get(key) ?? 0n) + amount;
    if (next === 0n) this.held.delete(key);
    else this.held.set(key, next);
  }

  pay(
    o: Omit<ModelOrder, 'held' | 'released' | 'refunded' | 'status' | 'parts' | 'split'>,
    channel: string,
  ): void {
    this.orders.set(o.orderId, {
      ...o,
      held: o.paid,
      released: 0n,
      refunded: 0n,
      status: 'HELD',
      parts: zeroParts(),
    });
    this.add(Model.key('CHANNEL_CLEARING', o.projectId, '', channel), o.paid);
    this.add(Model.key('ESCROW', o.projectId), o.paid);
  }

  complete(orderId: string, rule: Rule): Parts {
    const o = this.orders.get(orderId)!;
    const parts = split(o.held, rule);
    this.add(Model.key('ESCROW', o.projectId), -o.held);
    this.credit(o, parts, 1n);
    o.released += o.held;
    o.held = 0n;
    o.status = 'COMPLETED';
    o.parts = { ...parts };
    return parts;
  }

  private credit(o: ModelOrder, parts: Parts, sign: bigint): void {
    this.add(Model.key('MERCHANT_PAYABLE', o.projectId, o.merchantId), sign * parts.merchant);
    this.add(Model.key('PROPERTY_SHARE', o.projectId), sign * parts.property);
    this.add(Model.key('PLATFORM_COMMISSION'), sign * parts.commission);
    this.add(Model.key('TAX_PAYABLE'), sign * parts.tax);
  }

  /** A refund that has reached its destination (before completion from escrow; after, from the parts). */
  refund(orderId: string, amount: bigint, destination: 'original' | 'wallet', channel: string): void {
    const o = this.orders.get(orderId)!;
    if (o.status === 'COMPLETED') {
      const taken = largestRemainder(
        amount,
        ROLES.map((r) => o.parts[r]),
      );
      const parts = zeroParts();
      ROLES.forEach((r, i) => (parts[r] = taken[i]!));
      this.credit(o, parts, -1n);
      ROLES.forEach((r) => (o.parts[r] -= parts[r]));
      // what was released to the split and has come back is no longer released: escrow per order
      // stays paid - released - refunded
      o.released -= amount;
    } else {
      this.add(Model.key('ESCROW', o.projectId), -amount);
      o.held -= amount;
      if (o.held === 0n) o.status = 'REFUNDED';
    }
    o.refunded += amount;
    if (destination === 'original')
      this.add(Model.key('CHANNEL_CLEARING', o.projectId, '', channel), -amount);
    else this.add(Model.key('RESIDENT_WALLET', '', '', o.payerRef), amount);
  }
}
