// Raw capacity of this machine's servers, measured in the same run as the benchmark they frame
// (ARCHITECTURE.md section 9): a bare Kafka producer/consumer and pgbench.
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdtemp, rm, writeFile } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import type { Kafka, Message } from 'kafkajs';
import { ensureTopics } from '@citybase/platform';
import { Client } from 'pg';
import { TestDatabase, testEndpoints, uniqueName } from '@citybase/platform/testing';
import { benchDatabase, Cleanup, cleanupKafka, Completion, Figure, note, now, withAdmin } from './common';
import { intFromEnv, parsePgbenchTps, perSecond, round } from './stats';

const run = promisify(execFile);

export interface KafkaBaselineParams {
  messages: number;
  batch: number;
  valueBytes: number;
  partitions: number;
}

export function kafkaBaselineParams(env: NodeJS.ProcessEnv): KafkaBaselineParams {
  return {
    messages: intFromEnv(env, 'BENCH_KAFKA_MESSAGES', 50_000),
    batch: intFromEnv(env, 'BENCH_KAFKA_BATCH', 500),
    valueBytes: intFromEnv(env, 'BENCH_KAFKA_VALUE_BYTES', 200),
    partitions: intFromEnv(env, 'BENCH_PARTITIONS', 6),
  };
}

/**
 * A bare kafkajs idempotent producer (acks=all, one request in flight: the relay's settings) sends
 * `messages` values in sequential batches to a fresh topic; one consumer group (already joined)
 * reads them. Events per second from the first send to the last receipt.
 */
export async function kafkaBaseline(
  kafka: Kafka,
  p: KafkaBaselineParams,
  cleanup: Cleanup,
): Promise<{ eps: number; sendMs: number; totalMs: number }> {
  const topic = uniqueName('bench.kafka-baseline');
  const groupId = topic;
  cleanupKafka(cleanup, kafka, [topic], [groupId]);
  await withAdmin(kafka, (admin) => ensureTopics(admin, [topic], p.partitions));

  const received = new Completion(p.messages, 'kafka baseline consumer');
  let lastReceipt = 0;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  cleanup.add('kafka baseline consumer', () => consumer.disconnect());
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 3, // as the inbox consumer
    eachBatch: async ({ batch }) => {
      lastReceipt = now();
      received.add(batch.messages.length);
    },
  });
  await joined;

  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  cleanup.add('kafka baseline producer', () => producer.disconnect());
  await producer.connect();
  const values = Array.from({ length: 16 }, () => randomBytes(p.valueBytes));
  note(
    `kafka baseline: ${p.messages} messages of ${p.valueBytes} bytes in batches of ${p.batch} to ${p.partitions} partitions`,
  );
  const start = now();
  for (let sent = 0; sent < p.messages;) {
    const n = Math.min(p.batch, p.messages - sent);
    const messages: Message[] = Array.from({ length: n }, (_, i) => ({
      key: `k-${sent + i}`,
      value: values[(sent + i) % values.length],
    }));
    await producer.send({ topic, acks: -1, messages });
    sent += n;
  }
  const sendMs = now() - start;
  await received.done;
  await producer.disconnect();
  await consumer.disconnect();
  const totalMs = lastReceipt - start;
  return { eps: perSecond(p.messages, totalMs), sendMs, totalMs };
}

export interface PgbenchParams {
  scale: number;
  clients: number;
  threads: number;
  seconds: number;
}

export function pgbenchParams(env: NodeJS.ProcessEnv): PgbenchParams {
  return {
    scale: intFromEnv(env, 'BENCH_PGBENCH_SCALE', 10),
    clients: intFromEnv(env, 'BENCH_PGBENCH_CLIENTS', 8),
    threads: intFromEnv(env, 'BENCH_PGBENCH_THREADS', 2),
    seconds: intFromEnv(env, 'BENCH_PGBENCH_SECONDS', 15),
  };
}

/** pgbench's custom-script workload; the account count is written in (pgbench sets :scale to 1 for custom scripts). */
export function updateScript(scale: number): string {
  return [
    `\\set aid random(1, ${scale * 100_000})`,
    'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;',
    '',
  ].join('\n');
}

/**
 * pgbench on a scratch database at the server's default synchronous_commit: initialise at
 * `scale`, then a single-row UPDATE per transaction (random account) for `seconds`.
 */
export async function pgbenchBaseline(
  p: PgbenchParams,
  cleanup: Cleanup,
): Promise<{ tps: number; synchronousCommit: string }> {
  const { db, synchronousCommit, pgbench } = await pgbenchDatabase('bench_pgbench', cleanup);
  note(`pgbench baseline: initialising scale ${p.scale} (${p.scale * 100_000} accounts) in ${db.name}`);
  await pgbench(['-i', '-q', '-s', String(p.scale)]);
  note(
    `pgbench baseline: single-row UPDATE, ${p.clients} clients, ${p.threads} threads, ${p.seconds}s (synchronous_commit=${synchronousCommit})`,
  );
  const stdout = await pgbench(
    pgbenchRunArgs(p, await scriptFile(cleanup, 'update.sql', updateScript(p.scale))),
  );
  return { tps: parsePgbenchTps(stdout), synchronousCommit };
}

