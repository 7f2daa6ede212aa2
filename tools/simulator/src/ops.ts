import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { CityApi, RpcError } from './api';
import type { City, Community, Operator } from './city';
import type { Json } from './descriptor-rpc';
import type { Random } from './random';
import type { OpKind } from './scenario';

const PAY = '/citybase.payment.v1.PaymentService/';
const PTS = '/citybase.points.v1.PointsService/';
const MKT = '/citybase.marketing.v1.MarketingService/';
const PARK = '/citybase.iot.v1.ParkingService/';
const ACCESS = '/citybase.iot.v1.AccessService/';
const IOT = '/citybase.iot.v1.IotService/';
const SETTLE = '/citybase.settlement.v1.SettlementService/';
const DATA = '/citybase.data.v1.DataService/';

const CHECKOUT_COMPLETED = 3;
const CHECKOUT_RELEASED = 4;
const PARKING_OPEN = 1;
const PARKING_CLOSED = 3;
/** GroupDealStatus and ParticipantStatus (marketing.proto). */
export const DEAL = { OPEN: 1, SUCCEEDED: 2, FAILED: 3 } as const;
export const SEAT = { PENDING: 1, PAID: 2, RELEASED: 3, REFUNDED: 4, WITHDRAWN: 5 } as const;
/** EscrowStatus, DisputeResolution, RefundDestination (settlement.proto). */
export const ESCROW = { HELD: 1, DISPUTED: 2, COMPLETED: 3, REFUNDED: 4 } as const;
export const RESOLUTION = { RELEASE: 1, REFUND: 2, PARTIAL: 3 } as const;
const DESTINATION = { ORIGINAL: 1, WALLET: 2 } as const;
/** AlarmStatus (iot.proto). */
export const ALARM = { ACTIVE_UNACKED: 1, ACKED: 2, CLEARED: 3 } as const;
/** What the smoke sensors report as smoke (iot's smoke-sensor profile raises above 150 ppm). */
export const SMOKE_PPM = 900;
/** Share of smoke sensors' readings that are smoke ("the odd alarm"). */
const SMOKE_SHARE = 0.05;
/** How long a group buy stays open for joining (its deadline after it opens). */
export const GROUP_DEAL_OPEN_MS = 45_000;
/** A join this close to the deadline would likely pay after it: the simulator picks another deal. */
const GROUP_DEAL_LAST_JOIN_MS = 10_000;
/** How long an operation waits for the city to finish it (payment notified, gate opened). */
export const SETTLE_TIMEOUT_MS = 90_000;

