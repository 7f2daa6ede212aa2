// The one table deploy/k8s is generated from: the seven services, their ports (as deploy/local/start.sh
// and docs/<svc>.md), their settings that differ from the defaults in services/*/src/config.ts,
// their secrets (referenced, never committed), and the flows ARCHITECTURE.md allows between them.
// `npx nx run k8s:generate` writes deploy/k8s/base/services/*.yaml and base/kafka/topics.yaml from
// it; tools/k8s/test/manifests.spec.ts fails when the committed files differ.

export interface SecretEnv {
  env: string;
  secret: string;
  key: string;
}

export interface ServiceSpec {
  name: string;
  grpcPort: number;
  httpPort: number;
  /** Settings beyond the common ones (non-secret). */
  config?: Record<string, string>;
  /** Secret settings: each read from a Secret the platform team creates (docs/runbook-k8s.md). */
  secrets?: SecretEnv[];
  /** Services whose gRPC port this one calls (ADR 0010; the checkout saga of ARCHITECTURE.md 5). */
  calls?: string[];
  /** Talks to the MQTT broker (iot administers devices on Mosquitto). */
  mqtt?: boolean;
  /** Calls payment channels outside the cluster (egress by configured CIDR). */
  channels?: boolean;
}

export const SERVICES: ServiceSpec[] = [
  {
    name: 'identity',
    grpcPort: 50051,
    httpPort: 8081,
    secrets: [{ env: 'IDENTITY_MASTER_KEY', secret: 'identity-keys', key: 'master-key' }],
  },
  {
    name: 'payment',
    grpcPort: 50052,
    httpPort: 8082,
    config: {
      PAYMENT_PUBLIC_URL: 'http://payment:8082',
      IDENTITY_GRPC_URL: 'identity:50051',
      POINTS_GRPC_URL: 'points:50054',
      MARKETING_GRPC_URL: 'marketing:50055',
    },
    secrets: [
      { env: 'PAYMENT_CREDENTIALS_KEY', secret: 'payment-keys', key: 'credentials-key' },
      // the checkout saga calls points and marketing as payment's own API client (ADR 0010)
      { env: 'PAYMENT_CLIENT_ID', secret: 'payment-client', key: 'client-id' },
      { env: 'PAYMENT_CLIENT_SECRET', secret: 'payment-client', key: 'client-secret' },
    ],
    calls: ['identity', 'marketing', 'points'],
    channels: true,
  },
  { name: 'settlement', grpcPort: 50053, httpPort: 8083 },
  { name: 'points', grpcPort: 50054, httpPort: 8084 },
  {
    name: 'marketing',
    grpcPort: 50055,
    httpPort: 8085,
    config: {
      IDENTITY_GRPC_URL: 'identity:50051',
      PAYMENT_GRPC_URL: 'payment:50052',
      SETTLEMENT_GRPC_URL: 'settlement:50053',
    },
    secrets: [
      { env: 'MARKETING_CLIENT_ID', secret: 'marketing-client', key: 'client-id' },
      { env: 'MARKETING_CLIENT_SECRET', secret: 'marketing-client', key: 'client-secret' },
    ],
    calls: ['identity', 'payment', 'settlement'],
  },
  {
    name: 'iot',
    grpcPort: 50056,
    httpPort: 8086,
    config: {
      IOT_MQTT_URL: 'mqtt://mosquitto:1883',
      IDENTITY_GRPC_URL: 'identity:50051',
      PAYMENT_GRPC_URL: 'payment:50052',
    },
    secrets: [
      { env: 'IOT_MQTT_ADMIN_USERNAME', secret: 'mosquitto-admin', key: 'username' },
      { env: 'IOT_MQTT_ADMIN_PASSWORD', secret: 'mosquitto-admin', key: 'password' },
      { env: 'IOT_CLIENT_ID', secret: 'iot-client', key: 'client-id' },
      { env: 'IOT_CLIENT_SECRET', secret: 'iot-client', key: 'client-secret' },
    ],
    mqtt: true,
    // parking and charging fees are payment intents (iot's own API client, ADR 0010)
    calls: ['identity', 'payment'],
  },
  {
    name: 'data',
    grpcPort: 50057,
    httpPort: 8087,
    // the dashboard's sign-in forwards client credentials to identity's token endpoint
    config: { DATA_IDENTITY_TOKEN_URL: 'http://identity:8081/oauth/token' },
    // the city's Ed25519 key that signs the access log's checkpoints (ADR 0011)
    secrets: [{ env: 'DATA_SIGNING_KEY', secret: 'data-keys', key: 'signing-key' }],
  },
];

/** The single container image (deploy/k8s/Dockerfile); overlays pin its registry and tag. */
export const IMAGE = 'citybase:0.1.0';
/** The consumer lag gauge of libs/platform/src/messaging/metrics.ts, served on each /metrics. */
export const CONSUMER_LAG_METRIC = 'consumer_lag';
/** The Strimzi Kafka cluster (its bootstrap Service is <name>-kafka-bootstrap). */
export const KAFKA_CLUSTER = 'citybase';
export const KAFKA_PORT = 9092;
/** Default partitions of a topic (KAFKA_TOPIC_PARTITIONS in libs/platform config). */
export const TOPIC_PARTITIONS = 6;
export const POSTGRES_IMAGE = 'ghcr.io/cloudnative-pg/postgresql:17.5';

export const labels = (name: string, component: string): Record<string, string> => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/component': component,
  'app.kubernetes.io/part-of': 'citybase',
});
export const selector = (name: string): Record<string, string> => ({ 'app.kubernetes.io/name': name });
