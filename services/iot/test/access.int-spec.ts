import { Kafka, logLevel, Producer } from 'kafkajs';
import { toTimestamp } from '@citybase/platform';
import { publishEvent, testEndpoints, uniqueName } from '@citybase/platform/testing';
import { GrantStatus } from '@citybase/contracts/citybase/identity/v1/access';
import { HouseholdRole } from '@citybase/contracts/citybase/identity/v1/people';
import { AccessKind, AccessServiceService } from '@citybase/contracts/citybase/iot/v1/access';
import { CommandServiceService, CommandState } from '@citybase/contracts/citybase/iot/v1/commands';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { IdentityEvents } from '@citybase/contracts/events';
import type { EventType } from '@citybase/contracts/event-types';
import { Actuator } from '@citybase/device-sim';
import type { PromiseClient } from '@citybase/platform/testing';
import { errorCode, grpcError, IotHarness, startIotHarness, status, waitFor } from './iot-harness';

const A = 'op-acc-a';
const P = 'proj-acc-1';
const BUILDING = 'bld-acc-1';
const UNIT = 'unit-acc-1';
const tenancy = { operatorId: A, projectId: P, merchantId: '' };

describe("iot: doors and couriers from identity's grants (in-process service, Kafka, project Mosquitto)", () => {
  let h: IotHarness;
  let producer: Producer;
  let access: PromiseClient<typeof AccessServiceService>;
  let commands: PromiseClient<typeof CommandServiceService>;
  let unitDoor: string;
  let entrance: string;
  let unitDoorSim: Actuator;
  let entranceSim: Actuator;

  /** Publishes one of identity's events and waits until consumer iot.access applied it. */
  const identity = async <T>(type: EventType<T>, payload: T) => {
    const id = await publishEvent(
      producer,
      { service: 'identity', topicPrefix: h.topicPrefix },
      type,
      payload,
      {
        key: A,
        tenancy: { operatorId: A, projectId: P },
      },
    );
    await waitFor(
      `event ${id} applied`,
      async () =>
        (await h.pool.query(`SELECT 1 FROM inbox WHERE consumer = 'iot.access' AND event_id = $1`, [id]))
          .rowCount === 1
          ? true
          : undefined,
      60_000,
      50,
    );
  };

  const grant = (
    grantId: string,
    residentId: string,
    scope: { unitId?: string; buildingId?: string },
    s: GrantStatus,
  ) => ({
    grant: {
      grantId,
      operatorId: A,
      projectId: P,
      residentId,
      buildingId: scope.buildingId ?? '',
      unitId: scope.unitId ?? '',
      status: s,
      issuedByStaffId: 'staff-1',
      issuedAt: toTimestamp(new Date()),
      validUntil: undefined,
      revokedByStaffId: '',
      revokedAt: undefined,
    },
    occurredAt: toTimestamp(new Date()),
  });

  beforeAll(async () => {
    h = await startIotHarness('access', { IOT_COMMANDS_JOB_INTERVAL_MS: '200' });
    producer = new Kafka({
      clientId: uniqueName('fake-identity'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    h.onStop(() => producer.disconnect());
    const registry = h.clientOf({ operators: [A] });
    access = h.client(AccessServiceService, () =>
      h.metadata({ operators: [A] }, ['iot:access', 'iot:configure', 'iot:device', 'iot:read']),
    );
    commands = h.client(CommandServiceService, () => h.metadata({ operators: [A] }, ['iot:read']));
    const d1 = await h.register(registry, A, P, DeviceKind.DEVICE_KIND_DOOR_CONTROLLER);
    const d2 = await h.register(registry, A, P, DeviceKind.DEVICE_KIND_DOOR_CONTROLLER);
    unitDoor = d1.deviceId;
    entrance = d2.deviceId;
    const s1 = h.device(d1.credentials);
    const s2 = h.device(d2.credentials);
    unitDoorSim = new Actuator(s1);
    entranceSim = new Actuator(s2);
    await Promise.all([s1.connect(), s2.connect()]);
    await access.bindDoor({
      requestId: uniqueName('b'),
      tenancy,
      deviceId: unitDoor,
      buildingId: '',
      unitId: UNIT,
    });
    await access.bindDoor({
      requestId: uniqueName('b'),
      tenancy,
      deviceId: entrance,
      buildingId: BUILDING,
      unitId: '',
    });
    const at = toTimestamp(new Date());
    await identity(IdentityEvents.UnitCreated, {
      unitId: UNIT,
      buildingId: BUILDING,
      projectId: P,
      operatorId: A,
      name: '101',
      occurredAt: at,
    });
    await identity(IdentityEvents.HouseholdCreated, {
      householdId: 'hh-1',
      unitId: UNIT,
      projectId: P,
      operatorId: A,
      headResidentId: 'res-owner',
      occurredAt: at,
    });
    await identity(IdentityEvents.HouseholdMemberBound, {
      householdId: 'hh-1',
      residentId: 'res-child',
      projectId: P,
      operatorId: A,
      role: HouseholdRole.HOUSEHOLD_ROLE_MEMBER,
      relation: 'child',
      occurredAt: at,
    });
    await identity(IdentityEvents.CourierRegistered, {
      courierId: 'courier-1',
      projectId: P,
      operatorId: A,
      employer: 'SF',
      occurredAt: at,
    });
    await identity(
      IdentityEvents.GrantIssued,
      grant('grant-1', 'res-owner', { unitId: UNIT }, GrantStatus.GRANT_STATUS_ACTIVE),
    );
  });

  afterAll(async () => {
    await h?.stop();
  });

  const open = (residentId: string, deviceId = unitDoor) =>
    access.openDoor({ requestId: uniqueName('o'), tenancy, deviceId, residentId });

  it('a door command for a non-resident is refused and nothing is sent', async () => {
    const before = (
      await h.pg.query(`SELECT count(*)::int AS n FROM commands WHERE device_id = $1`, [unitDoor])
    ).rows[0].n;
    const err = await grpcError(open('res-stranger'));
    expect([err.code, errorCode(err)]).toEqual([status.PERMISSION_DENIED, 'DOOR_ACCESS_DENIED']);
    expect(
      (await h.pg.query(`SELECT count(*)::int AS n FROM commands WHERE device_id = $1`, [unitDoor])).rows[0]
        .n,
    ).toBe(before);
  });

  it('opens for the grant holder and a member of the household; each opening is an access record with its command', async () => {
    for (const resident of ['res-owner', 'res-child']) {
      const { record } = await open(resident);
      expect(record).toMatchObject({
        kind: AccessKind.ACCESS_KIND_RESIDENT,
        residentId: resident,
        grantId: 'grant-1',
      });
      await waitFor('door opened', async () => {
        const { command } = await commands.getCommand({ tenancy, commandId: record!.commandId });
        return command!.state === CommandState.COMMAND_STATE_SUCCEEDED ? true : undefined;
      });
    }
    expect(unitDoorSim.executions).toHaveLength(2);
    // the unit grant does not open the building entrance
    const err = await grpcError(open('res-owner', entrance));
    expect(errorCode(err)).toBe('DOOR_ACCESS_DENIED');
  });

  it('a revoked grant is refused at once', async () => {
    await identity(
      IdentityEvents.GrantRevoked,
      grant('grant-1', 'res-owner', { unitId: UNIT }, GrantStatus.GRANT_STATUS_REVOKED),
    );
    expect(errorCode(await grpcError(open('res-owner')))).toBe('DOOR_ACCESS_DENIED');
  });

  it('a courier enters and leaves once with a one-time code; recorded with courier, gate, home; a third use is refused', async () => {
    const issued = await access.issueCourierCode({
      requestId: uniqueName('c'),
      tenancy,
      courierId: 'courier-1',
      unitId: UNIT,
      residentId: 'res-child',
      ttlSeconds: 0,
    });
    expect(issued.code).toMatch(/^\d{6}$/);
    const use = () =>
      access.useCourierCode({ requestId: uniqueName('u'), tenancy, deviceId: entrance, code: issued.code });
    const entry = await use();
    expect(entry.record).toMatchObject({
      kind: AccessKind.ACCESS_KIND_COURIER,
      courierId: 'courier-1',
      unitId: UNIT,
      doorDeviceId: entrance,
    });
    expect(entry.record!.exitedAt).toBeUndefined();
    const exit = await use();
    expect(exit.record!.recordId).toBe(entry.record!.recordId);
    expect(exit.record!.exitedAt).toBeDefined();
    expect(errorCode(await grpcError(use()))).toBe('CODE_USED');
    await waitFor('entrance opened twice', async () =>
      entranceSim.executions.length === 2 ? true : undefined,
    );
  });

  it('refuses a code for an unregistered courier and a wrong code', async () => {
    const err = await grpcError(
      access.issueCourierCode({
        requestId: uniqueName('c'),
        tenancy,
        courierId: 'nobody',
        unitId: UNIT,
        residentId: 'res-child',
        ttlSeconds: 0,
      }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'COURIER_NOT_REGISTERED']);
    const wrong = await grpcError(
      access.useCourierCode({ requestId: uniqueName('u'), tenancy, deviceId: entrance, code: '000000' }),
    );
    expect(wrong.code).toBe(status.PERMISSION_DENIED);
  });
});