const rid = () => randomUUID();
/** Answers that say nothing was done (anything else, e.g. DEADLINE_EXCEEDED, may have been). */
const CLEAR_REFUSALS: ReadonlySet<number> = new Set([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.PERMISSION_DENIED,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
  status.UNAUTHENTICATED,
  status.ALREADY_EXISTS,
]);
/** Answers after which the same request is asked again (the callee may have done it, or not yet). */
const RETRY_SAME_REQUEST: ReadonlySet<number> = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` (every 250 ms, then slower) until it gives a value or `timeoutMs` passes. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let wait = 250;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(wait);
    wait = Math.min(2_000, Math.round(wait * 1.5));
  }
}

/** A completed checkout the simulator may refund later. */
interface Refundable {
  checkoutId: string;
  moneyMinor: bigint;
}

/** What the day of life counts, beside the per-kind totals: what the invariants compare with the services. */
export interface Ledger {
  /** Checkouts asked for (CreateCheckout called), refused outright, seen COMPLETED, seen RELEASED, per project. */
  checkoutsAsked: Map<string, number>;
  checkoutsRefused: Map<string, number>;
  checkoutsCompleted: Map<string, number>;
  checkoutsReleased: Map<string, number>;
  /** Coupons marketing acknowledged to the simulator, per campaign. */
  claims: Map<string, bigint>;
  /** Claims asked for, and claims clearly refused (nothing given), per campaign. */
  claimsAsked: Map<string, bigint>;
  claimsRefused: Map<string, bigint>;
  /** Parking sessions closed with the gate opened. */
  parkingClosed: Map<string, number>;
  /** Telemetry messages the broker acknowledged. */
  telemetryAcked: number;
  alarmsRaised: number;
  /** Smoke readings published, and acknowledged by the broker, per smoke sensor (device id). */
  smokeAsked: Map<string, number>;
  smokeAcked: Map<string, number>;
  /** Alarms the simulator acknowledged (AcknowledgeAlarm answered acknowledged), by alarm id. */
  alarmsAcknowledged: Map<string, AcknowledgedAlarm>;
  refundsAccepted: number;
  /** Property fees paid, and doors opened, by household members (not the head). */
  memberFees: number;
  memberDoors: number;
  /** Group buys: joins asked, clearly refused, and the seats marketing answered, per deal. */
  joinsAsked: Map<string, number>;
  joinsRefused: Map<string, number>;
  seats: Map<string, Set<string>>;
  /** Disputes the simulator saw resolved, with the order as the resolution must have left it. */
  disputes: ResolvedDispute[];
  feedRows: bigint;
}

export interface AcknowledgedAlarm {
  alarmId: string;
  deviceId: string;
  tenancy: Json;
}

export interface ResolvedDispute {
  orderId: string;
  resolution: keyof typeof RESOLUTION;
  /** The escrow status and refunded amount the resolution leaves. */
  status: number;
  refundedMinor: bigint;
}

/** A group buy of a community's merchant, as the simulator opened it. */
export interface GroupDeal {
  dealId: string;
  tenancy: Json;
  /** popular: 2 to 3 seats (fills when three residents join); niche: more seats than residents (never fills). */
  kind: 'popular' | 'niche';
  minParticipants: number;
  maxParticipants: number;
  deadlineMs: number;
  /** Residents the simulator asked to join (one seat per user). */
  joiners: Set<string>;
  /** The simulator saw it full or ended: joins go to another deal. */
  closed: boolean;
}

export const newLedger = (): Ledger => ({
  checkoutsAsked: new Map(),
  checkoutsRefused: new Map(),
  checkoutsCompleted: new Map(),
  checkoutsReleased: new Map(),
  claims: new Map(),
  claimsAsked: new Map(),
  claimsRefused: new Map(),
  parkingClosed: new Map(),
  telemetryAcked: 0,
  alarmsRaised: 0,
  smokeAsked: new Map(),
  smokeAcked: new Map(),
  alarmsAcknowledged: new Map(),
  refundsAccepted: 0,
  memberFees: 0,
  memberDoors: 0,
  joinsAsked: new Map(),
  joinsRefused: new Map(),
  seats: new Map(),
  disputes: [],
  feedRows: 0n,
});

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
const add = <K>(m: Map<K, bigint>, k: K) => m.set(k, (m.get(k) ?? 0n) + 1n);

/**
 * The community's merchant opens a group buy (deadline GROUP_DEAL_OPEN_MS from now): `popular`
 * needs 2 residents and takes 3 (it fills, or succeeds with 2 at the deadline); `niche` needs more
 * residents than the community has, so it fails at its deadline and marketing refunds every payer.
 */
export async function openGroupDeal(api: CityApi, c: Community, kind: GroupDeal['kind']): Promise<GroupDeal> {
  const tenancy = {
    operatorId: c.world.operatorId,
    projectId: c.world.projectId,
    merchantId: c.world.merchantId,
  };
  const people = c.households.length;
  const [min, max] = kind === 'popular' ? [2, 3] : [people + 1, people + 1];
  const deadlineMs = Date.now() + GROUP_DEAL_OPEN_MS;
  const n = c.deals.length + 1;
  const deal = (
    await api.ok(`${MKT}CreateGroupDeal`, {
      requestId: rid(),
      deal: {
        tenancy,
        title: kind === 'popular' ? `Lychees, 5 kg box (${n})` : `Rice cooker (${n})`,
        itemCode: kind === 'popular' ? 'LYCHEE-5KG' : 'RICE-COOKER',
        price: { currency: 'CNY', amountMinor: kind === 'popular' ? '3990' : '19900' },
        minParticipants: min,
        maxParticipants: max,
        deadline: { seconds: String(Math.floor(deadlineMs / 1000)), nanos: (deadlineMs % 1000) * 1_000_000 },
      },
    })
  ).deal as Json;
  const opened: GroupDeal = {
    dealId: deal.dealId as string,
    tenancy,
    kind,
    minParticipants: min,
    maxParticipants: max,
    deadlineMs,
    joiners: new Set(),
    closed: false,
  };
  c.deals.push(opened);
  return opened;
}

/** Milliseconds of a google.protobuf.Timestamp as the JSON codec gives it ({seconds, nanos}). */
export const timestampMs = (t: Json | undefined): number | undefined =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor(Number(t.nanos ?? 0) / 1_000_000) : undefined;

/** A money amount's minor units as the JSON codec gives it ({currency, amountMinor}). */
export const minorOf = (m: Json | undefined): bigint => BigInt((m?.amountMinor as string | undefined) ?? '0');

/**
 * The alarm a smoke reading at `atMs` raised or joined, among a device's alarms (newest first):
 * the newest SMOKE alarm raised no later than the reading that was still open at it.
 */
export function alarmOfReading(alarms: readonly Json[], atMs: number): Json | undefined {
  return alarms.find((a) => {
    if (a.type !== 'SMOKE') return false;
    const raised = timestampMs(a.raisedAt as Json | undefined) ?? Infinity;
    const cleared = timestampMs(a.clearedAt as Json | undefined);
    return raised <= atMs && (cleared === undefined || cleared >= atMs);
  });
}

/** The operations of a day of life against a built city (each one: 'ok', 'refused', or it throws). */
export class DayOfLife {
  readonly ledger = newLedger();
  private readonly refundable: Refundable[] = [];
  /** Paid parking payments held in escrow: a driver may dispute one. */
  private readonly disputable: { orderId: string; paidMinor: bigint }[] = [];
  /** Smoke readings the broker acknowledged, waiting for staff to acknowledge their alarm. */
  private readonly smokeReadings: { deviceId: string; tenancy: Json; atMs: number }[] = [];
  private feedCursor = '';
  private plate = 0;

  constructor(
    private readonly api: CityApi,
    private readonly city: City,
    private readonly random: Random,
  ) {}

  /** Whether `kind` can run now (a refund needs a completed checkout, a dispute a paid stay, ...). */
  eligible = (kind: OpKind): boolean =>
    kind === 'refund'
      ? this.refundable.length > 0
      : kind === 'dispute'
        ? this.disputable.length > 0
        : kind === 'alarm'
          ? this.smokeReadings.length > 0
          : true;

  run(kind: OpKind): Promise<'ok' | 'refused'> {
    switch (kind) {
      case 'fee':
        return this.propertyFee();
      case 'parking':
        return this.parking();
      case 'charging':
        return this.charging();
      case 'coupon':
        return this.flashSaleClaim();
      case 'group':
        return this.groupBuy();
      case 'refund':
        return this.refund();
      case 'dispute':
        return this.dispute();
      case 'door':
        return this.door();
      case 'courier':
        return this.courier();
      case 'telemetry':
        return this.telemetry();
      case 'alarm':
        return this.acknowledgeAlarm();
      case 'feed':
        return this.feed();
    }
  }

  private where(): { op: Operator; c: Community; h: Community['households'][number] } {
    const op = this.random.pick(this.city.operators);
    const c = this.random.pick(op.communities);
    return { op, c, h: this.random.pick(c.households) };
  }

  private async checkout(c: Community, request: Json): Promise<'ok'> {
    const tenancy = { operatorId: c.world.operatorId, projectId: c.world.projectId };
    const projectId = c.world.projectId;
    bump(this.ledger.checkoutsAsked, projectId);
    const created = (
      await this.api
        .ok(`${PAY}CreateCheckout`, { requestId: rid(), tenancy, merchantId: c.world.merchantId, ...request })
        .catch((err: unknown) => {
          if (err instanceof RpcError && CLEAR_REFUSALS.has(err.code))
            bump(this.ledger.checkoutsRefused, projectId);
          throw err;
        })
    ).checkout as Json;
    const checkoutId = created.checkoutId as string;
    // the sandbox channel pays (npm start: SANDBOX_AUTO_PAY=success); payment completes the saga
    const done = await until(`checkout ${checkoutId}`, async () => {
      const co = (await this.api.ok(`${PAY}GetCheckout`, { checkoutId })).checkout as Json;
      return co.status === CHECKOUT_COMPLETED || co.status === CHECKOUT_RELEASED ? co : undefined;
    });
    if (done.status !== CHECKOUT_COMPLETED) {
      bump(this.ledger.checkoutsReleased, projectId);
      throw new Error(`checkout released (${String(done.releaseReason) || 'no reason'})`);
    }
    bump(this.ledger.checkoutsCompleted, c.world.projectId);
    const money = BigInt(
      (((done.parts as Json | undefined)?.money as Json | undefined)?.amountMinor as string) ?? '0',
    );
    if (money > 0n) this.refundable.push({ checkoutId, moneyMinor: money });
    return 'ok';
  }

  /** A household pays its property fee; points earns on PaymentSucceeded (1 point per yuan). */
  private async propertyFee(): Promise<'ok'> {
    const { c, h } = this.where();
    // the head of the household or a family member pays (a member's points go to the household)
    const payer = this.random.pick([h.residentId, ...h.members]);
    await this.checkout(c, {
      scenario: 1,
      total: { currency: 'CNY', amountMinor: String(this.random.int(200, 800) * 100) },
      userId: payer,
      payerRef: payer,
      description: 'property fee',
    });
    if (payer !== h.residentId) this.ledger.memberFees += 1;
    return 'ok';
  }

  /** An EV charge paid with money, points and a coupon claimed for it. */
  private async charging(): Promise<'ok'> {
    const { op, c, h } = this.where();
    const tenancy = { operatorId: op.operatorId };
    const coupon = await this.claim(op.chargingCampaignId, tenancy, h.residentId);
    const balance = await this.api.ok(`${PTS}GetBalance`, { tenancy, holderId: h.residentId });
    const available = BigInt((balance.available as string | undefined) ?? '0');
    const points =
      available < 200n ? 0n : BigInt(Math.min(Number(available) - 100, this.random.int(200, 1_000)));
    return this.checkout(c, {
      scenario: 3,
      total: { currency: 'CNY', amountMinor: String(this.random.int(30, 90) * 100) },
      userId: h.residentId,
      payerRef: h.residentId,
      couponId: idOf(coupon, 'coupon'),
      points: String(points),
      description: 'EV charging',
    });
  }

  /** Claims a coupon; a failure that is not a clear refusal may have given one (counted as unsure). */
  private async claim(campaignId: string, tenancy: Json, userId: string): Promise<Json> {
    add(this.ledger.claimsAsked, campaignId);
    try {
      const coupon = await this.api.ok(`${MKT}ClaimCoupon`, {
        requestId: rid(),
        tenancy,
        campaignId,
        userId,
      });
      add(this.ledger.claims, campaignId);
      return coupon;
    } catch (err) {
      if (err instanceof RpcError && CLEAR_REFUSALS.has(err.code)) add(this.ledger.claimsRefused, campaignId);
      throw err;
    }
  }

  /** A resident tries the flash sale: a coupon, or sold out (an answer, not an error). */
  private async flashSaleClaim(): Promise<'ok' | 'refused'> {
    const { op, h } = this.where();
    try {
      await this.claim(op.flashCampaignId, { operatorId: op.operatorId }, h.residentId);
    } catch (err) {
      if (err instanceof RpcError && err.code === status.RESOURCE_EXHAUSTED) return 'refused';
      throw err;
    }
    return 'ok';
  }

  /** One yuan of a completed checkout's money back (a partial refund). */
  private async refund(): Promise<'ok'> {
    const i = this.random.int(0, this.refundable.length - 1);
    const [r] = this.refundable.splice(i, 1);
    await this.api.ok(`${PAY}RefundCheckout`, {
      requestId: rid(),
      checkoutId: r!.checkoutId,
      amount: { currency: 'CNY', amountMinor: String(r!.moneyMinor < 100n ? r!.moneyMinor : 100n) },
      reason: 'simulated dispute',
    });
    this.ledger.refundsAccepted += 1;
    return 'ok';
  }

  /**
   * A car parks 20 minutes to 3 hours: the lot's cameras read its plate over MQTT (PLATE_READ on
   * their `events` channel); at the exit iot bills it and the gate opens once it is paid.
   */
  private async parking(): Promise<'ok'> {
    const { c } = this.where();
    const tenancy = { operatorId: c.world.operatorId, projectId: c.world.projectId };
    // unique among this run's cars (an entry read of a plate already inside is the same car)
    this.plate += 1;
    const plate = `粤B${this.random.digits(1)}${String(this.plate % 100_000).padStart(5, '0')}`;
    const parkedMs = this.random.int(20, 180) * 60_000;
    await c.entryCamera.read(plate, { at: new Date(Date.now() - parkedMs) });
    // the exit read must come after the entry was applied (the two cameras are two devices)
    const entered = await until(`the entry of ${plate} applied`, async () => {
      const page = await this.api.ok(`${PARK}ListParkingSessions`, {
        tenancy,
        lotId: c.lotId,
        page: { pageSize: 100, pageToken: '' },
      });
      return ((page.sessions ?? []) as Json[]).find((s) => s.plate === plate && s.state === PARKING_OPEN);
    });
    const sessionId = entered.sessionId as string;
    await c.exitCamera.read(plate, { at: new Date() });
    const closed = await until(`parking session ${sessionId} closed`, async () => {
      const s = (await this.api.ok(`${PARK}GetParkingSession`, { tenancy, sessionId })).session as Json;
      return s.state === PARKING_CLOSED && s.gateCommandId ? s : undefined;
    });
    const commandId = closed.gateCommandId as string;
    await until(`the gate opening for ${sessionId}`, async () =>
      c.gate.executions.some((e) => e.commandId === commandId) ? true : undefined,
    );
    bump(this.ledger.parkingClosed, c.world.projectId);
    const fee = minorOf(closed.fee as Json | undefined);
    if (closed.paymentId && fee > 0n)
      this.disputable.push({ orderId: closed.paymentId as string, paidMinor: fee });
    return 'ok';
  }

  /**
   * A resident joins a group buy of the community's merchant (one of the open ones not about to end, else
   * the merchant opens the next: popular and niche in turn) and pays the seat through the sandbox
   * channel. Full, ended or already joined are answers of the city ('refused'), as is a payment
   * that came after the seat was gone (marketing refunds it).
   */
  private async groupBuy(): Promise<'ok' | 'refused'> {
    const { c } = this.where();
    const now = Date.now();
    const joinable = (d: GroupDeal) =>
      !d.closed &&
      d.deadlineMs - now > GROUP_DEAL_LAST_JOIN_MS &&
      c.households.some((h) => !d.joiners.has(h.residentId));
    const open = c.deals.filter(joinable);
    let deal = open.length > 0 ? this.random.pick(open) : undefined;
    if (!deal) {
      const last = c.deals.at(-1);
      deal = await openGroupDeal(this.api, c, last?.kind === 'popular' ? 'niche' : 'popular');
    }
    const h = this.random.pick(c.households.filter((x) => !deal.joiners.has(x.residentId)));
    deal.joiners.add(h.residentId);
    bump(this.ledger.joinsAsked, deal.dealId);
    let participantId: string;
    const requestId = rid();
    try {
      // payment or identity not answering in time: marketing holds the seat and answers UNAVAILABLE
      // (or the call runs out of time); the same request again answers the same seat
      const joined = await until(`the join of ${deal.dealId} answered`, async () => {
        try {
          return await this.api.ok(`${MKT}JoinGroupDeal`, {
            requestId,
            tenancy: { operatorId: c.world.operatorId, projectId: c.world.projectId },
            dealId: deal.dealId,
            userId: h.residentId,
          });
        } catch (err) {
          if (err instanceof RpcError && RETRY_SAME_REQUEST.has(err.code)) return undefined;
          throw err;
        }
      });
      participantId = (joined.participant as Json).participantId as string;
    } catch (err) {
      if (err instanceof RpcError && CLEAR_REFUSALS.has(err.code)) {
        bump(this.ledger.joinsRefused, deal.dealId);
        if (err.code === status.FAILED_PRECONDITION) {
          if (/GROUP_DEAL_(FULL|ENDED)/.test(err.details)) deal.closed = true;
          return 'refused';
        }
      }
      throw err;
    }
    const seats = this.ledger.seats.get(deal.dealId) ?? new Set<string>();
    this.ledger.seats.set(deal.dealId, seats.add(participantId));
    const seat = await until(`the seat ${participantId} paid`, async () => {
      const got = await this.api.ok(`${MKT}GetGroupDeal`, { tenancy: deal.tenancy, dealId: deal.dealId });
      const p = ((got.participants ?? []) as Json[]).find((x) => x.participantId === participantId);
      return p && p.status !== SEAT.PENDING ? p : undefined;
    });
    if (seat.status === SEAT.PAID) return 'ok';
    if (seat.status === SEAT.REFUNDED || seat.status === SEAT.RELEASED) return 'refused';
    throw new Error(`seat ${participantId} ended ${String(seat.status)}`);
  }

  /**
   * A driver disputes a paid parking stay (its escrow order, held until auto-confirmation); the
   * community's staff resolve it: release to the merchant, refund all (to the payer or their
   * wallet), or refund part and release the rest. Ok once the order is as the resolution says.
   */
  private async dispute(): Promise<'ok'> {
    const [d] = this.disputable.splice(this.random.int(0, this.disputable.length - 1), 1);
    const orderId = d!.orderId;
    const order = async () => (await this.api.ok(`${SETTLE}GetEscrowOrder`, { orderId })).order as Json;
    // settlement escrows the payment from payment's PaymentSucceeded, asynchronously
    await until(`escrow order ${orderId}`, async () => {
      const r = await this.api.call(`${SETTLE}GetEscrowOrder`, { orderId });
      if (r.code === status.NOT_FOUND) return undefined;
      if (r.code !== status.OK || !r.body) throw new RpcError(`${SETTLE}GetEscrowOrder`, r.code, r.details);
      return r.body.order as Json;
    });
    await this.api.ok(`${SETTLE}OpenDispute`, {
      requestId: rid(),
      orderId,
      reason: 'charged for a longer stay than the car parked',
    });
    const resolution = this.random.pick(['RELEASE', 'REFUND', 'PARTIAL'] as const);
    const held = minorOf((await order()).held as Json | undefined);
    const partial = held > 100n ? 100n * BigInt(this.random.int(1, Number((held - 1n) / 100n))) : 0n;
    const kind = resolution === 'PARTIAL' && partial === 0n ? 'RELEASE' : resolution;
    const refunded = kind === 'RELEASE' ? 0n : kind === 'REFUND' ? held : partial;
    await this.api.ok(`${SETTLE}ResolveDispute`, {
      requestId: rid(),
      orderId,
      resolution: RESOLUTION[kind],
      refundAmount: kind === 'PARTIAL' ? { currency: 'CNY', amountMinor: String(partial) } : undefined,
      note: `staff: ${kind.toLowerCase()} after checking the gate camera`,
      refundDestination: this.random.next() < 0.5 ? DESTINATION.ORIGINAL : DESTINATION.WALLET,
    });
    // a refund through the channel completes when payment's RefundSucceeded reaches settlement
    const expected: ResolvedDispute = {
      orderId,
      resolution: kind,
      status: kind === 'REFUND' ? ESCROW.REFUNDED : ESCROW.COMPLETED,
      refundedMinor: refunded,
    };
    await until(`the dispute of ${orderId} resolved (${kind})`, async () => {
      const o = await order();
      return disputeSettled(o, expected) ? o : undefined;
    });
    this.ledger.disputes.push(expected);
    return 'ok';
  }

  /** A resident opens the building's entrance with the grant staff issued. */
  private async door(): Promise<'ok'> {
    const { c, h } = this.where();
    // a family member opens with the household's grant (identity's shared privileges)
    const who = this.random.pick([h.residentId, ...h.members]);
    await this.api.ok(`${ACCESS}OpenDoor`, {
      requestId: rid(),
      tenancy: { operatorId: c.world.operatorId, projectId: c.world.projectId },
      deviceId: c.door.device.deviceId,
      residentId: who,
    });
    if (who !== h.residentId) this.ledger.memberDoors += 1;
    return 'ok';
  }

  /** A resident gives the courier a one-time code; the courier enters, then leaves, with it. */
  private async courier(): Promise<'ok'> {
    const { c, h } = this.where();
    const tenancy = { operatorId: c.world.operatorId, projectId: c.world.projectId };
    const issued = await this.api.ok(`${ACCESS}IssueCourierCode`, {
      requestId: rid(),
      tenancy,
      courierId: c.world.courierId,
      unitId: h.unitId,
      residentId: h.residentId,
      ttlSeconds: 600,
    });
    for (let i = 0; i < 2; i++)
      await this.api.ok(`${ACCESS}UseCourierCode`, {
        requestId: rid(),
        tenancy,
        deviceId: c.door.device.deviceId,
        code: issued.code as string,
      });
    return 'ok';
  }

  /** A sensor reports over MQTT (QoS 1, acknowledged by the broker); now and then there is smoke. */
  private async telemetry(): Promise<'ok'> {
    const sensors = this.city.operators.flatMap((o) =>
      o.communities.flatMap((c) => c.sensors.map((s) => ({ ...s, c }))),
    );
    if (sensors.length === 0) return 'ok';
    const s = this.random.pick(sensors);
    if (s.kind === 'smoke') {
      const smoke = this.random.next() < SMOKE_SHARE;
      const deviceId = s.device.deviceId;
      const at = new Date();
      if (smoke) bump(this.ledger.smokeAsked, deviceId);
      await s.device.telemetry({ smoke_ppm: smoke ? SMOKE_PPM : this.random.int(2, 30) }, { ts: at });
      if (smoke) {
        bump(this.ledger.smokeAcked, deviceId);
        this.ledger.alarmsRaised += 1;
        const tenancy = { operatorId: s.c.world.operatorId, projectId: s.c.world.projectId };
        this.smokeReadings.push({ deviceId, tenancy, atMs: at.getTime() });
      }
    } else {
      await s.device.telemetry({ temperature_c: this.random.int(180, 280) / 10 });
    }
    this.ledger.telemetryAcked += 1;
    return 'ok';
  }

  /**
   * Staff acknowledge the alarm of the oldest smoke reading not yet seen to: once iot raised (or
   * counted) it, AcknowledgeAlarm; an alarm the next clean reading already cleared stays cleared,
   * acknowledged. The alarm must be acknowledged in iot's answer.
   */
  private async acknowledgeAlarm(): Promise<'ok'> {
    const r = this.smokeReadings.shift()!;
    const alarm = await until(`the smoke alarm of ${r.deviceId}`, async () => {
      const page = await this.api.ok(`${IOT}ListAlarms`, {
        tenancy: r.tenancy,
        deviceId: r.deviceId,
        openOnly: false,
        page: { pageSize: 50, pageToken: '' },
      });
      return alarmOfReading((page.alarms ?? []) as Json[], r.atMs);
    });
    const alarmId = alarm.alarmId as string;
    const acked = (await this.api.ok(`${IOT}AcknowledgeAlarm`, { requestId: rid(), alarmId })).alarm as Json;
    if (acked.acknowledged !== true || (acked.status !== ALARM.ACKED && acked.status !== ALARM.CLEARED))
      throw new Error(`alarm ${alarmId} not acknowledged: status ${String(acked.status)}`);
    this.ledger.alarmsAcknowledged.set(alarmId, { alarmId, deviceId: r.deviceId, tenancy: r.tenancy });
    return 'ok';
  }

  /** The agency pulls the next rows of its grant (payments, masked), from where it stopped. */
  private async feed(): Promise<'ok' | 'refused'> {
    const { grantId, tokens } = this.city.agency;
    const reply = await this.api.ok(
      `${DATA}PullFeed`,
      { grantId, datasetId: 'payment.payments', cursor: this.feedCursor, limit: '500' },
      tokens,
    );
    const messages = (reply.messages ?? []) as Json[];
    const manifest = messages.find((m) => m.manifest)?.manifest as Json | undefined;
    if (!manifest) throw new Error('the pull ended without a manifest');
    if (typeof manifest.nextCursor === 'string' && manifest.nextCursor) this.feedCursor = manifest.nextCursor;
    this.ledger.feedRows += BigInt((manifest.rows as string | undefined) ?? '0');
    return 'ok';
  }
}

const idOf = (body: Json, key: string): string => (body[key] as Json)[`${key}Id`] as string;

/** Whether an escrow order is as a resolved dispute leaves it (status, refunded, nothing pending). */
export function disputeSettled(
  order: Json,
  expected: Omit<ResolvedDispute, 'orderId' | 'resolution'>,
): boolean {
  return (
    order.status === expected.status &&
    minorOf(order.refunded as Json | undefined) === expected.refundedMinor &&
    minorOf(order.refundPending as Json | undefined) === 0n &&
    minorOf(order.held as Json | undefined) === 0n
  );
}
