import { serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';
import { iotOpsSettings } from './ops-config';

export const iotConfig = serviceConfigSchema({
  grpcPort: 50056,
  httpPort: 8086,
  database: 'citybase_iot',
}).extend({
  // ---- the project's MQTT broker (src/mqtt, docs/iot.md "Broker") ----
  /** The project's own Mosquitto with dynamic security (deploy/local/mosquitto.sh), not the machine's on 1883. */
  IOT_MQTT_URL: z
    .string()
    .regex(/^mqtts?:\/\/[^/\s]+$/, 'must be mqtt://host:port or mqtts://host:port')
    .default('mqtt://127.0.0.1:1885'),
  /** What devices are told to connect to (RegisterDevice's answer); defaults to IOT_MQTT_URL. */
  IOT_MQTT_PUBLIC_URL: z.string().default(''),
  /** The dynamic-security admin account: provisions devices and iot's own client. */
  IOT_MQTT_ADMIN_USERNAME: z.string().min(1).default('citybase-admin'),
  IOT_MQTT_ADMIN_PASSWORD: z.string().min(1),
  /** iot's own broker client (made at start-up with a password derived from the admin's). */
  IOT_MQTT_SERVICE_USERNAME: z.string().min(1).max(64).default('citybase-iot'),
  /** MQTT client id of this instance: stable across restarts, so its session and unacked messages wait for it. */
  IOT_MQTT_CLIENT_ID: z.string().max(128).default(''),
  /** First level of every device topic: <root>/<project>/devices/<device_id>/<channel>. */
  IOT_MQTT_TOPIC_ROOT: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be letters, digits, dashes and underscores')
    .default('city'),
  /** Shared-subscription group of the instances that split the ingest ($share/<group>/...). */
  IOT_MQTT_SHARE_GROUP: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be letters, digits, dashes and underscores')
    .default('iot'),
  /** How long the broker keeps this instance's session (and its unacked messages) while it is away. */
  IOT_MQTT_SESSION_EXPIRY_S: z.coerce.number().int().min(0).max(604_800).default(3_600),
  /** How often an instance beats in mqtt_sessions and looks for sessions of instances gone. */
  IOT_MQTT_SESSIONS_JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(10_000),
  /** An instance silent this long is gone: another one takes over (drains and ends) its session. */
  IOT_MQTT_SESSION_STALE_S: z.coerce.number().int().min(1).max(86_400).default(60),
  /** How long draining a session (at shutdown, or one taken over) may take before it is left to the broker. */
  IOT_MQTT_HANDBACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  /**
   * MQTT 5 Receive Maximum of iot's connections: messages the broker may have sent and not seen
   * acknowledged (a PUBACK waits for Kafka). Without it the broker uses the protocol's 65,535 and
   * not its own max_inflight_messages: under a backlog iot held 12,000 messages at once, its event
   * loop lagged 1-1.6 s and alarms took 10 s and more (docs/iot.md "Ingest").
   */
  IOT_MQTT_RECEIVE_MAXIMUM: z.coerce.number().int().min(1).max(65_535).default(1_000),
  // ---- ingest (src/ingest, docs/iot.md "Ingest") ----
  /** Messages per Kafka batch (a batch is sent when full or after IOT_INGEST_LINGER_MS). */
  IOT_INGEST_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  IOT_INGEST_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(5),
  /** Messages received but not yet acked by Kafka above which new ones are refused (PUBACK withheld). */
  IOT_INGEST_MAX_PENDING: z.coerce.number().int().min(100).max(1_000_000).default(20_000),
  /** (device, message id) pairs remembered to drop duplicates before Kafka. */
  IOT_INGEST_DEDUP_WINDOW: z.coerce.number().int().min(0).max(10_000_000).default(200_000),
  // ---- history (src/history) ----
  /** Days of telemetry history kept (older daily partitions are dropped). */
  IOT_HISTORY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  IOT_HISTORY_JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(86_400_000).default(3_600_000),
  /**
   * Where the history writer (the telemetry consumer that stores history, latest state and
   * presence) runs: `worker`, a worker thread of its own (a second core beside ingest), or `main`,
   * the main event loop (the in-process test harness, which has no built worker file).
   */
  IOT_HISTORY_THREAD: z.enum(['worker', 'main']).default('worker'),
  // ---- presence (src/presence) ----
  IOT_PRESENCE_JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  ...iotOpsSettings,
});
export type IotConfig = z.infer<typeof iotConfig>;
