import type { Random } from './random';

/** The business operations of a day of life (docs/simulator.md "Operations"). */
export const OP_KINDS = [
  'fee', // a household pays its property fee (checkout, money): points are earned on it
  'parking', // a car enters and leaves a lot: iot bills it, the gate opens once it is paid
  'charging', // an EV charge paid with money + points + a coupon (payment's CreateCheckout)
  'coupon', // a resident claims a coupon of the flash sale (sold out is an answer, not an error)
  'group', // a resident joins a group buy of the community's merchant and pays the seat
  'refund', // a completed checkout is partly refunded
  'dispute', // a driver disputes a parking payment held in escrow; property staff resolve it
  'door', // a resident opens the building door with a grant
  'courier', // a resident issues a courier code; the courier enters and leaves with it
  'telemetry', // a sensor reports over MQTT (now and then smoke: an alarm)
  'alarm', // staff acknowledge a smoke alarm the simulator's sensor raised
  'feed', // the agency pulls its feed
] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** How often each operation happens, relative to the others (a day in a residential district). */
export const DEFAULT_WEIGHTS: Readonly<Record<OpKind, number>> = {
  fee: 3,
  parking: 3,
  charging: 2,
  coupon: 2,
  group: 2,
  refund: 1,
  dispute: 1,
  door: 4,
  courier: 2,
  telemetry: 8,
  alarm: 1,
  feed: 1,
};

/** Picks operations at random in proportion to their weights (a weight of 0 never happens). */
export class ScenarioChooser {
  private readonly weighted: { kind: OpKind; weight: number }[] = [];

  constructor(
    private readonly random: Random,
    weights: Readonly<Record<OpKind, number>> = DEFAULT_WEIGHTS,
  ) {
    for (const kind of OP_KINDS) {
      const weight = weights[kind];
      if (!Number.isFinite(weight) || weight < 0)
        throw new Error(`weight of ${kind} must be a number >= 0 (got ${weight})`);
      if (weight > 0) this.weighted.push({ kind, weight });
    }
    if (this.weighted.length === 0) throw new Error('at least one operation needs a weight above 0');
  }

  /**
   * The next operation; `eligible` (when given) rules out kinds that cannot run now (e.g. nothing
   * to refund yet): the others keep their proportions. Undefined when none is eligible.
   */
  next(eligible: (kind: OpKind) => boolean = () => true): OpKind | undefined {
    const candidates = this.weighted.filter((w) => eligible(w.kind));
    const sum = candidates.reduce((acc, w) => acc + w.weight, 0);
    if (sum === 0) return undefined;
    let r = this.random.next() * sum;
    for (const c of candidates) {
      if (r < c.weight) return c.kind;
      r -= c.weight;
    }
    return candidates[candidates.length - 1]!.kind;
  }
}
