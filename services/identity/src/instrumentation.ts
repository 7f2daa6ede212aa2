// Loaded first by main.ts: tracing must hook gRPC, Kafka, pg and Redis before they are required.
import { startTelemetry } from '@citybase/platform/telemetry';

startTelemetry('identity');
