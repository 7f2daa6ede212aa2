import { randomUUID } from 'crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  inTenancy,
  Logger,
  LOGGER,
  Mutations,
  OUTBOX,
  Outbox,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IotEvents } from '@citybase/contracts/events';
import type { CheckoutChoice } from '../billing/billing.domain';
import { billingCallId } from '../billing/billing.domain';
import { BillingService } from '../billing/billing.service';
import { CommandsService } from '../commands/commands.service';
import type { IotConfig } from '../config';
import {
  CHARGING_PAGE,
  chargingBill,
  ChargerQuery,
  CHARGER_MESSAGE_TYPES,
  ChargingSessionQuery,
  ConfigureChargerInput,
  decideEvent,
  decidePay,
  decideStart,
  fromChargerMessage,
  ListChargingQuery,
  PayChargingInput,
  ReportedEvent,
} from './charging.domain';
import { DeviceEvent, DeviceEventRoutes } from '../ingest/device-events';
import { ChargingErrors } from './charging.errors';
import { chargingSessionToProto } from './charging.render';
import {
  advanceSession,
  ChargerRow,
  ChargingSessionRow,
  chooseCheckout,
  choiceOf,
  findCharger,
  findChargingSession,
  insertChargingSession,
  insertReading,
  listChargingSessions,
  lockCharger,
  lockChargingSession,
  paymentAsked,
  raiseChargerFloor,
  readingsOf,
  sessionOfTransaction,
  setBill,
  setChargingCheckout,
  setChargingPayment,
  setPaymentState,
  tariffOf,
  upsertCharger,
} from './charging.store';

/** What became of one charger event (docs/iot.md "EV charging"). */
type Outcome = 'APPLIED' | 'DUPLICATE' | 'GAP' | 'REFUSED';
interface ChargerEventAnswer {
  transactionId: string;
  seq: number;
  outcome: Outcome;
  /** REFUSED: e.g. METER_NOT_MONOTONIC; GAP: the expected seq. */
  detail: string;
}

/**
 * EV charging (docs/iot.md "EV charging"). A charger's events are applied one at a time, in
 * sequence, each in its own transaction under the charger's lock, through the decisions of
 * charging.domain.ts. The STOP that ends a session computes its one bill and records its one
 * payment (billing call id derived from the session), so a retried or replayed STOP is a duplicate
 * and can never bill again.
 */