/**
 * The database work a payment minimally needs, one pgbench "transaction" per payment: insert the
 * payment and its event in one transaction; update its status and insert the next event in another.
 */
export const PAYMENT_SQL_SCHEMA = `
  CREATE TABLE payments (payment_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), status smallint NOT NULL,
                         amount_minor bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                         updated_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE outbox (id bigserial PRIMARY KEY, partition_key text NOT NULL, event_type text NOT NULL,
                       payload bytea NOT NULL, published_at timestamptz);`;

export const PAYMENT_SQL_SCRIPT = [
  '\\set amount random(100, 999)',
  'BEGIN;',
  'INSERT INTO payments (status, amount_minor) VALUES (1, :amount) RETURNING payment_id \\gset',
  "INSERT INTO outbox (partition_key, event_type, payload) VALUES (':payment_id', 'PaymentCreated', '\\x00');",
  'COMMIT;',
  'BEGIN;',
  "UPDATE payments SET status = 3, updated_at = now() WHERE payment_id = ':payment_id';",
  "INSERT INTO outbox (partition_key, event_type, payload) VALUES (':payment_id', 'PaymentSucceeded', '\\x00');",
  'COMMIT;',
  '',
].join('\n');

/** pgbench of a payment's minimal SQL (PAYMENT_SQL_SCRIPT): payments per second the database alone allows. */
export async function paymentSqlBaseline(
  p: PgbenchParams,
  cleanup: Cleanup,
): Promise<{ tps: number; synchronousCommit: string }> {
  const { db, synchronousCommit, pgbench } = await pgbenchDatabase('bench_payment_sql', cleanup);
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(PAYMENT_SQL_SCHEMA);
  } finally {
    await client.end();
  }
  note(
    `payment SQL baseline: 2 transactions per payment, ${p.clients} clients, ${p.threads} threads, ${p.seconds}s (synchronous_commit=${synchronousCommit})`,
  );
  const stdout = await pgbench(
    pgbenchRunArgs(p, await scriptFile(cleanup, 'payment.sql', PAYMENT_SQL_SCRIPT)),
  );
  return { tps: parsePgbenchTps(stdout), synchronousCommit };
}

export function paymentSqlFigure(
  p: PgbenchParams,
  result: { tps: number; synchronousCommit: string },
): Figure {
  return {
    name: 'baseline_payment_sql_tps',
    value: round(result.tps, 1),
    unit: 'payments/s',
    how: `pgbench of a payment's minimal SQL (insert payment + outbox event; update status + insert event: 2 transactions), -c ${p.clients} -j ${p.threads} -T ${p.seconds} -n; synchronous_commit=${result.synchronousCommit}`,
  };
}

function pgbenchRunArgs(p: PgbenchParams, script: string): string[] {
  return ['-n', '-c', String(p.clients), '-j', String(p.threads), '-T', String(p.seconds), '-f', script];
}

async function scriptFile(cleanup: Cleanup, name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'citybase-bench-'));
  cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** A scratch database at the services' durability and a pgbench runner on it (resolves with its stdout). */
async function pgbenchDatabase(
  label: string,
  cleanup: Cleanup,
): Promise<{ db: TestDatabase; synchronousCommit: string; pgbench: (args: string[]) => Promise<string> }> {
  const { db, synchronousCommit } = await benchDatabase(label, cleanup);
  const admin = new URL(testEndpoints.postgresAdminUrl());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: admin.hostname,
    PGPORT: admin.port || '5432',
    PGUSER: decodeURIComponent(admin.username) || 'postgres',
    ...(admin.password ? { PGPASSWORD: decodeURIComponent(admin.password) } : {}),
  };
  const bin = process.env.BENCH_PGBENCH_BIN ?? 'pgbench';
  const pgbench = async (args: string[]) =>
    (await run(bin, [...args, db.name], { env, maxBuffer: 16 << 20 })).stdout;
  return { db, synchronousCommit, pgbench };
}

/** The pgbench baseline as a report figure: the machine's PostgreSQL write ceiling, for scale. */
export function pgbenchFigure(p: PgbenchParams, result: { tps: number; synchronousCommit: string }): Figure {
  return {
    name: 'baseline_pgbench_tps',
    value: round(result.tps, 1),
    unit: 'transactions/s',
    how: `pgbench -i -s ${p.scale}; custom single-row UPDATE pgbench_accounts, -c ${p.clients} -j ${p.threads} -T ${p.seconds} -n; synchronous_commit=${result.synchronousCommit}`,
  };
}

/** The pgbench parameters, as a report's params name them. */
export function pgbenchReportParams(p: PgbenchParams): Record<string, number> {
  return {
    pgbench_scale: p.scale,
    pgbench_clients: p.clients,
    pgbench_threads: p.threads,
    pgbench_seconds: p.seconds,
  };
}
