// Set-up of the iot suites: the iot service (in-process) on its own database and Kafka namespace,
// on the project's Mosquitto (deploy/local/mosquitto.sh) under a topic root of the suite's own, so
// suites never see each other's devices or split each other's shared subscriptions.
import {
  iotMqttEnv,
  iotTopicRoot,
  PromiseClient,
  ServiceHarness,
  startServiceHarness,
  testEndpoints,
  uniqueName,
} from '@citybase/platform/testing';
import { DeviceKind, IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import { DeviceCredentials, SimDevice, SimDeviceOptions } from '@citybase/device-sim';
import { definition } from '../src/definition';
export { errorCode, errorField, grpcError, rowCounts, waitFor } from '@citybase/platform/testing';
export { status } from '@grpc/grpc-js';

export type IotClient = PromiseClient<typeof IotServiceService>;
export type IotHarness = ServiceHarness<typeof IotServiceService> & {
  /** IOT_MQTT_TOPIC_ROOT of the service: the suite's own topics. */
  topicRoot: string;
  /** Registers a device through the RPC and answers it with its credentials. */
  register(
    client: IotClient,
    operatorId: string,
    projectId: string,
    kind?: DeviceKind,
    profile?: string,
  ): Promise<{ deviceId: string; credentials: DeviceCredentials }>;
  /** A simulated device with those credentials (stopped by stop()). */
  device(credentials: DeviceCredentials, opts?: SimDeviceOptions): SimDevice;
  /** Telemetry messages of a device stored in history (telemetry_history, channel telemetry). */
  storedTelemetry(deviceId: string): Promise<number>;
};

export const IOT_SCOPES = ['iot:read', 'iot:write'];

export async function startIotHarness(label: string, env: Record<string, string> = {}): Promise<IotHarness> {
  const topicRoot = env.IOT_MQTT_TOPIC_ROOT ?? iotTopicRoot(label);
  const h = await startServiceHarness({
    definition,
    grpcService: IotServiceService,
    label,
    scopes: IOT_SCOPES,
    env: () => ({
      IOT_MQTT_URL: testEndpoints.iotMqttUrl(),
      ...iotMqttEnv(label, topicRoot),
      IOT_MQTT_SESSION_EXPIRY_S: '300',
      IOT_INGEST_LINGER_MS: '2',
      IOT_HISTORY_THREAD: 'main',
      ...env,
    }),
  });
  const devices: SimDevice[] = [];
  h.onStop(async () => {
    await Promise.all(devices.map((d) => d.crash().catch(() => undefined)));
  });
  return {
    ...h,
    topicRoot,
    async register(
      client,
      operatorId,
      projectId,
      kind = DeviceKind.DEVICE_KIND_TEMPERATURE_SENSOR,
      profile = '',
    ) {
      const res = await client.registerDevice({
        requestId: uniqueName('reg'),
        tenancy: { operatorId, projectId, merchantId: '' },
        kind,
        name: 'sensor',
        serialNumber: uniqueName('sn'),
        profile,
      });
      return { deviceId: res.device!.deviceId, credentials: res.credentials! };
    },
    device(credentials, opts) {
      const d = new SimDevice(credentials, opts);
      devices.push(d);
      return d;
    },
    async storedTelemetry(deviceId) {
      const { rows } = await h.pool.query<{ n: string }>(
        "SELECT count(*) AS n FROM telemetry_history WHERE device_id = $1 AND channel = 'telemetry'",
        [deviceId],
      );
      return Number(rows[0]!.n);
    },
  };
}
