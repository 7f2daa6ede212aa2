/** How a day of life runs (the CLI's flags, or runCity's options). */
export interface CityOptions {
  /** Business operations started per second (open loop); 0: build the city, run nothing. */
  rate: number;
  /** Seconds of the day of life; undefined: until stopped (SIGINT / SIGTERM / the abort signal). */
  durationS?: number;
  /** Seed of every random choice (operations, amounts, plates); also names this run's city. */
  seed: string;
  /** The city admin client's credentials (`citybase init --save`): JSON {client_id, client_secret}. */
  credentialsFile: string;
  /** The same credentials given directly (wins over credentialsFile). */
  credentials?: { client_id: string; client_secret: string };
  /** Size of the city. */
  operators: number;
  communitiesPerOperator: number;
  householdsPerCommunity: number;
  sensorsPerCommunity: number;
  /** At most this many operations at once (beyond it, due ones are skipped and counted). */
  maxInFlight: number;
  /**
   * Seconds the end of the run waits for group buys past their deadline to end and for settlement to
   * follow before judging them (default 25: npm start's stop grace; longer after chaos, when
   * consumers catch up on their lag).
   */
  settleS?: number;
}

export const DEFAULTS = {
  rate: 2,
  operators: 2,
  communitiesPerOperator: 2,
  householdsPerCommunity: 4,
  sensorsPerCommunity: 2,
  maxInFlight: 64,
  settleS: 25,
} as const;

export class UsageError extends Error {}

export const USAGE = `usage: node tools/simulator/dist/main.js [options]

  --rate N            business operations per second (default ${DEFAULTS.rate}; 0: build the city only)
  --duration S        seconds to run, or "forever" (default forever: until Ctrl-C / SIGTERM)
  --seed X            seed of the random choices (default: random); names this run's city
  --credentials FILE  the city admin client (citybase init --save), else CITYBASE_CLIENT_ID/_SECRET
  --operators N       property operators (default ${DEFAULTS.operators})
  --communities N     communities per operator (default ${DEFAULTS.communitiesPerOperator})
  --households N      households per community (default ${DEFAULTS.householdsPerCommunity})
  --sensors N         sensors per community (default ${DEFAULTS.sensorsPerCommunity})
  --max-in-flight N   operations running at once at most (default ${DEFAULTS.maxInFlight})
  --settle S          seconds the end waits for group buys to end and settle (default ${DEFAULTS.settleS})

Endpoints (the variables deploy/local/start.sh gives services; defaults are npm start's ports):
  IDENTITY_GRPC_URL PAYMENT_GRPC_URL SETTLEMENT_GRPC_URL POINTS_GRPC_URL MARKETING_GRPC_URL
  IOT_GRPC_URL DATA_GRPC_URL IDENTITY_HTTP_URL SANDBOX_URL IOT_MQTT_URL SETTLEMENT_DATABASE_URL (or PGURL)
  Replicas (start.sh --replicas N): a list, e.g. PAYMENT_GRPC_URL=ipv4:127.0.0.1:50052,127.0.0.1:50152
  and IDENTITY_HTTP_URL=http://127.0.0.1:8081,http://127.0.0.1:8181; a call answered UNAVAILABLE or
  DEADLINE_EXCEEDED is made again (same request id) on the next replica.
Ends with one JSON line {"simulator":"report",...}; exit 0 only when every invariant holds.`;

const positiveInt = (flag: string, v: string, min = 1): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${flag} must be an integer >= ${min} (got '${v}')`);
  return n;
};

/** Parses the CLI's arguments (no file is read here). `env` gives CITYBASE_SIM_RATE and the credentials' fallbacks. */
export function parseArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  randomSeed: () => string,
): Omit<CityOptions, 'credentialsFile'> & { credentialsFile?: string; help: boolean } {
  const out: Omit<CityOptions, 'credentialsFile'> & { credentialsFile?: string; help: boolean } = {
    rate: DEFAULTS.rate,
    seed: '',
    operators: DEFAULTS.operators,
    communitiesPerOperator: DEFAULTS.communitiesPerOperator,
    householdsPerCommunity: DEFAULTS.householdsPerCommunity,
    sensorsPerCommunity: DEFAULTS.sensorsPerCommunity,
    maxInFlight: DEFAULTS.maxInFlight,
    help: false,
  };
  if (env.CITYBASE_SIM_RATE !== undefined && env.CITYBASE_SIM_RATE !== '')
    out.rate = parseRate('CITYBASE_SIM_RATE', env.CITYBASE_SIM_RATE);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') {
      out.help = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    i += 1;
    switch (flag) {
      case '--rate':
        out.rate = parseRate(flag, value);
        break;
      case '--duration':
        out.durationS = value === 'forever' ? undefined : positiveInt(flag, value);
        break;
      case '--seed':
        if (!/^[A-Za-z0-9_-]{1,32}$/.test(value))
          throw new UsageError('--seed must be 1-32 letters, digits, _ or -');
        out.seed = value;
        break;
      case '--credentials':
        out.credentialsFile = value;
        break;
      case '--operators':
        out.operators = positiveInt(flag, value);
        break;
      case '--communities':
        out.communitiesPerOperator = positiveInt(flag, value);
        break;
      case '--households':
        out.householdsPerCommunity = positiveInt(flag, value);
        break;
      case '--sensors':
        out.sensorsPerCommunity = positiveInt(flag, value, 0);
        break;
      case '--max-in-flight':
        out.maxInFlight = positiveInt(flag, value);
        break;
      case '--settle':
        out.settleS = positiveInt(flag, value);
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (out.seed === '') out.seed = randomSeed();
  return out;
}

function parseRate(what: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 10_000)
    throw new UsageError(`${what} must be a number of operations per second, 0-10000 (got '${v}')`);
  return n;
}
