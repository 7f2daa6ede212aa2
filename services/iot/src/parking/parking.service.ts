import { createHash, randomUUID } from 'crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
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
} from '@citybase/platform';
import { IotEvents } from '@citybase/contracts/events';
import type { PaymentOutcome } from '../billing/billing.domain';
import { BillingService } from '../billing/billing.service';
import { CommandsService } from '../commands/commands.service';
import type { IotConfig } from '../config';
import {
  CreateLotInput,
  decideExit,
  IssuePassInput,
  ListSessionsQuery,
  LotQuery,
  normalisePlate,
  PlateReadInput,
  SESSIONS_PAGE,
  SessionQuery,
  SetTariffInput,
} from './parking.domain';
import { DeviceEvent, DeviceEventRoutes } from '../ingest/device-events';
import { ParkingErrors } from './parking.errors';
import { lotToProto, sessionToProto } from './parking.render';
import {
  awaitPayment,
  changeOccupied,
  closeSession,
  findLot,
  findLotOfCamera,
  findPass,
  findSession,
  insertLot,
  insertPass,
  insertSession,
  insideSession,
  listSessions,
  lockLot,
  lockLotOfCamera,
  lockSession,
  LotRow,
  PassRow,
  passesOf,
  reopenSession,
  SessionRow,
  setSessionPayment,
  setTariff,
  tariffOf,
} from './parking.store';

/** What a plate read led to, for the work after the commit. */
interface ReadOutcome {
  session: SessionRow;
  gateCommandId?: string;
  billingCallId?: string;
}

/**
 * Parking (docs/iot.md "Parking"). A plate read at the entry camera opens a session; at the exit
 * camera the fee is computed from the lot's tariff and the plate's passes: free (or a pass) closes
 * the session and opens the gate at once; otherwise a payment intent is requested through payment
 * and the session waits, the gate closed, until payment's PaymentSucceeded closes it and opens the
 * gate. A failed or expired payment leaves the gate closed and the vehicle inside (the next exit
 * read asks again). Every change of a session happens under its lot's lock.
 */
/** The event type of a lot camera's plate read on its `events` channel. */
export const PLATE_READ = 'PLATE_READ';

