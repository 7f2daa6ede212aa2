import { uniqueName } from '@citybase/platform/testing';
import {
  CommandKind,
  CommandServiceService,
  CommandState,
} from '@citybase/contracts/citybase/iot/v1/commands';
import { CommandCompleted } from '@citybase/contracts/citybase/iot/v1/events';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { Actuator, DeviceCredentials, newActuatorMemory } from '@citybase/device-sim';
import type { PromiseClient } from '@citybase/platform/testing';
import {
  errorCode,
  errorField,
  grpcError,
  IotClient,
  IotHarness,
  startIotHarness,
  status,
  waitFor,
} from './iot-harness';

const A = 'op-cmd-a';
const B = 'op-cmd-b';
const P = 'proj-cmd-1';
const tenancy = { operatorId: A, projectId: P, merchantId: '' };

describe('iot: commands as persistent state machines (in-process service, project Mosquitto, sim devices)', () => {
  let h: IotHarness;
  let registry: IotClient;
  let commands: PromiseClient<typeof CommandServiceService>;
  let foreign: PromiseClient<typeof CommandServiceService>;

  beforeAll(async () => {
    h = await startIotHarness('commands', { IOT_COMMANDS_JOB_INTERVAL_MS: '200' });
    registry = h.clientOf({ operators: [A] });
    commands = h.client(CommandServiceService, () =>
      h.metadata({ operators: [A] }, ['iot:commands', 'iot:read']),
    );
    foreign = h.client(CommandServiceService, () =>
      h.metadata({ operators: [B] }, ['iot:commands', 'iot:read']),
    );
  });

  afterAll(async () => {
    await h?.stop();
  });

  const door = async (): Promise<{ deviceId: string; credentials: DeviceCredentials }> =>
    h.register(registry, A, P, DeviceKind.DEVICE_KIND_DOOR_CONTROLLER);

  const send = (deviceId: string, ttlSeconds = 0, requestId = uniqueName('cmd')) =>
    commands.sendCommand({
      requestId,
      tenancy,
      deviceId,
      kind: CommandKind.COMMAND_KIND_DOOR_OPEN,
      args: {},
      reference: 'test',
      ttlSeconds,
    });

  const finalState = (commandId: string) =>
    waitFor(`command ${commandId} final`, async () => {
      const { command } = await commands.getCommand({ tenancy, commandId });
      return command!.completedAt ? command! : undefined;
    });

  const completedEvents = async (commandId: string): Promise<CommandCompleted[]> => {
    const { rows } = await h.pg.query<{ payload: Buffer }>(
      `SELECT payload FROM outbox WHERE event_type = 'citybase.iot.v1.CommandCompleted' ORDER BY id`,
    );
    return rows
      .map((r) => CommandCompleted.decode(r.payload))
      .filter((e) => e.command?.commandId === commandId);
  };

  it('walks queued > sent > delivered > succeeded on an online door; one CommandCompleted', async () => {
    const { deviceId, credentials } = await door();
    const sim = h.device(credentials);
    const act = new Actuator(sim);
    await sim.connect();
    const { command } = await send(deviceId);
    expect(command!.deadline).toBeDefined();
    const done = await finalState(command!.commandId);
    expect(done.state).toBe(CommandState.COMMAND_STATE_SUCCEEDED);
    expect(done.deliveredAt).toBeDefined();
    expect(act.executions.map((e) => e.commandId)).toEqual([command!.commandId]);
    expect(await completedEvents(command!.commandId)).toHaveLength(1);
  });

  it('is idempotent by request id: a repeat answers the same command, executed once', async () => {
    const { deviceId, credentials } = await door();
    const sim = h.device(credentials);
    const act = new Actuator(sim);
    await sim.connect();
    const rid = uniqueName('same');
    const first = await send(deviceId, 0, rid);
    const again = await send(deviceId, 0, rid);
    expect(again.command!.commandId).toBe(first.command!.commandId);
    await finalState(first.command!.commandId);
    expect(act.executions).toHaveLength(1);
  });

  it('a device offline at send time gets it republished when it comes back before the deadline, executed once', async () => {
    const { deviceId, credentials } = await door();
    const memory = newActuatorMemory();
    const { command } = await send(deviceId, 10);
    await waitFor('sent', async () => {
      const { command: c } = await commands.getCommand({ tenancy, commandId: command!.commandId });
      return c!.state === CommandState.COMMAND_STATE_SENT ? c : undefined;
    });
    const sim = h.device(credentials);
    const act = new Actuator(sim, { memory });
    await sim.connect();
    const done = await finalState(command!.commandId);
    expect(done.state).toBe(CommandState.COMMAND_STATE_SUCCEEDED);
    expect(done.publishCount).toBeGreaterThanOrEqual(2);
    // the device restarts with its memory: the republished id is answered, not executed again
    await sim.crash();
    const restarted = h.device(credentials);
    const act2 = new Actuator(restarted, { memory });
    await restarted.connect();
    expect(act.executions.length + act2.executions.length).toBe(1);
  });

  it('a command whose TTL passed while the device was away is never executed: EXPIRED, also after the device restarts', async () => {
    const { deviceId, credentials } = await door();
    const { command } = await send(deviceId, 1);
    const done = await finalState(command!.commandId);
    expect(done.state).toBe(CommandState.COMMAND_STATE_EXPIRED);
    const sim = h.device(credentials);
    const act = new Actuator(sim);
    await sim.connect();
    // a few republish periods: nothing may arrive and be executed
    await new Promise((r) => setTimeout(r, 1_500));
    expect(act.executions).toEqual([]);
    expect((await commands.getCommand({ tenancy, commandId: command!.commandId })).command!.state).toBe(
      CommandState.COMMAND_STATE_EXPIRED,
    );
    expect(await completedEvents(command!.commandId)).toHaveLength(1);
  });

  it('a command arriving after its deadline (device clock) is refused by the device: EXPIRED, never executed', async () => {
    const { deviceId, credentials } = await door();
    const sim = h.device(credentials);
    const act = new Actuator(sim, { clockOffsetMs: 60_000 });
    await sim.connect();
    const { command } = await send(deviceId);
    const done = await finalState(command!.commandId);
    expect(done.state).toBe(CommandState.COMMAND_STATE_EXPIRED);
    expect(act.refusedLate).toEqual([command!.commandId]);
    expect(act.executions).toEqual([]);
  });

  it('iot crashed between commit and publish and came back after the deadline: the job expires it unpublished', async () => {
    const { deviceId, credentials } = await door();
    const sim = h.device(credentials);
    const act = new Actuator(sim);
    await sim.connect();
    // the row a crashed SendCommand committed: QUEUED, never published, deadline already passed
    const { rows } = await h.pg.query<{ command_id: string }>(
      `INSERT INTO commands (command_id, operator_id, project_id, device_id, kind, deadline, created_at)
       VALUES (gen_random_uuid(), $1, $2, $3, 'DOOR_OPEN', now() - interval '1 second', now() - interval '11 seconds')
       RETURNING command_id`,
      [A, P, deviceId],
    );
    const done = await finalState(rows[0]!.command_id);
    expect(done.state).toBe(CommandState.COMMAND_STATE_EXPIRED);
    expect(done.publishCount).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(act.executions).toEqual([]);
  });

  it('a delivered command without a result times out; a result after that changes nothing', async () => {
    const { deviceId, credentials } = await door();
    const sim = h.device(credentials);
    new Actuator(sim, { silentAfterAccept: true });
    await sim.connect();
    const { command } = await send(deviceId, 1);
    const done = await waitFor(
      'timed out',
      async () => {
        const { command: c } = await commands.getCommand({ tenancy, commandId: command!.commandId });
        return c!.state === CommandState.COMMAND_STATE_TIMED_OUT ? c : undefined;
      },
      40_000,
    );
    expect(done.deliveredAt).toBeDefined();
    await sim.publish('commands/ack', { command_id: command!.commandId, status: 'succeeded' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await commands.getCommand({ tenancy, commandId: command!.commandId })).command!.state).toBe(
      CommandState.COMMAND_STATE_TIMED_OUT,
    );
    expect(await completedEvents(command!.commandId)).toHaveLength(1);
  }, 60_000);

  it('refuses a TTL above the kind maximum and a kind the device does not take, naming the field', async () => {
    const { deviceId } = await door();
    const tooLong = await grpcError(send(deviceId, 11));
    expect([tooLong.code, errorField(tooLong)]).toEqual([status.INVALID_ARGUMENT, 'ttl_seconds']);
    const wrongKind = await grpcError(
      commands.sendCommand({
        requestId: uniqueName('k'),
        tenancy,
        deviceId,
        kind: CommandKind.COMMAND_KIND_GATE_OPEN,
        args: {},
        reference: '',
        ttlSeconds: 0,
      }),
    );
    expect([wrongKind.code, errorField(wrongKind)]).toEqual([status.INVALID_ARGUMENT, 'kind']);
  });

  it("another operator's device and command answer like missing ones", async () => {
    const { deviceId } = await door();
    const sent = await send(deviceId, 1);
    const err = await grpcError(
      foreign.sendCommand({
        requestId: uniqueName('f'),
        tenancy: { operatorId: B, projectId: P, merchantId: '' },
        deviceId,
        kind: CommandKind.COMMAND_KIND_DOOR_OPEN,
        args: {},
        reference: '',
        ttlSeconds: 0,
      }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.NOT_FOUND, 'DEVICE_NOT_FOUND']);
    const get = await grpcError(
      foreign.getCommand({
        tenancy: { operatorId: B, projectId: '', merchantId: '' },
        commandId: sent.command!.commandId,
      }),
    );
    expect([get.code, errorCode(get)]).toEqual([status.NOT_FOUND, 'COMMAND_NOT_FOUND']);
  });
});
