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
const DATA = '/citybase.data.v1.DataService/';

const CHECKOUT_COMPLETED = 3;
const CHECKOUT_RELEASED = 4;
const PARKING_CLOSED = 3;
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
  refundsAccepted: number;
  feedRows: bigint;
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
  refundsAccepted: 0,
  feedRows: 0n,
});

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
const add = <K>(m: Map<K, bigint>, k: K) => m.set(k, (m.get(k) ?? 0n) + 1n);

/** The operations of a day of life against a built city (each one: 'ok', 'refused', or it throws). */
export class DayOfLife {
  readonly ledger = newLedger();
  private readonly refundable: Refundable[] = [];
  private feedCursor = '';
  private plate = 0;

  constructor(
    private readonly api: CityApi,
    private readonly city: City,
    private readonly random: Random,
  ) {}

  /** Whether `kind` can run now (a refund needs a completed checkout). */
  eligible = (kind: OpKind): boolean => kind !== 'refund' || this.refundable.length > 0;

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
      case 'refund':
        return this.refund();
      case 'door':
        return this.door();
      case 'courier':
        return this.courier();
      case 'telemetry':
        return this.telemetry();
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
  private propertyFee(): Promise<'ok'> {
    const { c, h } = this.where();
    return this.checkout(c, {
      scenario: 1,
      total: { currency: 'CNY', amountMinor: String(this.random.int(200, 800) * 100) },
      userId: h.residentId,
      payerRef: h.residentId,
      description: 'property fee',
    });
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

  /** A car parks 20 minutes to 3 hours; at the exit iot bills it and the gate opens once it is paid. */
  private async parking(): Promise<'ok'> {
    const { c } = this.where();
    const tenancy = {
      operatorId: c.world.operatorId,
      projectId: c.world.projectId,
      merchantId: c.world.merchantId,
    };
    this.plate += 1;
    const plate = `粤B${this.random.digits(4)}${String(this.plate % 10)}`;
    const parkedMs = this.random.int(20, 180) * 60_000;
    const read = async (cameraId: string, direction: number, at: Date) =>
      (
        await this.api.ok(`${PARK}RecordPlateRead`, {
          requestId: rid(),
          tenancy,
          cameraId,
          plate,
          direction,
          seenAt: { seconds: String(Math.floor(at.getTime() / 1000)), nanos: 0 },
        })
      ).session as Json;
    await read(c.entryCameraId, 1, new Date(Date.now() - parkedMs));
    const exit = await read(c.exitCameraId, 2, new Date());
    const sessionId = exit.sessionId as string;
    const closed = await until(`parking session ${sessionId} closed`, async () => {
      const s = (await this.api.ok(`${PARK}GetParkingSession`, { tenancy, sessionId })).session as Json;
      return s.state === PARKING_CLOSED && s.gateCommandId ? s : undefined;
    });
    const commandId = closed.gateCommandId as string;
    await until(`the gate opening for ${sessionId}`, async () =>
      c.gate.executions.some((e) => e.commandId === commandId) ? true : undefined,
    );
    bump(this.ledger.parkingClosed, c.world.projectId);
    return 'ok';
  }

  /** A resident opens the building's entrance with the grant staff issued. */
  private async door(): Promise<'ok'> {
    const { c, h } = this.where();
    await this.api.ok(`${ACCESS}OpenDoor`, {
      requestId: rid(),
      tenancy: { operatorId: c.world.operatorId, projectId: c.world.projectId },
      deviceId: c.door.device.deviceId,
      residentId: h.residentId,
    });
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
    const sensors = this.city.operators.flatMap((o) => o.communities.flatMap((c) => c.sensors));
    if (sensors.length === 0) return 'ok';
    const s = this.random.pick(sensors);
    if (s.kind === 'smoke') {
      const smoke = this.random.next() < 0.02;
      await s.device.telemetry({ smoke_ppm: smoke ? 900 : this.random.int(2, 30) });
      if (smoke) this.ledger.alarmsRaised += 1;
    } else {
      await s.device.telemetry({ temperature_c: this.random.int(180, 280) / 10 });
    }
    this.ledger.telemetryAcked += 1;
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