@Injectable()
export class ChargingService implements OnModuleInit {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    private readonly mutations: Mutations,
    private readonly commands: CommandsService,
    private readonly billing: BillingService,
    private readonly routes: DeviceEventRoutes,
  ) {}

  onModuleInit(): void {
    this.routes.register(Object.keys(CHARGER_MESSAGE_TYPES), (e) => this.chargerMessage(e));
    this.billing.register('CHARGING', {
      paymentCreated: (client, sessionId, paymentId) => setChargingPayment(client, sessionId, paymentId),
      checkoutCreated: (client, sessionId, checkoutId) => setChargingCheckout(client, sessionId, checkoutId),
      paymentOutcome: async (client, sessionId, outcome, paymentId) => {
        // one payment of a session is open at a time (decidePay), so this is the session's latest
        await setPaymentState(client, sessionId, outcome === 'SUCCEEDED' ? 'PAID' : 'UNPAID', paymentId);
        this.logger.info({ session_id: sessionId, outcome, payment_id: paymentId }, 'charging payment ended');
      },
    });
  }

  async configureCharger(claims: CitybaseClaims, cmd: ConfigureChargerInput): Promise<ChargerRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const d = await this.commands.device(this.pool, cmd.deviceId);
    if (!d || d.operator_id !== cmd.operatorId || d.project_id !== cmd.projectId || d.kind !== 'ev_charger')
      throw ChargingErrors.notACharger(cmd.deviceId);
    return this.mutations.run({
      method: 'ChargingService.ConfigureCharger',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.deviceId,
      execute: ({ client }) =>
        upsertCharger(client, {
          deviceId: cmd.deviceId,
          operatorId: cmd.operatorId,
          projectId: cmd.projectId,
          merchantId: cmd.merchantId,
          tariff: cmd.tariff,
        }),
      replay: async ({ client }) => (await findCharger(client, cmd.deviceId))!,
    });
  }

  async getCharger(claims: CitybaseClaims, q: ChargerQuery): Promise<ChargerRow> {
    const c = await findCharger(this.pool, q.deviceId);
    if (!c || c.operator_id !== q.operatorId || !inTenancy(claims, tenancyOf(c)))
      throw ChargingErrors.chargerNotFound(q.deviceId);
    return c;
  }

  /**
   * A charger's session event over MQTT (docs/iot.md "Device events"), applied like a reported one.
   * An event whose predecessor has not come yet (GAP) waits, acknowledged, in
   * charger_event_backlog; every event applied lets the backlog go on in sequence. A copy of a
   * message (same device, message id: the same transaction and seq) is a DUPLICATE.
   */
  private async chargerMessage(e: DeviceEvent): Promise<void> {
    const deviceId = e.device.deviceId;
    const charger = await findCharger(this.pool, deviceId);
    if (!charger || charger.project_id !== e.device.projectId) throw ChargingErrors.chargerNotFound(deviceId);
    const event = fromChargerMessage(e.type, e.data, e.ts ?? new Date());
    const calls: string[] = [];
    const answer = await withTransaction(this.pool, async (client) => {
      const a = await this.applyEvent(client, deviceId, event, calls);
      if (a.outcome === 'GAP')
        await client.query(
          `INSERT INTO charger_event_backlog (device_id, transaction_id, seq, type, register_wh, at, user_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [
            deviceId,
            event.transactionId,
            event.seq,
            event.type,
            event.registerWh?.toString() ?? null,
            event.at,
            event.userId,
          ],
        );
      return a;
    });
    if (answer.outcome === 'GAP')
      this.logger.info(
        { device_id: deviceId, transaction_id: event.transactionId, seq: event.seq, detail: answer.detail },
        'charger event waits for an earlier one',
      );
    else await this.drainBacklog(deviceId, calls);
    for (const callId of calls) await this.billing.callNow(callId);
    // consumed but refused by the rules (e.g. METER_NOT_MONOTONIC, SESSION_ENDED): counted as such
    if (answer.outcome === 'REFUSED')
      throw DomainError.precondition(answer.detail.split(':')[0] || 'CHARGER_EVENT_REFUSED', answer.detail);
  }

  /** Applies what waits in the charger's backlog, in sequence, until nothing more can go. */
  private async drainBacklog(deviceId: string, calls: string[]): Promise<void> {
    for (;;) {
      const { rows } = await this.pool.query<{
        transaction_id: string;
        seq: number;
        type: 'START' | 'METER' | 'STOP';
        register_wh: string | null;
        at: Date;
        user_id: string;
      }>(
        `SELECT transaction_id, seq, type, register_wh::text, at, user_id FROM charger_event_backlog
         WHERE device_id = $1 ORDER BY transaction_id, seq`,
        [deviceId],
      );
      let progressed = false;
      for (const r of rows) {
        const applied = await withTransaction(this.pool, async (client) => {
          const a = await this.applyEvent(
            client,
            deviceId,
            {
              transactionId: r.transaction_id,
              seq: r.seq,
              type: r.type,
              registerWh: r.register_wh === null ? undefined : BigInt(r.register_wh),
              at: r.at,
              userId: r.user_id,
            },
            calls,
          );
          if (a.outcome === 'GAP') return false;
          await client.query(
            'DELETE FROM charger_event_backlog WHERE device_id = $1 AND transaction_id = $2 AND seq = $3',
            [deviceId, r.transaction_id, r.seq],
          );
          return true;
        });
        progressed ||= applied;
      }
      if (!progressed) return;
    }
  }

  private async applyEvent(
    client: PoolClient,
    deviceId: string,
    e: ReportedEvent,
    calls: string[],
  ): Promise<ChargerEventAnswer> {
    const answer = (outcome: Outcome, detail = ''): ChargerEventAnswer => ({
      transactionId: e.transactionId,
      seq: e.seq,
      outcome,
      detail,
    });
    const charger = (await lockCharger(client, deviceId))!;
    const existing = await sessionOfTransaction(client, deviceId, e.transactionId);
    if (!existing) {
      const d = decideStart(e, charger.last_register_wh);
      if (d.kind === 'REFUSE') {
        // an event of a transaction whose START has not come yet: wait for it
        if (e.seq > 1) return answer('GAP', 'expected seq 1 (START)');
        return answer('REFUSED', `${d.code}: ${d.message}`);
      }
      if (d.kind !== 'APPLY') return answer('REFUSED', 'unexpected');
      const s = await insertChargingSession(client, {
        session_id: randomUUID(),
        device_id: deviceId,
        transaction_id: e.transactionId,
        operator_id: charger.operator_id,
        project_id: charger.project_id,
        merchant_id: charger.merchant_id,
        user_id: e.userId,
        currency: charger.currency,
        started_at: e.at,
        first_register_wh: d.firstRegisterWh,
        last_register_wh: d.lastRegisterWh,
      });
      if (d.reading) await insertReading(client, s.session_id, e.seq, d.reading);
      this.logger.info(
        { session_id: s.session_id, device_id: deviceId, note: d.note },
        'charging session started',
      );
      return answer('APPLIED', d.note ?? '');
    }
    const view = {
      state: existing.state,
      lastSeq: existing.last_seq,
      firstRegisterWh: existing.first_register_wh,
      lastRegisterWh: existing.last_register_wh,
      chargerFloorWh: charger.last_register_wh,
    };
    // the floor of a running session is what the charger had counted when it started
    if (existing.first_register_wh !== null && existing.first_register_wh < view.chargerFloorWh)
      view.chargerFloorWh = existing.first_register_wh;
    const d = decideEvent(view, e);
    switch (d.kind) {
      case 'DUPLICATE':
        return answer('DUPLICATE');
      case 'GAP':
        return answer('GAP', `expected seq ${d.expectedSeq}`);
      case 'REFUSE': {
        if (d.code === 'METER_NOT_MONOTONIC') {
          // consumed (the charger moves on), never used; a STOP below the start faults the session
          const s = await advanceSession(client, existing.session_id, {
            seq: e.seq,
            state: d.fault ? 'FAULTED' : existing.state,
            first: existing.first_register_wh,
            last: existing.last_register_wh,
            fault: d.fault ? d.message : undefined,
            stoppedAt: d.fault ? e.at : undefined,
          });
          if (d.fault) await this.closed(client, s);
        }
        this.logger.warn({ session_id: existing.session_id, seq: e.seq, code: d.code }, d.message);
        return answer('REFUSED', `${d.code}: ${d.message}`);
      }
      case 'APPLY': {
        if (d.reading) await insertReading(client, existing.session_id, e.seq, d.reading);
        let s = await advanceSession(client, existing.session_id, {
          seq: e.seq,
          state: d.state,
          first: d.firstRegisterWh,
          last: d.lastRegisterWh,
          stoppedAt: d.state === 'STOPPED' ? e.at : undefined,
        });
        if (d.bill) {
          const bill = chargingBill(tariffOf(charger), await readingsOf(client, s.session_id));
          s = await setBill(client, s.session_id, bill);
          if (s.last_register_wh !== null) await raiseChargerFloor(client, deviceId, s.last_register_wh);
          if (bill.totalMinor > 0n) {
            // the checkout the app chose while the session ran, else a plain payment
            const choice = s.payment_state === 'CHECKOUT_CHOSEN' ? choiceOf(s) : undefined;
            calls.push(await this.requestPayment(client, s, 1, choice));
          } else await setPaymentState(client, s.session_id, 'NONE');
          s = (await lockChargingSession(client, s.session_id))!;
          await this.closed(client, s);
        }
        return answer('APPLIED', d.note ?? '');
      }
    }
  }

  /**
   * Records the session's payment as billing call `attempt` (payment's request id
   * iot:charging:<session>:<attempt>): a plain CreatePayment, or CreateCheckout with the app's choice.
   */
  private async requestPayment(
    client: PoolClient,
    s: ChargingSessionRow,
    attempt: number,
    choice: CheckoutChoice | undefined,
  ): Promise<string> {
    const callId = await this.billing.request(client, {
      purpose: 'CHARGING',
      subjectId: s.session_id,
      operatorId: s.operator_id,
      projectId: s.project_id,
      merchantId: s.merchant_id,
      currency: s.currency,
      amountMinor: s.total_minor,
      payerRef: s.user_id,
      description: `EV charging ${s.energy_wh} Wh, session ${s.session_id}`,
      expiresInSeconds: this.config.IOT_CHARGING_PAYMENT_TTL_SECONDS,
      attempt,
      checkout: choice && { ...choice, userId: s.user_id },
    });
    await paymentAsked(client, s.session_id, attempt, choice);
    return callId;
  }

  /**
   * The app pays a session through payment's checkout (docs/iot.md "Charging paid with points and
   * coupons"): while it runs, the choice waits for the stop; once stopped and unpaid, the checkout
   * is asked now (billing call pay_attempt + 1). Idempotent by request id; one payment of a session
   * open at a time (decidePay). Another tenant's session answers NOT_FOUND, as GetChargingSession.
   */
  async paySession(
    claims: CitybaseClaims,
    cmd: PayChargingInput,
  ): Promise<{ session: ChargingSessionRow; payUrl: string }> {
    const s = await this.mutations.run<PayChargingInput, ChargingSessionRow, ChargingSessionRow>({
      method: 'ChargingService.PayChargingSession',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.sessionId,
      target: {
        load: async (client) => {
          const found = await findChargingSession(client, cmd.sessionId);
          if (!found || found.operator_id !== cmd.operatorId) return undefined;
          // the charger's lock first, as its events take it: a STOP and a pay never interleave
          await lockCharger(client, found.device_id);
          return lockChargingSession(client, cmd.sessionId);
        },
        tenancy: tenancyOf,
        notFound: () => ChargingErrors.sessionNotFound(cmd.sessionId),
      },
      execute: async ({ client, target, note }) => {
        const d = decidePay({
          state: target.state,
          paymentState: target.payment_state,
          totalMinor: target.total_minor,
          payAttempt: target.pay_attempt,
        });
        const choice: CheckoutChoice = {
          points: cmd.points,
          couponCode: cmd.couponCode,
          couponId: cmd.couponId,
          pointsHolderId: cmd.pointsHolderId,
        };
        switch (d.kind) {
          case 'REFUSE':
            throw DomainError.precondition(d.code, d.message);
          case 'CHOOSE':
            await chooseCheckout(client, target.session_id, choice);
            break;
          case 'CHECKOUT':
            await this.requestPayment(client, target, d.attempt, choice);
            break;
        }
        note({ session_id: target.session_id, decision: d.kind });
        return (await findChargingSession(client, cmd.sessionId))!;
      },
      replay: async ({ client }) => (await findChargingSession(client, cmd.sessionId))!,
    });
    // the session's latest checkout, if one is asked: made now if it is still due (a retry makes it
    // if the first attempt could not reach payment); payment's refusal answers this request and its
    // retries
    if (!s.checkout_choice || s.pay_attempt === 0) return { session: s, payUrl: '' };
    const callId = billingCallId('CHARGING', s.session_id, s.pay_attempt);
    await this.billing.callNow(callId);
    const call = await this.billing.call(callId);
    const now = (await findChargingSession(this.pool, s.session_id))!;
    if (call?.status === 'REFUSED') throw ChargingErrors.checkoutRefused(call.last_error);
    const payUrl = call && now.payment_state === 'OPEN' ? await this.billing.checkoutPayUrl(call) : '';
    return { session: now, payUrl };
  }

  private async closed(client: PoolClient, s: ChargingSessionRow): Promise<void> {
    await this.outbox.enqueue(
      client,
      IotEvents.ChargingSessionClosed,
      { session: chargingSessionToProto(s), occurredAt: toTimestamp(new Date()) },
      { key: s.device_id, subject: s.session_id, tenancy: tenancyOf(s) },
    );
    this.logger.info(
      {
        session_id: s.session_id,
        state: s.state,
        energy_wh: s.energy_wh.toString(),
        total_minor: s.total_minor.toString(),
      },
      'charging session closed',
    );
  }

  async getSession(claims: CitybaseClaims, q: ChargingSessionQuery): Promise<ChargingSessionRow> {
    const s = await findChargingSession(this.pool, q.sessionId);
    if (!s || s.operator_id !== q.operatorId || !inTenancy(claims, tenancyOf(s)))
      throw ChargingErrors.sessionNotFound(q.sessionId);
    return s;
  }

  async listSessions(
    claims: CitybaseClaims,
    q: ListChargingQuery,
  ): Promise<{ items: ChargingSessionRow[]; nextPageToken: string }> {
    await this.getCharger(claims, q);
    const rows = await listChargingSessions(this.pool, q);
    const { rows: items, nextPageToken } = pageOf(rows, q.size, CHARGING_PAGE, (r) => [
      r.cursor_at,
      r.session_id,
    ]);
    return { items, nextPageToken };
  }
}

const tenancyOf = (r: { operator_id: string; project_id: string; merchant_id: string }) => ({
  operatorId: r.operator_id,
  projectId: r.project_id,
  merchantId: r.merchant_id,
});
