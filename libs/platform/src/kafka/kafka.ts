import { Admin, Kafka, logLevel, LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

import { eventsTopic } from '@citybase/contracts/event-types';

export { eventsTopic };
export const dlqTopic = (consumer: string): string => `citybase.dlq.${consumer}`;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// kafkajs' table of broker error codes; `retriable` ones are those its clients retry by themselves
const { errorCodes } = require('kafkajs/src/protocol/error') as {
  errorCodes: { message: string; retriable: boolean }[];
};
const RETRIABLE_BROKER_ERRORS = new Set(errorCodes.filter((e) => e.retriable).map((e) => e.message));

/**
 * kafkajs logs every error answer of the broker at ERROR before it retries it ("The coordinator is
 * loading", "not the leader", ...). Those are the client working as designed, so they are warnings
 * here; an error that outlives the retries reaches our code and is logged there as an error.
 */
export function kafkaLogLevel(entry: LogEntry): 'error' | 'warn' | 'info' | 'debug' {
  const level = LEVELS[entry.level] ?? 'info';
  const error = (entry.log as { error?: unknown }).error;
  if (
    level === 'error' &&
    entry.namespace === 'Connection' &&
    typeof error === 'string' &&
    RETRIABLE_BROKER_ERRORS.has(error)
  )
    return 'warn';
  return level;
}

/** A kafkajs client whose logs go to the service's JSON log. */
export function createKafka(opts: { clientId: string; brokers: string[]; logger?: Logger }): Kafka {
  const log = opts.logger?.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!log) return;
      const { message, ...extra } = entry.log;
      log[kafkaLogLevel(entry)]({ namespace: entry.namespace, ...extra }, message);
    },
  });
}

/**
 * Creates missing topics (existing ones are left as they are) and waits until every partition of
 * every topic has a leader. On a fresh Kafka 4 broker a just-created topic briefly answers "unknown
 * topic", which kafkajs' own waitForLeaders treats as fatal, so the wait here treats it as "not yet".
 * Several processes may create the same topic at once; whoever loses the race just waits.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  numPartitions: number,
  timeoutMs = 60_000,
): Promise<void> {
  if (topics.length === 0) return;
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions })),
        waitForLeaders: false,
      });
    } catch (err) {
      const already = new Set(await admin.listTopics());
      if (!missing.every((t) => already.has(t))) throw err;
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: [...topics] });
      if (
        meta.length === topics.length &&
        meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      )
        return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
