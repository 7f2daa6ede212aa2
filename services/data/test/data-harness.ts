// Set-up of the data suites: the data service in-process on its own database and Kafka namespace,
// a Kafka producer publishing the other services' events onto their topics exactly as their
// relays would (publishEvent), and waits for the store to have applied and folded them.
import { Kafka, logLevel, Producer } from 'kafkajs';
import type { EventType } from '@citybase/contracts/event-types';
import { AnalyticsServiceService } from '@citybase/contracts/citybase/data/v1/analytics';
import {
  publishEvent,
  ServiceHarness,
  startServiceHarness,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { definition } from '../src/definition';

export interface DataHarness extends ServiceHarness<typeof AnalyticsServiceService> {
  /** Publishes one event as `service` would; resolves with its event id (`eventId` repeats one). */
  publish<T>(
    service: string,
    type: EventType<T>,
    payload: T,
    opts?: { key?: string; eventId?: string },
  ): Promise<string>;
  /** Waits until every given event is in its consumer's inbox and nothing is left to fold. */
  settled(eventIds: string[]): Promise<void>;
}

export async function startDataHarness(
  label: string,
  env: Record<string, string> = {},
): Promise<DataHarness> {
  const h = await startServiceHarness({
    definition,
    grpcService: AnalyticsServiceService,
    label,
    scopes: ['data:read'],
    env: () => ({
      DATA_FOLD_INTERVAL_MS: '100',
      DATA_FRESHNESS_INTERVAL_MS: '200',
      DATA_DASHBOARD_MIN_INTERVAL_MS: '300',
      DATA_RETENTION_INTERVAL_MS: '3600000',
      ...env,
    }),
  });
  let producer: Producer;
  try {
    producer = new Kafka({
      clientId: uniqueName('data-sources'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
  } catch (err) {
    await h.stop();
    throw err;
  }
  h.onStop(() => producer.disconnect());
  return {
    ...h,
    publish: (service, type, payload, opts = {}) =>
      publishEvent(producer, { service, topicPrefix: h.topicPrefix }, type, payload, {
        key: opts.key ?? uniqueName('key'),
        eventId: opts.eventId,
      }),
    settled: async (eventIds) => {
      await waitFor(
        `${eventIds.length} events applied by the store and folded`,
        async () => {
          const { rows } = await h.pool.query<{ applied: number; pending: number }>(
            `SELECT (SELECT count(DISTINCT event_id)::int FROM inbox WHERE consumer LIKE 'data.store.%' AND event_id = ANY($1::uuid[])) AS applied,
                    (SELECT count(*)::int FROM rollup_pending) AS pending`,
            [eventIds],
          );
          return rows[0]!.applied === new Set(eventIds).size && rows[0]!.pending === 0 ? true : undefined;
        },
        60_000,
      );
    },
  };
}
