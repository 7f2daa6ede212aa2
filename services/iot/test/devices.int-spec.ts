import mqtt from 'mqtt';
import { uniqueName } from '@citybase/platform/testing';
import { DeviceKind, DeviceStatus } from '@citybase/contracts/citybase/iot/v1/iot';
import {
  errorCode,
  errorField,
  grpcError,
  IotClient,
  IotHarness,
  startIotHarness,
  status,
} from './iot-harness';

const A = 'op-dev-a';
const B = 'op-dev-b';
const P = 'proj-dev-1';

/** Connects a raw MQTT client and answers whether the broker let it in. */
async function canConnect(
  url: string,
  username: string,
  password: string,
  clientId = username,
): Promise<boolean> {
  const c = mqtt.connect(url, { username, password, clientId, reconnectPeriod: 0, connectTimeout: 5_000 });
  return new Promise((resolve) => {
    c.once('connect', () => {
      void c.endAsync().then(() => resolve(true));
    });
    c.once('error', () => {
      void c.endAsync(true).then(() => resolve(false));
    });
  });
}

describe('iot: registry and credentials (in-process service, project Mosquitto)', () => {
  let h: IotHarness;
  let opA: IotClient;
  let opB: IotClient;

  beforeAll(async () => {
    h = await startIotHarness('devices');
    opA = h.clientOf({ operators: [A] });
    opB = h.clientOf({ operators: [B] });
  });

  afterAll(async () => {
    if (process.env.IOT_TEST_LOG)
      console.log(
        h?.svc
          .output()
          .split('\n')
          .filter((l) => /internal error|"level":(50|40)|"err"/.test(l))
          .join('\n'),
      );
    await h?.stop();
  });

  it('registers a device with its credentials shown once; a repeat answers it without the password', async () => {
    const req = {
      requestId: uniqueName('r'),
      tenancy: { operatorId: A, projectId: P, merchantId: '' },
      kind: DeviceKind.DEVICE_KIND_SMOKE_SENSOR,
      name: 'Lobby smoke',
      serialNumber: uniqueName('SN'),
      profile: '',
    };
    const first = await opA.registerDevice(req);
    expect(first.device).toMatchObject({
      kind: DeviceKind.DEVICE_KIND_SMOKE_SENSOR,
      profile: 'smoke-sensor',
      status: DeviceStatus.DEVICE_STATUS_ACTIVE,
      online: false,
      credentialsVersion: 1,
    });
    const id = first.device!.deviceId;
    expect(first.credentials).toMatchObject({
      username: id,
      clientId: id,
      topicPrefix: `${h.topicRoot}/${P}/devices/${id}`,
    });
    expect(first.credentials!.password.length).toBeGreaterThanOrEqual(40);
    const again = await opA.registerDevice(req);
    expect(again.device).toEqual(first.device);
    expect(again.credentials!.password).toBe('');
    // the same serial number in the project is another request's device: refused
    const dup = await grpcError(opA.registerDevice({ ...req, requestId: uniqueName('r') }));
    expect([dup.code, errorCode(dup)]).toEqual([status.FAILED_PRECONDITION, 'SERIAL_NUMBER_TAKEN']);
  });

  it('refuses bad input naming the field, and a profile not for the kind', async () => {
    const base = {
      requestId: uniqueName('r'),
      tenancy: { operatorId: A, projectId: P, merchantId: '' },
      kind: DeviceKind.DEVICE_KIND_METER,
      name: 'm',
      serialNumber: 'x1',
      profile: '',
    };
    for (const [over, field] of [
      [{ kind: DeviceKind.DEVICE_KIND_UNSPECIFIED }, 'kind'],
      [{ tenancy: { operatorId: A, projectId: '', merchantId: '' } }, 'tenancy.project_id'],
      [{ serialNumber: 'a b' }, 'serial_number'],
      [{ profile: 'smoke-sensor' }, 'profile'],
      [{ profile: 'nope' }, 'profile'],
    ] as const) {
      const err = await grpcError(opA.registerDevice({ ...base, ...over }));
      expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, field]);
    }
  });

  it('a device connects with its credentials; a wrong password, another client id and anonymous are refused', async () => {
    const { credentials } = await h.register(opA, A, P);
    expect(await canConnect(credentials.mqttUrl, credentials.username, credentials.password)).toBe(true);
    expect(await canConnect(credentials.mqttUrl, credentials.username, 'wrong')).toBe(false);
    expect(
      await canConnect(credentials.mqttUrl, credentials.username, credentials.password, 'other-id'),
    ).toBe(false);
    const anonymous = mqtt.connect(credentials.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5_000 });
    const anonymousIn = await new Promise<boolean>((resolve) => {
      anonymous.once('connect', () => resolve(true));
      anonymous.once('error', () => resolve(false));
    });
    await anonymous.endAsync(true);
    expect(anonymousIn).toBe(false);
  });

  it("a device cannot publish to another device's topics nor subscribe to them", async () => {
    const one = await h.register(opA, A, P);
    const two = await h.register(opA, A, P);
    // a spy with iot's rights would see what reaches the broker: use the second device's own
    // subscription to its commands topic, and the first device trying to write there
    const d1 = h.device(one.credentials, { protocolVersion: 5 });
    const d2 = h.device(two.credentials);
    await d1.connect();
    await d2.connect();
    const got: string[] = [];
    d2.onCommand((c) => got.push(c.topic));
    // MQTT 5: the broker answers a refused QoS 1 publish with a PUBACK reason code >= 0x80
    await expect(d1.publish('x', { hack: true }, d2.topic('commands'))).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await expect(d1.publish('x', { hack: true }, d2.topic('telemetry'))).rejects.toThrow(
      /not authori[sz]ed|135/i,
    );
    await expect(d1.publish('x', { id: 'ok' }, d1.topic('telemetry'))).resolves.toBeUndefined();
    // subscribing to another device's commands is refused (SUBACK 0x87)
    const raw = mqtt.connect(one.credentials.mqttUrl, {
      username: one.credentials.username,
      password: one.credentials.password,
      clientId: one.credentials.clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await new Promise((r) => raw.once('connect', r));
    await expect(raw.subscribeAsync(d2.topic('commands'), { qos: 1 })).rejects.toThrow(/not authori[sz]ed/i);
    await raw.endAsync();
    expect(got).toEqual([]);
  });

  it('rotation: the old password stops working, the connected device is disconnected, the new one connects', async () => {
    const { deviceId, credentials } = await h.register(opA, A, P);
    const d = h.device(credentials, { reconnect: false });
    await d.connect();
    const closed = d.closed();
    const rotated = await opA.rotateDeviceCredentials({ requestId: uniqueName('rot'), deviceId });
    expect(rotated.device!.credentialsVersion).toBe(2);
    const fresh = rotated.credentials!.password;
    expect(fresh).not.toBe(credentials.password);
    await closed;
    expect(await canConnect(credentials.mqttUrl, deviceId, credentials.password)).toBe(false);
    expect(await canConnect(credentials.mqttUrl, deviceId, fresh)).toBe(true);
  });

  it('revocation: the device is disconnected, its next connect is refused, other tenants cannot revoke it', async () => {
    const { deviceId, credentials } = await h.register(opA, A, P);
    const d = h.device(credentials, { reconnect: false });
    await d.connect();
    const foreign = await grpcError(opB.revokeDevice({ requestId: uniqueName('rv'), deviceId, reason: 'x' }));
    expect(foreign.code).toBe(status.NOT_FOUND);
    const closed = d.closed();
    const req = { requestId: uniqueName('rv'), deviceId, reason: 'stolen' };
    const revoked = await opA.revokeDevice(req);
    expect(revoked.device!.status).toBe(DeviceStatus.DEVICE_STATUS_REVOKED);
    await closed;
    expect(await canConnect(credentials.mqttUrl, deviceId, credentials.password)).toBe(false);
    // a repeat answers the device as it is; a new revocation or rotation is refused. Its presence
    // (online, last seen) is the broker's connect and disconnect news, applied on its own time:
    // it may have changed since the first answer, the rest must not have
    const { online: _online, lastSeenAt: _lastSeenAt, ...settled } = revoked.device!;
    expect((await opA.revokeDevice(req)).device).toMatchObject(settled);
    const again = await grpcError(opA.rotateDeviceCredentials({ requestId: uniqueName('rot'), deviceId }));
    expect([again.code, errorCode(again)]).toEqual([status.FAILED_PRECONDITION, 'DEVICE_NOT_ACTIVE']);
  });

  it("lists a project's devices; another operator sees none of them and cannot read one", async () => {
    const { deviceId } = await h.register(opA, A, P, DeviceKind.DEVICE_KIND_METER);
    const list = await opA.listDevices({
      tenancy: { operatorId: A, projectId: P, merchantId: '' },
      kind: DeviceKind.DEVICE_KIND_METER,
      page: undefined,
    });
    expect(list.devices.map((d) => d.deviceId)).toContain(deviceId);
    expect(list.devices.every((d) => d.kind === DeviceKind.DEVICE_KIND_METER)).toBe(true);
    const err = await grpcError(opB.getDevice({ deviceId }));
    expect(err.code).toBe(status.NOT_FOUND);
    const denied = await grpcError(
      opB.listDevices({
        tenancy: { operatorId: A, projectId: '', merchantId: '' },
        kind: DeviceKind.DEVICE_KIND_UNSPECIFIED,
        page: undefined,
      }),
    );
    expect(denied.code).toBe(status.PERMISSION_DENIED);
  });
});
