/**
 * A consumer process for process-death.int-spec.ts: it applies PaymentCreated events into an
 * `effects` table, but kills itself with SIGKILL (no cleanup, like an out-of-memory kill or a
 * native crash) when it meets the payment KILL_PAYMENT_ID. The test compiles this file with SWC
 * and runs it with node against the built library (dist/), like the services it stands for.
 */
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PaymentCreated } from '@citybase/contracts/citybase/payment/v1/events';
import { createPool, defineEvent, InboxConsumer } from '@citybase/platform';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

async function main(): Promise<void> {
  const pool = createPool(env('DATABASE_URL'), { max: 5 });
  const kafka = new Kafka({
    clientId: 'crashing-consumer',
    brokers: env('KAFKA_BROKERS').split(','),
    logLevel: logLevel.NOTHING,
  });
  const consumer = new InboxConsumer({
    name: env('CONSUMER_NAME'),
    kafka,
    pool,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
    registry: new Registry(),
    topicPrefix: env('TOPIC_PREFIX'),
    maxProcessDeaths: Number(env('MAX_PROCESS_DEATHS')),
    // a killed member keeps its partitions until its session times out: keep that short
    sessionTimeoutMs: 6_000,
  });
  const kill = env('KILL_PAYMENT_ID');
  consumer.on(
    defineEvent('citybase.payment.v1.PaymentCreated', PaymentCreated),
    async (client, event, ctx) => {
      if (event.paymentId === kill) {
        process.stdout.write(`killing myself on ${event.paymentId} (offset ${ctx.offset})\n`);
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => undefined); // never returns: the signal ends the process
      }
      await client.query('INSERT INTO effects VALUES ($1, $2)', [event.paymentId, ctx.envelope.id]);
    },
  );
  await consumer.start();
  process.stdout.write('consumer started\n');
  const stop = async () => {
    await consumer.stop();
    await pool.end();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`crashing consumer failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
