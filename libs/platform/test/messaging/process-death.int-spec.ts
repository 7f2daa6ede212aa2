import { transformFileSync } from '@swc/core';
import { ChildProcess, spawn } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { withTransaction } from '../../src/db';
import { DLQ_HEADERS, enqueue, EventEnvelope } from '../../src/messaging';
import { REPO_ROOT, testEndpoints, waitFor } from '../../src/testing';
import {
  Backbone,
  createConsumerBackbone,
  effectCount,
  PaymentCreatedEvent,
  paymentCreated,
  readTopic,
} from './backbone-fixture';

/**
 * A handler that kills its own process on one event. Without counting started-but-unfinished
 * attempts, that event would be redelivered to every new process for ever, and its partition
 * would never move again. Here a real process (crashing-consumer.fixture.ts, run on the built
 * library: `npx nx run-many -t build` first) is restarted until it stops dying.
 */

const MAX_PROCESS_DEATHS = 3;
const CONSUMER = 'test.crashing';

/** The fixture as JavaScript, in a temporary folder that resolves @citybase/* through the repo's node_modules. */
function compileFixture(dir: string): string {
  for (const lib of ['libs/platform/dist/index.js', 'libs/contracts/dist/events.js'])
    if (!existsSync(join(REPO_ROOT, lib)))
      throw new Error(`${lib} is missing: run \`npx nx run-many -t build\` before this suite`);
  const { $schema: _schema, ...swcrc } = JSON.parse(readFileSync(join(REPO_ROOT, '.swcrc'), 'utf8'));
  const { code } = transformFileSync(join(__dirname, 'crashing-consumer.fixture.ts'), {
    ...swcrc,
    sourceMaps: false,
    swcrc: false,
  });
  const file = join(dir, 'crashing-consumer.js');
  writeFileSync(file, code);
  return file;
}

describe('an event whose handler kills the process (real processes, PostgreSQL and Kafka)', () => {
  let bb: Backbone;
  let child: ChildProcess | undefined;
  const scriptDir = mkdtempSync(join(tmpdir(), 'citybase-crashing-'));
  beforeAll(async () => {
    bb = await createConsumerBackbone('death');
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await bb.close();
    rmSync(scriptDir, { recursive: true, force: true });
  });

  it(`is dead-lettered after it killed the process ${MAX_PROCESS_DEATHS} times; every other event of its partition is applied exactly once`, async () => {
    const script = compileFixture(scriptDir);
    // one key, so one partition; the killer sits in the middle of what the first fetch brings
    const ids = Array.from({ length: 40 }, (_, i) => (i === 15 ? 'killer' : `p-${i}`));
    const envelopes: EventEnvelope[] = [];
    await withTransaction(bb.pool, async (client) => {
      for (const id of ids)
        envelopes.push(
          await enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(id), { key: 'one-aggregate' }),
        );
    });
    const killerId = envelopes[15].id;
    const dlqTopic = `${bb.prefix}citybase.dlq.${CONSUMER}`;
    const admin = bb.kafka.admin();
    await admin.connect();
    const dlqSize = async () => {
      const offsets = await admin.fetchTopicOffsets(dlqTopic).catch(() => []);
      return offsets.reduce((n, o) => n + Number(o.high), 0);
    };

    const deaths: string[] = [];
    let output = '';
    try {
      for (let run = 1; ; run++) {
        // a process that keeps dying past the limit fails the test rather than looping for ever
        expect(run).toBeLessThanOrEqual(MAX_PROCESS_DEATHS + 2);
        const proc = spawn(process.execPath, [script], {
          env: {
            PATH: process.env.PATH ?? '',
            NODE_PATH: join(REPO_ROOT, 'node_modules'),
            DATABASE_URL: bb.db.url,
            KAFKA_BROKERS: testEndpoints.kafkaBrokers().join(','),
            TOPIC_PREFIX: bb.prefix,
            CONSUMER_NAME: CONSUMER,
            KILL_PAYMENT_ID: 'killer',
            MAX_PROCESS_DEATHS: String(MAX_PROCESS_DEATHS),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child = proc;
        proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
        proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
        const state = await waitFor(
          `run ${run} to die or to finish the partition`,
          async () => {
            if (proc.signalCode !== null || proc.exitCode !== null)
              return `exited ${proc.signalCode ?? proc.exitCode}`;
            return (await effectCount(bb)) === ids.length - 1 && (await dlqSize()) === 1 ? 'done' : undefined;
          },
          90_000,
          100,
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${output.slice(-3000)}`);
        });
        if (state === 'done') break;
        deaths.push(state);
      }
      // every death was the handler's SIGKILL, and there were exactly as many as allowed
      expect(deaths).toEqual(Array(MAX_PROCESS_DEATHS).fill('exited SIGKILL'));
      expect(output.match(/killing myself on killer/g)).toHaveLength(MAX_PROCESS_DEATHS);
    } finally {
      await admin.disconnect();
      const last = child;
      if (last && last.exitCode === null && last.signalCode === null) {
        const exited = new Promise((r) => last.once('exit', r));
        last.kill('SIGTERM');
        await exited;
      }
    }

    const dlq = await readTopic(bb.kafka, dlqTopic);
    try {
      await waitFor('the dead letter', async () => (dlq.seen.length === 1 ? true : undefined));
    } finally {
      await dlq.stop();
    }
    expect(dlq.seen).toHaveLength(1);
    expect(dlq.seen[0].eventId).toBe(killerId);
    expect(dlq.seen[0].value.paymentId).toBe('killer');

    // the DLQ message says why
    const headers = await dlqHeaders(bb, dlqTopic);
    expect(headers[DLQ_HEADERS.error]).toMatch(new RegExp(`crashed the process ${MAX_PROCESS_DEATHS} times`));
    expect(headers[DLQ_HEADERS.attempts]).toBe(String(MAX_PROCESS_DEATHS));
    expect(headers[DLQ_HEADERS.consumer]).toBe(CONSUMER);

    // every other event applied exactly once, none of them lost or doubled
    const { rows } = await bb.pool.query<{ payment_id: string; n: number }>(
      'SELECT payment_id, count(*)::int AS n FROM effects GROUP BY payment_id ORDER BY payment_id',
    );
    expect(rows.map((r) => r.payment_id).sort()).toEqual(ids.filter((id) => id !== 'killer').sort());
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    // and no finished event is left counted as started
    expect((await bb.pool.query('SELECT count(*)::int AS n FROM inbox_message_attempt')).rows[0].n).toBe(0);
  }, 600_000);
});

async function dlqHeaders(bb: Backbone, topic: string): Promise<Record<string, string>> {
  const c = bb.kafka.consumer({ groupId: `${bb.prefix}dlq-headers` });
  const out: Record<string, string>[] = [];
  await c.connect();
  try {
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) h[k] = String(v);
        out.push(h);
      },
    });
    return await waitFor('the dead letter headers', async () => out[0]);
  } finally {
    await c.disconnect();
  }
}
