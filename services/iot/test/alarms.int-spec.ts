import { uniqueName } from '@citybase/platform/testing';
import { Alarm, AlarmSeverity, AlarmStatus, DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { IotClient, IotHarness, startIotHarness, status, grpcError, waitFor } from './iot-harness';

const A = 'op-alarm-a';
const B = 'op-alarm-b';
const P = 'proj-alarm-1';
const tenancy = { operatorId: A, projectId: P, merchantId: '' };

describe('iot: alarms (in-process service, project Mosquitto, Kafka)', () => {
  let h: IotHarness;
  let opA: IotClient;
  let opB: IotClient;

  beforeAll(async () => {
    h = await startIotHarness('alarms');
    opA = h.clientOf({ operators: [A] });
    opB = h.clientOf({ operators: [B] });
  });

  afterAll(async () => {
    await h?.stop();
  });

  const alarmsOf = async (deviceId: string): Promise<Alarm[]> =>
    (await opA.listAlarms({ tenancy, deviceId, openOnly: false, page: undefined })).alarms;
  const until = (what: string, deviceId: string, ok: (alarms: Alarm[]) => boolean) =>
    waitFor(
      what,
      async () => {
        const alarms = await alarmsOf(deviceId);
        return ok(alarms) ? alarms : undefined;
      },
      60_000,
    );
  const outboxTypes = async (deviceId: string): Promise<string[]> =>
    (
      await h.pool.query<{ type: string }>(
        'SELECT event_type AS type FROM outbox WHERE partition_key = $1 ORDER BY id',
        [deviceId],
      )
    ).rows.map((r) => r.type.replace('citybase.iot.v1.', ''));

  it('smoke raises a critical alarm at once; repeats are one alarm; ACTIVE_UNACKED > ACKED > CLEARED by the rule', async () => {
    const { deviceId, credentials } = await h.register(
      opA,
      A,
      P,
      DeviceKind.DEVICE_KIND_SMOKE_SENSOR,
      'lab-sensor',
    );
    const d = h.device(credentials);
    await d.connect();
    await d.telemetry({ smoke_ppm: 600 });
    const [raised] = await until('raised', deviceId, (a) => a.length === 1);
    expect(raised).toMatchObject({
      type: 'SMOKE',
      severity: AlarmSeverity.ALARM_SEVERITY_CRITICAL,
      status: AlarmStatus.ALARM_STATUS_ACTIVE_UNACKED,
      value: 600,
    });
    await d.telemetry({ smoke_ppm: 700 });
    await until('counted as an occurrence', deviceId, (a) => a.length === 1 && a[0]!.occurrences === 2n);
    // another operator cannot acknowledge it
    const foreign = await grpcError(
      opB.acknowledgeAlarm({ requestId: uniqueName('ack'), alarmId: raised!.alarmId }),
    );
    expect(foreign.code).toBe(status.NOT_FOUND);
    const req = { requestId: uniqueName('ack'), alarmId: raised!.alarmId };
    const acked = (await opA.acknowledgeAlarm(req)).alarm!;
    expect([acked.status, acked.acknowledged]).toEqual([AlarmStatus.ALARM_STATUS_ACKED, true]);
    expect((await opA.acknowledgeAlarm(req)).alarm).toEqual(acked);
    await d.telemetry({ smoke_ppm: 2 });
    const [cleared] = await until(
      'cleared',
      deviceId,
      (a) => a[0]?.status === AlarmStatus.ALARM_STATUS_CLEARED,
    );
    expect(cleared!.acknowledged).toBe(true);
    // smoke again: a new alarm
    await d.telemetry({ smoke_ppm: 800 });
    await until('a second alarm', deviceId, (a) => a.length === 2);
    await waitFor('events in the outbox', async () => {
      const types = await outboxTypes(deviceId);
      return types.filter((t) => t.startsWith('Alarm')).length === 4 ? types : undefined;
    });
    expect((await outboxTypes(deviceId)).filter((t) => t.startsWith('Alarm'))).toEqual([
      'AlarmRaised',
      'AlarmAcknowledged',
      'AlarmCleared',
      'AlarmRaised',
    ]);
  });

  it('temperature raises only when above the threshold for the sustained time', async () => {
    const { deviceId, credentials } = await h.register(
      opA,
      A,
      P,
      DeviceKind.DEVICE_KIND_TEMPERATURE_SENSOR,
      'lab-sensor',
    );
    const d = h.device(credentials);
    await d.connect();
    const t0 = Date.now() - 60_000;
    await d.telemetry({ temperature_c: 70 }, { ts: new Date(t0) });
    await d.telemetry({ temperature_c: 71 }, { ts: new Date(t0 + 1_000) });
    // a reading that is stored after both shows they were evaluated: still no alarm
    await d.telemetry({ temperature_c: 58 }, { ts: new Date(t0 + 1_500) });
    await waitFor('the readings stored', async () => {
      const n = (
        await h.pool.query('SELECT 1 FROM alarm_conditions WHERE device_id = $1 AND last_at = $2', [
          deviceId,
          new Date(t0 + 1_500),
        ])
      ).rowCount;
      return n === 1 ? true : undefined;
    });
    expect(await alarmsOf(deviceId)).toEqual([]);
    await d.telemetry({ temperature_c: 70 }, { ts: new Date(t0 + 2_000) });
    await d.telemetry({ temperature_c: 72 }, { ts: new Date(t0 + 3_000) });
    await d.telemetry({ temperature_c: 73 }, { ts: new Date(t0 + 4_100) });
    const [a] = await until('raised after 2 s above 60', deviceId, (x) => x.length === 1);
    expect(a).toMatchObject({
      type: 'OVER_TEMPERATURE',
      severity: AlarmSeverity.ALARM_SEVERITY_WARNING,
      value: 73,
    });
  });

  it("a device's own alarm is raised and ended by the device; a cleared alarm can be cleared by hand only once", async () => {
    const { deviceId, credentials } = await h.register(opA, A, P, DeviceKind.DEVICE_KIND_WATER_SENSOR);
    const d = h.device(credentials);
    await d.connect();
    await d.alarm('WATER_LEAK', true, 'CRITICAL', 1);
    const [a] = await until('raised', deviceId, (x) => x.length === 1);
    const cleared = (await opA.clearAlarm({ requestId: uniqueName('c'), alarmId: a!.alarmId })).alarm!;
    expect(cleared.status).toBe(AlarmStatus.ALARM_STATUS_CLEARED);
    await d.alarm('WATER_LEAK', true, 'CRITICAL', 1);
    await until(
      'raised again',
      deviceId,
      (x) => x.length === 2 && x[0]!.status === AlarmStatus.ALARM_STATUS_ACTIVE_UNACKED,
    );
    await d.alarm('WATER_LEAK', false, 'CRITICAL');
    await until('ended by the device', deviceId, (x) =>
      x.every((y) => y.status === AlarmStatus.ALARM_STATUS_CLEARED),
    );
  });
});