@Injectable()
export class ParkingService implements OnModuleInit {
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
    this.billing.register('PARKING', {
      paymentCreated: (client, sessionId, paymentId) => setSessionPayment(client, sessionId, paymentId),
      paymentOutcome: (client, sessionId, outcome) => this.paymentOutcome(client, sessionId, outcome),
    });
    this.routes.register([PLATE_READ], (e) => this.cameraRead(e));
  }

  /**
   * A lot camera's plate read over MQTT (`events`, type PLATE_READ, data {plate}): an entry at the
   * lot's entry camera, an exit at its exit camera. Idempotent by (camera, message id): the read's
   * request id is derived from them, so a copy the broker sends again answers what the first did.
   */
  private async cameraRead(e: DeviceEvent): Promise<void> {
    const camera = e.device.deviceId;
    const lot = await findLotOfCamera(this.pool, camera);
    if (!lot) throw ParkingErrors.cameraUnknown(camera);
    await this.recordPlateRead(this.routes.claimsOf(e.device), {
      requestId: `mqtt:${camera}:${e.messageId}`,
      operatorId: e.device.operatorId,
      projectId: e.device.projectId,
      cameraId: camera,
      plate: normalisePlate(typeof e.data.plate === 'string' ? e.data.plate : undefined),
      direction: lot.entry_camera_id === camera ? 'ENTRY' : 'EXIT',
      seenAt: e.ts ?? new Date(),
    });
  }

  // ---- configuration ----

  async createLot(claims: CitybaseClaims, cmd: CreateLotInput): Promise<LotRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    await this.assertDevice('entry_camera_id', cmd.entryCameraId, 'parking_camera', cmd);
    await this.assertDevice('exit_camera_id', cmd.exitCameraId, 'parking_camera', cmd);
    await this.assertDevice('exit_gate_id', cmd.exitGateId, 'parking_gate', cmd);
    return this.mutations.run({
      method: 'ParkingService.CreateLot',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, resourceId }) => {
        let lot: LotRow;
        try {
          lot = await insertLot(client, {
            lot_id: resourceId,
            operator_id: cmd.operatorId,
            project_id: cmd.projectId,
            merchant_id: cmd.merchantId,
            name: cmd.name,
            capacity: cmd.capacity,
            entry_camera_id: cmd.entryCameraId,
            exit_camera_id: cmd.exitCameraId,
            exit_gate_id: cmd.exitGateId,
            currency: cmd.tariff.currency,
            free_minutes: cmd.tariff.freeMinutes,
            hourly_rate_minor: cmd.tariff.hourlyRateMinor,
            daily_cap_minor: cmd.tariff.dailyCapMinor,
          });
        } catch (err) {
          if ((err as { code?: string }).code === '23505') throw ParkingErrors.cameraInUse(cmd.entryCameraId);
          throw err;
        }
        await this.outbox.enqueue(
          client,
          IotEvents.ParkingLotCreated,
          { lot: lotToProto(lot), occurredAt: toTimestamp(lot.created_at) },
          { key: lot.lot_id, subject: lot.lot_id, tenancy: tenancyOf(lot) },
        );
        return lot;
      },
      replay: async ({ client, resourceId }) => (await findLot(client, resourceId))!,
    });
  }

  setTariff(claims: CitybaseClaims, cmd: SetTariffInput): Promise<LotRow> {
    return this.mutations.run({
      method: 'ParkingService.SetParkingTariff',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.lotId,
      target: this.lotTarget(cmd),
      execute: ({ client }) => setTariff(client, cmd.lotId, cmd.tariff),
      replay: async ({ client }) => (await findLot(client, cmd.lotId))!,
    });
  }

  async getLot(claims: CitybaseClaims, q: LotQuery): Promise<LotRow> {
    const lot = await findLot(this.pool, q.lotId);
    if (!lot || lot.operator_id !== q.operatorId || !inTenancy(claims, tenancyOf(lot)))
      throw ParkingErrors.lotNotFound(q.lotId);
    return lot;
  }

  issuePass(claims: CitybaseClaims, cmd: IssuePassInput): Promise<PassRow> {
    return this.mutations.run({
      method: 'ParkingService.IssuePass',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: this.lotTarget(cmd),
      execute: ({ client, resourceId }) =>
        insertPass(client, {
          pass_id: resourceId,
          lot_id: cmd.lotId,
          plate: cmd.plate,
          resident_id: cmd.residentId,
          valid_from: cmd.validFrom,
          valid_until: cmd.validUntil,
        }),
      replay: async ({ client, resourceId }) => (await findPass(client, resourceId))!,
    });
  }

  // ---- plate reads ----

  async recordPlateRead(claims: CitybaseClaims, cmd: PlateReadInput): Promise<SessionRow> {
    const outcome = await this.mutations.run<PlateReadInput, ReadOutcome, LotRow>({
      method: 'ParkingService.RecordPlateRead',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: async (client) => {
          const lot = await lockLotOfCamera(client, cmd.cameraId);
          return lot?.operator_id === cmd.operatorId && lot.project_id === cmd.projectId ? lot : undefined;
        },
        tenancy: tenancyOf,
        notFound: () => ParkingErrors.cameraUnknown(cmd.cameraId),
      },
      execute: async (ctx) => {
        const lot = ctx.target;
        const expected = cmd.direction === 'ENTRY' ? lot.entry_camera_id : lot.exit_camera_id;
        if (expected !== cmd.cameraId)
          throw ParkingErrors.device(
            'direction',
            `camera ${cmd.cameraId} is not this lot's ${cmd.direction.toLowerCase()} camera`,
          );
        const result =
          cmd.direction === 'ENTRY'
            ? await this.entry(ctx.client, lot, cmd, ctx.resourceId)
            : await this.exit(ctx.client, lot, cmd, claims.sub);
        ctx.note({ lot_id: lot.lot_id, session_id: result.session.session_id, state: result.session.state });
        return result;
      },
      replay: async ({ client, resourceId }) => {
        // the session this read made or changed, as it is now
        const byId = await findSession(client, resourceId);
        if (byId) return { session: byId };
        const { rows } = await client.query<{ session_id: string }>(
          `SELECT session_id FROM parking_sessions WHERE lot_id = (SELECT lot_id FROM parking_lots
             WHERE entry_camera_id = $1 OR exit_camera_id = $1) AND plate = $2 ORDER BY created_at DESC LIMIT 1`,
          [cmd.cameraId, cmd.plate],
        );
        return { session: (await findSession(client, rows[0]!.session_id))! };
      },
    });
    // after the commit: the gate told to open, or the payment asked for
    if (outcome.gateCommandId) await this.commands.publishById(outcome.gateCommandId);
    if (outcome.billingCallId) await this.billing.callNow(outcome.billingCallId);
    return (await findSession(this.pool, outcome.session.session_id))!;
  }

  private async entry(
    client: PoolClient,
    lot: LotRow,
    cmd: PlateReadInput,
    sessionId: string,
  ): Promise<ReadOutcome> {
    const inside = await insideSession(client, lot.lot_id, cmd.plate);
    if (inside) return { session: inside }; // the same vehicle read again
    if (lot.occupied >= lot.capacity) throw ParkingErrors.lotFull(lot.lot_id);
    const session = await insertSession(client, {
      session_id: sessionId,
      lot_id: lot.lot_id,
      operator_id: lot.operator_id,
      project_id: lot.project_id,
      merchant_id: lot.merchant_id,
      plate: cmd.plate,
      entered_at: cmd.seenAt,
      currency: lot.currency,
    });
    await changeOccupied(client, lot.lot_id, 1);
    await this.outbox.enqueue(
      client,
      IotEvents.ParkingSessionOpened,
      { session: sessionToProto(session), occurredAt: toTimestamp(cmd.seenAt) },
      { key: lot.lot_id, subject: session.session_id, tenancy: tenancyOf(lot) },
    );
    return { session };
  }

  private async exit(
    client: PoolClient,
    lot: LotRow,
    cmd: PlateReadInput,
    caller: string,
  ): Promise<ReadOutcome> {
    const inside = await insideSession(client, lot.lot_id, cmd.plate);
    if (!inside) throw ParkingErrors.noVehicleInside(cmd.plate);
    const exitAt = cmd.seenAt < inside.entered_at ? inside.entered_at : cmd.seenAt;
    const passes = await passesOf(client, lot.lot_id, cmd.plate, inside.entered_at);
    const d = decideExit(inside.state, tariffOf(lot), inside.entered_at, exitAt, passes);
    switch (d.kind) {
      case 'UNCHANGED':
        return { session: inside };
      case 'OPEN_GATE': {
        const { session, commandId } = await this.close(
          client,
          lot,
          inside,
          exitAt,
          d.fee.amountMinor,
          d.fee.passApplied,
          caller,
        );
        return { session, gateCommandId: commandId };
      }
      case 'REQUEST_PAYMENT': {
        const session = await awaitPayment(
          client,
          inside.session_id,
          exitAt,
          d.fee.amountMinor,
          d.fee.passApplied,
        );
        const callId = await this.billing.request(client, {
          purpose: 'PARKING',
          subjectId: session.session_id,
          attempt: session.payment_attempt,
          operatorId: lot.operator_id,
          projectId: lot.project_id,
          merchantId: lot.merchant_id,
          currency: lot.currency,
          amountMinor: d.fee.amountMinor,
          payerRef: plateRef(lot.project_id, session.plate),
          description: `parking ${lot.name} ${session.session_id}`,
          expiresInSeconds: this.config.IOT_PARKING_PAYMENT_TTL_SECONDS,
        });
        return { session, billingCallId: callId };
      }
    }
  }

  /** Closes a session: the exit gate told to open (GATE_OPEN, TTL 30 s), occupancy down, ParkingSessionClosed. */
  private async close(
    client: PoolClient,
    lot: LotRow,
    s: SessionRow,
    exitAt: Date,
    feeMinor: bigint,
    passApplied: boolean,
    caller: string,
  ): Promise<{ session: SessionRow; commandId: string }> {
    const command = await this.commands.queue(client, {
      commandId: randomUUID(),
      operatorId: lot.operator_id,
      projectId: lot.project_id,
      deviceId: lot.exit_gate_id,
      kind: 'GATE_OPEN',
      args: { plate: s.plate },
      reference: `parking-session:${s.session_id}`,
      ttlMs: 0,
      createdBy: caller,
    });
    const session = await closeSession(client, s.session_id, {
      exitAt,
      feeMinor,
      passApplied,
      gateCommandId: command.command_id,
    });
    await changeOccupied(client, lot.lot_id, -1);
    await this.outbox.enqueue(
      client,
      IotEvents.ParkingSessionClosed,
      { session: sessionToProto(session), occurredAt: toTimestamp(new Date()) },
      { key: lot.lot_id, subject: session.session_id, tenancy: tenancyOf(lot) },
    );
    this.logger.info(
      {
        lot_id: lot.lot_id,
        session_id: s.session_id,
        fee_minor: feeMinor.toString(),
        command_id: command.command_id,
      },
      'parking session closed, gate told to open',
    );
    return { session, commandId: command.command_id };
  }

  /** Payment's outcome of an exit (in the billing consumer's transaction). */
  private async paymentOutcome(
    client: PoolClient,
    sessionId: string,
    outcome: PaymentOutcome,
  ): Promise<void> {
    const found = await findSession(client, sessionId);
    if (!found) return;
    const lot = await lockLot(client, found.lot_id);
    const s = await lockSession(client, sessionId);
    if (!lot || !s || s.state !== 'AWAITING_PAYMENT') return;
    if (outcome === 'SUCCEEDED') {
      // the gate command is published by the commands job (QUEUED commands of a committed transaction)
      await this.close(
        client,
        lot,
        s,
        s.exit_requested_at ?? new Date(),
        s.fee_minor,
        s.pass_applied,
        'payment',
      );
    } else {
      await reopenSession(client, sessionId);
      this.logger.info({ session_id: sessionId, outcome }, 'parking payment not made: gate stays closed');
    }
  }

  // ---- reads ----

  async getSession(claims: CitybaseClaims, q: SessionQuery): Promise<SessionRow> {
    const s = await findSession(this.pool, q.sessionId);
    if (!s || s.operator_id !== q.operatorId || !inTenancy(claims, tenancyOf(s)))
      throw ParkingErrors.sessionNotFound(q.sessionId);
    return s;
  }

  async listSessions(
    claims: CitybaseClaims,
    q: ListSessionsQuery,
  ): Promise<{ items: SessionRow[]; nextPageToken: string }> {
    await this.getLot(claims, q);
    const rows = await listSessions(this.pool, q);
    const { rows: items, nextPageToken } = pageOf(rows, q.size, SESSIONS_PAGE, (r) => [
      r.cursor_at,
      r.session_id,
    ]);
    return { items, nextPageToken };
  }

  private lotTarget(q: LotQuery) {
    return {
      load: async (client: PoolClient) => {
        const lot = await lockLot(client, q.lotId);
        return lot?.operator_id === q.operatorId ? lot : undefined;
      },
      tenancy: tenancyOf,
      notFound: () => ParkingErrors.lotNotFound(q.lotId),
    };
  }

  private async assertDevice(
    field: string,
    deviceId: string,
    kind: string,
    t: { operatorId: string; projectId: string },
  ): Promise<void> {
    const d = await this.commands.device(this.pool, deviceId);
    if (!d || d.operator_id !== t.operatorId || d.project_id !== t.projectId)
      throw ParkingErrors.device(field, 'must be a device of this project');
    if (d.kind !== kind) throw ParkingErrors.device(field, `must be a ${kind}`);
  }
}

const tenancyOf = (r: { operator_id: string; project_id: string; merchant_id: string }) => ({
  operatorId: r.operator_id,
  projectId: r.project_id,
  merchantId: r.merchant_id,
});

/** The payer of a parking payment: a token of the plate, never the plate in clear. */
const plateRef = (projectId: string, plate: string): string =>
  `plate:${createHash('sha256').update(`${projectId}:${plate}`).digest('hex').slice(0, 24)}`;
