import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { Client } from 'pg';
import {
  createTestDatabase,
  grpcClient,
  iotMqttEnv,
  kafkaTestPrefix,
  REPO_ROOT,
  routeProjectToSandbox,
  SandboxChannelProcess,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  TEST_IDENTITY_MASTER_KEY,
  TestDatabase,
  TestIssuer,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { CommandServiceService, CommandState } from '@citybase/contracts/citybase/iot/v1/commands';
import { DeviceKind, IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import {
  ParkingServiceService,
  ParkingSessionState,
  PlateDirection,
} from '@citybase/contracts/citybase/iot/v1/parking';
import { ChargingServiceService, ChargingSessionState } from '@citybase/contracts/citybase/iot/v1/charging';
import {
  Actuator,
  chargerMessage,
  ChargerSessionEvent,
  DeviceCredentials,
  PlateCamera,
  SimCharger,
  SimDevice,
} from '@citybase/device-sim';

/**
 * Parking and EV charging paid for through the real payment process and the sandbox channel
 * (issue 15 items 7 and 8), every part its own process: identity (which issues every token here,
 * and iot's own API client made with `citybase client create` exactly as `npm start` makes it),
 * payment, the sandbox channel, iot, and the project's Mosquitto (port 1885) with the simulated
 * gate of tools/device-sim as a real MQTT client.
 */
describe('iot parking and charging paid through payment and the sandbox channel (processes)', () => {
  const operatorId = 'op-iot-pay';
  const projectId = 'proj-iot-pay';
  const tenancy = { operatorId, projectId, merchantId: 'm-iot-pay' };
  const prefix = kafkaTestPrefix('iotpay');
  const dbs: TestDatabase[] = [];
  const procs: ServiceProcess[] = [];
  let identity: ServiceProcess;
  let payment: ServiceProcess;
  let iot: ServiceProcess;
  let sandbox: SandboxChannelProcess | undefined;
  let stateDir: string;
  let iotDb: TestDatabase;
  let paymentDb: TestDatabase;
  let adminToken: string;
  let gateSim: SimDevice | undefined;
  let gate: Actuator;
  let lotId: string;
  let entryCam: string;
  let exitCam: string;
  let chargerId: string;
  let chargerSim: SimDevice | undefined;
  let cameraSims: SimDevice[] = [];
  let entryCamera: PlateCamera;
  let exitCamera: PlateCamera;

  const admin = () => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${adminToken}`);
    return md;
  };
  const cli = (args: string[], env: Record<string, string>) =>
    execFileSync(process.execPath, [join(REPO_ROOT, 'tools/cli/bin/citybase.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: 'pipe',
    }).toString();
  const cliEnv = () => ({
    CITYBASE_IDENTITY_URL: identity.httpUrl,
    CITYBASE_IDENTITY_GRPC: identity.grpcAddress,
    CITYBASE_IOT_GRPC: iot.grpcAddress,
  });
  /** `citybase <args>` as the city admin against these processes, its JSON answer. */
  const operatorCli = (args: string[]) =>
    JSON.parse(cli([...args, '--credentials', join(stateDir, 'city-admin.json')], cliEnv())) as Record<
      string,
      Record<string, unknown>
    >;
  const credentialsIn = (file: string) =>
    JSON.parse(readFileSync(join(stateDir, file), 'utf8')) as { client_id: string; client_secret: string };

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'citybase-iotpay-'));
    const identityDb = await createTestDatabase('e2e_iotpay_identity');
    paymentDb = await createTestDatabase('e2e_iotpay_payment');
    iotDb = await createTestDatabase('e2e_iotpay_iot');
    dbs.push(identityDb, paymentDb, iotDb);
    // identity trusts its own keys: every token of this suite is one it issued
    identity = await spawnService('identity', ({ httpPort }) => ({
      DATABASE_URL: identityDb.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: `http://127.0.0.1:${httpPort}/.well-known/jwks.json`,
      LOG_LEVEL: 'warn',
    }));
    procs.push(identity);
    await identity.ready();
    const jwks = `${identity.httpUrl}/.well-known/jwks.json`;

    // the city admin (citybase init) and iot's own client, as deploy/local/start.sh makes them
    cli(['init', '--name', 'City admin', '--save', join(stateDir, 'city-admin.json')], {
      DATABASE_URL: identityDb.url,
      CITY_ID: 'test-city',
      IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
    });
    const scopes = execFileSync(
      'bash',
      ['-c', `grep -o 'iot) scopes="[^"]*"' deploy/local/start.sh | cut -d'"' -f2`],
      { cwd: REPO_ROOT },
    )
      .toString()
      .trim();
    expect(scopes).toContain('payment:write');
    cli(
      [
        'client',
        'create',
        '--name',
        'iot service',
        '--scope',
        scopes,
        '--credentials',
        join(stateDir, 'city-admin.json'),
        '--save',
        join(stateDir, 'iot-client.json'),
      ],
      {
        CITYBASE_IDENTITY_URL: identity.httpUrl,
        CITYBASE_IDENTITY_GRPC: identity.grpcAddress,
      },
    );
    const cityAdmin = credentialsIn('city-admin.json');
    const res = await fetch(`${identity.httpUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: cityAdmin.client_id,
        client_secret: cityAdmin.client_secret,
      }),
    });
    expect(res.status).toBe(200);
    adminToken = ((await res.json()) as { access_token: string }).access_token;

    payment = await spawnService('payment', {
      DATABASE_URL: paymentDb.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: jwks,
      LOG_LEVEL: 'warn',
    });
    procs.push(payment);
    await payment.ready();
    const iotClient = credentialsIn('iot-client.json');
    iot = await spawnService('iot', {
      DATABASE_URL: iotDb.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: jwks,
      LOG_LEVEL: 'warn',
      IDENTITY_GRPC_URL: identity.grpcAddress,
      PAYMENT_GRPC_URL: payment.grpcAddress,
      IOT_CLIENT_ID: iotClient.client_id,
      IOT_CLIENT_SECRET: iotClient.client_secret,
      IOT_PAYMENT_JOB_INTERVAL_MS: '300',
      ...iotMqttEnv('iotpay'),
    });
    procs.push(iot);
    await iot.ready();

    sandbox = await spawnSandboxChannel();
    // the helper only asks `metadata()` of its issuer: the city admin's token from identity
    await routeProjectToSandbox({
      paymentAddress: payment.grpcAddress,
      issuer: { metadata: () => admin() } as unknown as TestIssuer,
      sandbox,
      operatorId,
      projectId,
    });

    const devices = grpcClient(IotServiceService, iot.grpcAddress, admin);
    const register = async (kind: DeviceKind) =>
      devices.registerDevice({
        requestId: uniqueName('reg'),
        tenancy: { operatorId, projectId, merchantId: '' },
        kind,
        name: `dev ${kind}`,
        serialNumber: uniqueName('sn'),
        profile: '',
      });
    try {
      // the lot's plate cameras: simulated devices reading plates over MQTT (docs/iot.md "Device events")
      const camera = async () => {
        const r = await register(DeviceKind.DEVICE_KIND_PARKING_CAMERA);
        const sim = new SimDevice(r.credentials as DeviceCredentials);
        await sim.connect();
        cameraSims.push(sim);
        return { id: r.device!.deviceId, camera: new PlateCamera(sim) };
      };
      const inCam = await camera();
      const outCam = await camera();
      entryCam = inCam.id;
      exitCam = outCam.id;
      entryCamera = inCam.camera;
      exitCamera = outCam.camera;
      const g = await register(DeviceKind.DEVICE_KIND_PARKING_GATE);
      gateSim = new SimDevice(g.credentials as DeviceCredentials);
      gate = new Actuator(gateSim);
      await gateSim.connect();
      const c = await register(DeviceKind.DEVICE_KIND_EV_CHARGER);
      chargerId = c.device!.deviceId;
      chargerSim = new SimDevice(c.credentials as DeviceCredentials);
      await chargerSim.connect();
      // the lot and the charger configured as an operator does: with citybase (tools/cli)
      const tenancyArgs = [
        '--operator',
        operatorId,
        '--project',
        projectId,
        '--merchant',
        tenancy.merchantId,
      ];
      const { lot } = operatorCli([
        'parking',
        'lot',
        'create',
        ...tenancyArgs,
        '--name',
        'North lot',
        '--capacity',
        '10',
        '--entry-camera',
        entryCam,
        '--exit-camera',
        exitCam,
        '--exit-gate',
        g.device!.deviceId,
        '--free-minutes',
        '15',
        '--hourly-rate',
        '500',
        '--daily-cap',
        '3000',
      ]);
      expect(lot).toMatchObject({
        merchant_id: tenancy.merchantId,
        tariff: { hourly_rate: { amount_minor: '500' } },
      });
      lotId = lot!.lot_id as string;
      const { charger } = operatorCli([
        'charging',
        'charger',
        'configure',
        ...tenancyArgs,
        '--device',
        chargerId,
        '--band',
        '0:100',
        '--service-fee',
        '50',
      ]);
      expect(charger).toMatchObject({ device_id: chargerId, tariff: { bands: [{ from_minute: 0 }] } });
    } finally {
      devices.close();
    }
  }, 240_000);

  afterAll(async () => {
    await gateSim?.stop().catch(() => undefined);
    await chargerSim?.stop().catch(() => undefined);
    for (const c of cameraSims) await c.stop().catch(() => undefined);
    cameraSims = [];
    await sandbox?.stop();
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    for (const d of dbs) await d.drop().catch(() => undefined);
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const query = async <T extends object>(db: TestDatabase, sql: string, params: unknown[]) => {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      return (await pg.query(sql, params)).rows as T[];
    } finally {
      await pg.end();
    }
  };
  /** The payment iot asked for `subjectId` (its billing job calls payment as iot's own client). */
  const paymentAskedFor = (subjectId: string) =>
    waitFor(
      'iot asked payment for the fee',
      async () =>
        (
          await query<{ payment_id: string | null }>(
            iotDb,
            `SELECT payment_id FROM billing_calls WHERE subject_id = $1`,
            [subjectId],
          )
        )[0]?.payment_id ?? undefined,
      60_000,
    );
  const outcomeOf = (subjectId: string) =>
    waitFor(
      "iot applied payment's outcome",
      async () =>
        (
          await query<{ outcome: string | null }>(
            iotDb,
            `SELECT outcome FROM billing_calls WHERE subject_id = $1`,
            [subjectId],
          )
        )[0]?.outcome ?? undefined,
      60_000,
    );

  describe('parking', () => {
    /** The camera reads the plate; answers the plate's stay once iot applied the read. */
    const read = async (plate: string, direction: PlateDirection, at: Date) => {
      const entry = direction === PlateDirection.PLATE_DIRECTION_ENTRY;
      await (entry ? entryCamera : exitCamera).read(plate, { at });
      return waitFor(
        `the ${entry ? 'entry' : 'exit'} read of ${plate} applied`,
        async () => {
          const parking = grpcClient(ParkingServiceService, iot.grpcAddress, admin);
          try {
            const { sessions } = await parking.listParkingSessions({ tenancy, lotId, page: undefined });
            const s = sessions.find((x) => x.plate === plate);
            const open = s?.state === ParkingSessionState.PARKING_SESSION_STATE_OPEN;
            return s && open === entry ? s : undefined;
          } finally {
            parking.close();
          }
        },
        60_000,
      );
    };
    const sessionNow = async (sessionId: string) => {
      const parking = grpcClient(ParkingServiceService, iot.grpcAddress, admin);
      try {
        return (await parking.getParkingSession({ tenancy, sessionId })).session!;
      } finally {
        parking.close();
      }
    };
    const ninetyMinutesAgo = () => new Date(Date.now() - 90 * 60_000);

    it('an unpaid exit keeps the gate closed, also after the payer failed to pay', async () => {
      await read('粤B40004', PlateDirection.PLATE_DIRECTION_ENTRY, ninetyMinutesAgo());
      const exit = await read('粤B40004', PlateDirection.PLATE_DIRECTION_EXIT, new Date());
      expect(exit).toMatchObject({
        state: ParkingSessionState.PARKING_SESSION_STATE_AWAITING_PAYMENT,
        fee: { currency: 'CNY', amountMinor: 1_000n },
        gateCommandId: '',
      });
      const paymentId = await paymentAskedFor(exit.sessionId);
      await sandbox!.pay(paymentId, 'fail');
      expect(await outcomeOf(exit.sessionId)).toBe('FAILED');
      // the car is back inside (its next exit read asks again), the gate never told to open
      expect(await sessionNow(exit.sessionId)).toMatchObject({
        state: ParkingSessionState.PARKING_SESSION_STATE_OPEN,
        gateCommandId: '',
      });
      const gateCommands = await query(iotDb, `SELECT 1 FROM commands WHERE reference = $1`, [
        `parking-session:${exit.sessionId}`,
      ]);
      expect(gateCommands).toEqual([]);
      expect(gate.executions).toEqual([]);
    });

    it('exit > payment at the sandbox > PaymentSucceeded > the simulated gate opens', async () => {
      await read('粤B50005', PlateDirection.PLATE_DIRECTION_ENTRY, ninetyMinutesAgo());
      const exit = await read('粤B50005', PlateDirection.PLATE_DIRECTION_EXIT, new Date());
      expect(exit.state).toBe(ParkingSessionState.PARKING_SESSION_STATE_AWAITING_PAYMENT);
      const paymentId = await paymentAskedFor(exit.sessionId);
      // the payment is payment's own, for the fee, in the parking scenario
      expect(
        await query(
          paymentDb,
          `SELECT amount_minor::text AS a, operator_id FROM payments WHERE payment_id = $1`,
          [paymentId],
        ),
      ).toEqual([{ a: '1000', operator_id: operatorId }]);
      expect(gate.executions).toEqual([]);
      await sandbox!.pay(paymentId, 'success');
      const closed = await waitFor(
        'the session closes with a gate command',
        async () => {
          const s = await sessionNow(exit.sessionId);
          return s.state === ParkingSessionState.PARKING_SESSION_STATE_CLOSED ? s : undefined;
        },
        60_000,
      );
      expect(closed.paymentId).toBe(paymentId);
      await waitFor(
        'the gate executed the open command',
        async () => (gate.executions.some((e) => e.commandId === closed.gateCommandId) ? true : undefined),
        60_000,
      );
      const commands = grpcClient(CommandServiceService, iot.grpcAddress, admin);
      try {
        await waitFor(
          'the command succeeded',
          async () =>
            (await commands.getCommand({ tenancy, commandId: closed.gateCommandId })).command!.state ===
            CommandState.COMMAND_STATE_SUCCEEDED
              ? true
              : undefined,
          60_000,
        );
      } finally {
        commands.close();
      }
      // what the operator sees of it
      expect(
        operatorCli(['parking', 'session', 'get', '--operator', operatorId, '--id', exit.sessionId]).session,
      ).toMatchObject({
        state: 'closed',
        fee: { currency: 'CNY', amount_minor: '1000' },
        payment_id: paymentId,
        gate_command_id: closed.gateCommandId,
      });
      // the unpaid car's gate never opened: the gate executed exactly this one command
      expect(gate.executions.map((e) => e.commandId)).toEqual([closed.gateCommandId]);
      // the unpaid car is still inside
      expect(
        operatorCli(['parking', 'lot', 'get', '--operator', operatorId, '--id', lotId]).lot,
      ).toMatchObject({
        lot_id: lotId,
        occupied: 1,
      });
    });
  });

  it('citybase device command send | get: an operator closes the gate through iot; the gate executes it', async () => {
    const env = {
      CITYBASE_IDENTITY_URL: identity.httpUrl,
      CITYBASE_IDENTITY_GRPC: identity.grpcAddress,
      CITYBASE_IOT_GRPC: iot.grpcAddress,
    };
    const creds = ['--credentials', join(stateDir, 'city-admin.json')];
    const sent = JSON.parse(
      cli(
        [
          'device',
          'command',
          'send',
          '--operator',
          operatorId,
          '--project',
          projectId,
          '--device',
          gateSim!.deviceId,
          '--kind',
          'gate_close',
          ...creds,
        ],
        env,
      ),
    ) as { command: { command_id: string; kind: string } };
    expect(sent.command.kind).toBe('gate_close');
    await waitFor(
      'the gate executed the close command',
      async () => (gate.executions.some((e) => e.commandId === sent.command.command_id) ? true : undefined),
      60_000,
    );
    const state = await waitFor(
      'the command is reported succeeded',
      async () => {
        const got = JSON.parse(
          cli(
            ['device', 'command', 'get', '--operator', operatorId, '--id', sent.command.command_id, ...creds],
            env,
          ),
        ) as { command: { state: string } };
        return got.command.state === 'succeeded' ? got.command.state : undefined;
      },
      60_000,
    );
    expect(state).toBe('succeeded');
  });

  describe('EV charging', () => {
    // the charger's session events over MQTT (docs/iot.md "Device events")
    const send = async (events: ChargerSessionEvent[]) => {
      for (const e of events) await chargerSim!.publish('events', chargerMessage(e));
    };
    const sessionOf = async (tx: string) => {
      const charging = grpcClient(ChargingServiceService, iot.grpcAddress, admin);
      try {
        const { sessions } = await charging.listChargingSessions({
          tenancy,
          deviceId: chargerId,
          page: undefined,
        });
        return sessions.find((s) => s.transactionId === tx);
      } finally {
        charging.close();
      }
    };

    it('a session buffered offline, with its stop retried, is billed once with a real payment', async () => {
      const charger = new SimCharger(1_000_000n);
      const tx = uniqueName('tx');
      charger.start(tx, 'resident-1');
      charger.meter(4_000n);
      charger.meter(6_000n);
      charger.stop(0n);
      // offline until now: the whole buffer goes at once, in order, over MQTT
      await charger.flushOver(chargerSim!);
      expect(charger.buffer).toEqual([]);
      const stop = {
        transactionId: tx,
        seq: 4,
        type: 'STOP' as const,
        registerWh: 1_010_000n,
        at: new Date(),
        userId: '',
      };
      // the charger did not hear the PUBACK and sends its stop again
      await send([stop]);
      const s = await waitFor(
        'the session stopped',
        async () => {
          const x = await sessionOf(tx);
          return x?.state === ChargingSessionState.CHARGING_SESSION_STATE_STOPPED ? x : undefined;
        },
        60_000,
      );
      expect(s).toMatchObject({ energyWh: 10_000n, total: { currency: 'CNY', amountMinor: 1_500n } });
      const paymentId = await paymentAskedFor(s.sessionId);
      // and again while the payment is open
      await send([stop]);
      await sandbox!.pay(paymentId, 'success');
      expect(await outcomeOf(s.sessionId)).toBe('SUCCEEDED');
      // and once more after it was paid, then the next session's START: applied after the copies
      // (one charger's messages in order), so they were all seen by then
      await send([stop]);
      const next = uniqueName('tx');
      await send([new SimCharger(1_010_000n).start(next, 'resident-1')]);
      await waitFor(
        'the next session started',
        async () => ((await sessionOf(next)) ? true : undefined),
        60_000,
      );
      const after = (await sessionOf(tx))!;
      expect(after.paymentId).toBe(paymentId);
      // payment holds exactly one payment for the charging: 10 kWh x (1.00 + 0.50), succeeded
      const payments = await query<{ payment_id: string; a: string; status: number }>(
        paymentDb,
        `SELECT payment_id, amount_minor::text AS a, status FROM payments WHERE operator_id = $1 AND amount_minor = 1500`,
        [operatorId],
      );
      expect(payments).toEqual([{ payment_id: paymentId, a: '1500', status: 3 }]);
      expect(
        operatorCli(['charging', 'session', 'get', '--operator', operatorId, '--id', s.sessionId]).session,
      ).toMatchObject({
        state: 'stopped',
        energy_wh: '10000',
        total: { currency: 'CNY', amount_minor: '1500' },
        payment_id: paymentId,
        // PaymentSucceeded of the plain payment made it paid (no checkout: the app chose none)
        payment_state: 'paid',
        checkout_id: '',
      });
      expect(
        await query(iotDb, `SELECT payment_id FROM billing_calls WHERE subject_id = $1`, [s.sessionId]),
      ).toEqual([{ payment_id: paymentId }]);
    });
  });
});
