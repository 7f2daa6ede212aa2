import { toTimestamp } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import type { PromiseClient } from '@citybase/platform/testing';
import { CommandServiceService, CommandState } from '@citybase/contracts/citybase/iot/v1/commands';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import {
  ParkingServiceService,
  ParkingSessionState,
  PlateDirection,
} from '@citybase/contracts/citybase/iot/v1/parking';
import { ParkingLotCreated } from '@citybase/contracts/citybase/iot/v1/events';
import { Actuator } from '@citybase/device-sim';
import { errorCode, grpcError, IotHarness, startIotHarness, waitFor } from './iot-harness';

const A = 'op-park-a';
const P = 'proj-park-1';
const tenancy = { operatorId: A, projectId: P, merchantId: 'm-park' };

// Payment is not started here (the exit's CreatePayment call stays DUE): what is shown is that a
// fee keeps the gate closed and a free stay or a pass opens it at once. Paid exits end to end
// (exit > pay > gate opens) with payment and the sandbox channel: tools/e2e/test/iot-parking-flow.int-spec.ts.
describe('iot: parking lots, plate reads and the exit gate (in-process service, project Mosquitto)', () => {
  let h: IotHarness;
  let parking: PromiseClient<typeof ParkingServiceService>;
  let commands: PromiseClient<typeof CommandServiceService>;
  let lotId: string;
  let entryCam: string;
  let exitCam: string;
  let gate: Actuator;

  beforeAll(async () => {
    h = await startIotHarness('parking', {
      PAYMENT_GRPC_URL: '127.0.0.1:1',
      IOT_PAYMENT_JOB_INTERVAL_MS: '60000',
    });
    const registry = h.clientOf({ operators: [A] });
    parking = h.client(ParkingServiceService, () =>
      h.metadata({ operators: [A] }, ['iot:configure', 'iot:write', 'iot:read']),
    );
    commands = h.client(CommandServiceService, () => h.metadata({ operators: [A] }, ['iot:read']));
    entryCam = (await h.register(registry, A, P, DeviceKind.DEVICE_KIND_PARKING_CAMERA)).deviceId;
    exitCam = (await h.register(registry, A, P, DeviceKind.DEVICE_KIND_PARKING_CAMERA)).deviceId;
    const g = await h.register(registry, A, P, DeviceKind.DEVICE_KIND_PARKING_GATE);
    const sim = h.device(g.credentials);
    gate = new Actuator(sim);
    await sim.connect();
    const lotRequest = {
      requestId: uniqueName('lot'),
      tenancy,
      name: 'North lot',
      capacity: 2,
      entryCameraId: entryCam,
      exitCameraId: exitCam,
      exitGateId: g.deviceId,
      tariff: {
        freeMinutes: 15,
        hourlyRate: { currency: 'CNY', amountMinor: 500n },
        dailyCap: { currency: 'CNY', amountMinor: 3_000n },
      },
    };
    const { lot } = await parking.createLot(lotRequest);
    lotId = lot!.lotId;
    // the same request again: the same lot, nothing written twice (checked on the outbox below)
    expect((await parking.createLot(lotRequest)).lot!.lotId).toBe(lotId);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const read = (plate: string, direction: PlateDirection, at: Date) =>
    parking.recordPlateRead({
      requestId: uniqueName('read'),
      tenancy,
      cameraId: direction === PlateDirection.PLATE_DIRECTION_ENTRY ? entryCam : exitCam,
      plate,
      direction,
      seenAt: toTimestamp(at),
    });
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

  it('a created lot leaves ParkingLotCreated with its capacity through the outbox, once for a repeated request', async () => {
    const { rows } = await h.pg.query<{ payload: Buffer; partition_key: string }>(
      `SELECT payload, partition_key FROM outbox WHERE event_type = 'citybase.iot.v1.ParkingLotCreated'`,
    );
    const ours = rows.filter((r) => r.partition_key === lotId);
    expect(ours).toHaveLength(1);
    const e = ParkingLotCreated.decode(ours[0]!.payload);
    expect(e.lot).toMatchObject({ lotId, capacity: 2, tenancy: { operatorId: A, projectId: P } });
    expect(e.occurredAt).toBeDefined();
  });

  it('a stay within the free minutes opens the exit gate at once; occupancy follows', async () => {
    await read('粤B10001', PlateDirection.PLATE_DIRECTION_ENTRY, minutesAgo(10));
    expect((await parking.getLot({ tenancy, lotId })).lot!.occupied).toBe(1);
    const { session } = await read('粤B10001', PlateDirection.PLATE_DIRECTION_EXIT, new Date());
    expect(session).toMatchObject({
      state: ParkingSessionState.PARKING_SESSION_STATE_CLOSED,
      fee: { currency: 'CNY', amountMinor: 0n },
    });
    await waitFor('gate opened', async () => {
      const { command } = await commands.getCommand({ tenancy, commandId: session!.gateCommandId });
      return command!.state === CommandState.COMMAND_STATE_SUCCEEDED ? true : undefined;
    });
    expect(gate.executions.map((e) => e.commandId)).toContain(session!.gateCommandId);
    expect((await parking.getLot({ tenancy, lotId })).lot!.occupied).toBe(0);
  });

  it('a pass holder leaves at once after hours inside', async () => {
    await parking.issuePass({
      requestId: uniqueName('pass'),
      tenancy,
      lotId,
      plate: '粤B20002',
      residentId: 'res-1',
      validFrom: toTimestamp(minutesAgo(60 * 24)),
      validUntil: toTimestamp(new Date(Date.now() + 29 * 86_400_000)),
    });
    await read('粤B20002', PlateDirection.PLATE_DIRECTION_ENTRY, minutesAgo(300));
    const { session } = await read('粤B20002', PlateDirection.PLATE_DIRECTION_EXIT, new Date());
    expect(session).toMatchObject({
      state: ParkingSessionState.PARKING_SESSION_STATE_CLOSED,
      passApplied: true,
    });
    expect(session!.gateCommandId).not.toBe('');
  });

  it('an unpaid exit keeps the gate closed: AWAITING_PAYMENT with its fee, no gate command, one payment asked', async () => {
    await read('粤B30003', PlateDirection.PLATE_DIRECTION_ENTRY, minutesAgo(90));
    const { session } = await read('粤B30003', PlateDirection.PLATE_DIRECTION_EXIT, new Date());
    expect(session).toMatchObject({
      state: ParkingSessionState.PARKING_SESSION_STATE_AWAITING_PAYMENT,
      fee: { currency: 'CNY', amountMinor: 1_000n },
      gateCommandId: '',
    });
    // the camera reads the plate again: same session, still one payment asked
    await read('粤B30003', PlateDirection.PLATE_DIRECTION_EXIT, new Date());
    const calls = await h.pg.query(
      `SELECT amount_minor::text AS a, purpose FROM billing_calls WHERE subject_id = $1`,
      [session!.sessionId],
    );
    expect(calls.rows).toEqual([{ a: '1000', purpose: 'PARKING' }]);
    const gateCommands = await h.pg.query(`SELECT 1 FROM commands WHERE reference = $1`, [
      `parking-session:${session!.sessionId}`,
    ]);
    expect(gateCommands.rowCount).toBe(0);
  });

  it('refuses an exit read for a plate that is not inside', async () => {
    expect(
      errorCode(await grpcError(read('粤B99999', PlateDirection.PLATE_DIRECTION_EXIT, new Date()))),
    ).toBe('PARKING_NO_SESSION');
  });
});
