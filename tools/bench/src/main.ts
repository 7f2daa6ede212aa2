// `npm run bench -- <name>` (deploy/local/bench.sh builds, then runs this): performance
// measurements on this machine against the real servers, each framed by raw baselines measured in
// the same run (ARCHITECTURE.md section 9). Figures go to stdout and .bench/<name>.json; nothing
// here passes or fails on timing.
import { runBackbone } from './backbone';
import { runData } from './data';
import { runCheckout } from './checkout';
import { runCityBench } from './city';
import { runIdentity } from './identity';
import { runIot } from './iot';
import { runLedger } from './ledger';
import { runMarketing } from './marketing';
import { runPayment } from './payment';
import { runPoints } from './points';
import { Cleanup, note, startOwnUsage } from './common';
import { BenchConfigError } from './stats';

interface Benchmark {
  summary: string;
  run(cleanup: Cleanup): Promise<void>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  backbone: {
    summary: 'outbox -> relay -> Kafka -> inbox throughput and latency, with Kafka and pgbench baselines',
    run: runBackbone,
  },
  identity: {
    summary:
      'tokens issued per second and token checks per second in the gRPC authenticator, with crypto, Redis and pgbench baselines',
    run: runIdentity,
  },
  payment: {
    summary:
      'end-to-end payments per second (create > sandbox notification > PaymentSucceeded consumed), create latency, pgbench baseline',
    run: runPayment,
  },
  ledger: {
    summary:
      'ledger transactions posted per second on one hot escrow account and spread over many, pgbench baseline',
    run: runLedger,
  },
  points: {
    summary:
      'points transactions per second (issue, reserve, confirm over gRPC) spread over many accounts and on one hot account, reserve latency, pgbench baseline',
    run: runPoints,
  },
  data: {
    summary:
      "events per second ingested by the data service's analytical store from every source topic, next to the same run's backbone throughput; feed_rows_per_s, an agency's masked NDJSON export (default 1,000,000 rows), bare SELECT baseline",
    run: runData,
  },
  checkout: {
    summary:
      'end-to-end checkouts per second (coupon + points + money, completed) and checkout p99, next to payments per second of the same run',
    run: runCheckout,
  },
  iot: {
    summary:
      'device telemetry per second through broker > iot > Kafka > PostgreSQL (lost must be 0), alarm latency under that load, Mosquitto and Kafka baselines',
    run: runIot,
  },
  marketing: {
    summary:
      'coupon claims per second on one hot flash-sale campaign (oversold must be 0), bare Redis EVALSHA baseline',
    run: runMarketing,
  },
  city: {
    summary:
      "the city simulator's sustained business operations per second with every service and the 1-broker stack, each service's CPU and peak RSS at that load, pgbench baseline",
    run: runCityBench,
  },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([name, b]) => `  ${name.padEnd(12)} ${b.summary}`);
  return [
    'usage: npm run bench -- <benchmark>|all',
    '       node tools/bench/dist/main.js <benchmark>|all',
    '',
    'benchmarks:',
    ...names,
    `  ${'all'.padEnd(12)} every benchmark above in turn, each writing its own report`,
    '',
    'sizes: BENCH_EVENTS, BENCH_WARMUP, BENCH_WRITERS, BENCH_PARTITIONS, BENCH_KAFKA_MESSAGES, BENCH_KAFKA_BATCH,',
    '       BENCH_KAFKA_VALUE_BYTES, BENCH_PGBENCH_SCALE, BENCH_PGBENCH_CLIENTS, BENCH_PGBENCH_THREADS, BENCH_PGBENCH_SECONDS',
    '       BENCH_TOKENS, BENCH_TOKENS_WARMUP, BENCH_ISSUE_CONCURRENCY, BENCH_VERIFICATIONS, BENCH_VERIFY_CONCURRENCY (identity)',
    '       BENCH_PAYMENTS, BENCH_PAYMENT_CONCURRENCY (payment)',
    '       BENCH_CHECKOUTS, BENCH_CHECKOUT_PAYMENTS, BENCH_CHECKOUT_CONCURRENCY (checkout)',
    '       BENCH_LEDGER_TRANSACTIONS, BENCH_LEDGER_CONCURRENCY, BENCH_LEDGER_ACCOUNTS (ledger)',
    '       BENCH_CLAIMS, BENCH_CLAIM_COUPONS, BENCH_CLAIM_CONCURRENCY, BENCH_QUOTE_RATE, BENCH_QUOTE_SECONDS (marketing)',
    '       BENCH_DATA_EVENTS, BENCH_DATA_OPERATORS (data; BENCH_EVENTS and BENCH_BULK_EVENTS size its backbone run, default 10,000)',
    '       BENCH_FEED_ROWS, BENCH_FEED_BATCH_ROWS (data: the feed export)',
    '       BENCH_IOT_DEVICES, BENCH_IOT_WINDOW, BENCH_IOT_SECONDS, BENCH_IOT_BASELINE_MESSAGES, BENCH_IOT_REPLICAS,',
    '       BENCH_IOT_RATE (offered msgs/s, default 0: as fast as the broker takes), BENCH_IOT_HISTORY_THREAD (worker or main) (iot)',
    '       BENCH_CITY_RATE, BENCH_CITY_SECONDS, BENCH_CITY_OPERATORS, BENCH_CITY_COMMUNITIES, BENCH_CITY_HOUSEHOLDS (city)',
    '       BENCH_POINTS_SCRIPTS, BENCH_POINTS_HOT_SCRIPTS, BENCH_POINTS_ACCOUNTS, BENCH_POINTS_CONCURRENCY (points)',
    'other: BENCH_LOG_LEVEL (default warn), BENCH_STALL_SECONDS (hang guard, default 60), BENCH_PGBENCH_BIN,',
    '       BENCH_CPU_PROF_DIR (CPU profiles of the spawned services), BENCH_NODE_ARGS (node flags for them),',
    '       TEST_POSTGRES_URL, KAFKA_BROKERS',
  ].join('\n');
}

async function main(args: string[]): Promise<number> {
  const name = args[0];
  const names =
    name === 'all'
      ? Object.keys(BENCHMARKS)
      : name !== undefined && Object.hasOwn(BENCHMARKS, name)
        ? [name]
        : undefined;
  if (!names) {
    process.stderr.write(
      `${name === undefined ? 'no benchmark given' : `unknown benchmark: ${name}`}\n\n${usage()}\n`,
    );
    return 2;
  }
  let cleanup = new Cleanup();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    note(`${signal}: cleaning up`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let status = 0;
  // one after the other, each with its own clean-up; a failure does not stop the next ones
  for (const bench of names) {
    cleanup = new Cleanup();
    startOwnUsage();
    const code = await runOne(bench, BENCHMARKS[bench]!, cleanup, () => interrupted !== undefined);
    if (code === 130) return code;
    status = Math.max(status, code);
  }
  return status;
}

async function runOne(
  name: string,
  bench: Benchmark,
  cleanup: Cleanup,
  interrupted: () => boolean,
): Promise<number> {
  try {
    await bench.run(cleanup);
    return 0;
  } catch (err) {
    if (interrupted()) return 130; // the failure is the interruption's doing
    if (err instanceof BenchConfigError) {
      process.stderr.write(`${err.message}\n\n${usage()}\n`);
      return 2;
    }
    process.stderr.write(`[bench] ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  } finally {
    note('cleaning up (databases, topics, consumer groups)');
    await cleanup.run();
  }
}

// Exit explicitly: client libraries may keep timers alive after everything is closed.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] ${String(err)}\n`);
    process.exit(1);
  },
);
