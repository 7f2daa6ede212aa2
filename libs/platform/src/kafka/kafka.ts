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
      log[LEVELS[entry.level] ?? 'info']({ namespace: entry.namespace, ...extra }, message);
    },
  });
}

/** Creates missing topics; existing ones are left as they are. */
export async function ensureTopics(admin: Admin, topics: readonly string[], numPartitions: number): Promise<void> {
  if (topics.length === 0) return;
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions })), waitForLeaders: true });
}
