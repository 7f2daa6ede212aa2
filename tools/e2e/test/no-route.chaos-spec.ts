import { ChildProcess, execFile, spawn } from 'child_process';
import { existsSync, readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { promisify } from 'util';
import { REPO_ROOT, waitFor } from '@citybase/platform/testing';
import {
  OUTBOUND_FAILURE,
  outOfCity,
  parseConnectTrace,
  parseSockets,
  SocketSample,
  socketViolations,
} from '../src/no-route';

/**
 * Nothing leaves the city (issue 17; docs/no-route.md): the whole city as `npm start` runs it,
 * with its own PostgreSQL, Redis, Kafka and Mosquitto, and load on it, inside a network namespace
 * that has only loopback (deploy/local/netns.sh). Everything works there, and every connection
 * any of its processes opened, or tried to open, went to one of the city's configured endpoints.
 */
const NAME = 'citybase-noroute-test';
const DIR = `/tmp/${NAME}`;
const NETNS = join(REPO_ROOT, 'deploy/local/netns.sh');
const ENV = { ...process.env, NETNS_NAME: NAME, NETNS_DIR: DIR, NETNS_KEEP_DIR: '0' };

/** The city's configured endpoints (start.sh, netns.sh): nothing else may be connected to. */
const CITY_PORTS = new Set([
  5432, // PostgreSQL
  6379, // Redis
  9092, // Kafka
  9093, // Kafka's controller listener (the broker to itself)
  1883, // MQTT
  1885, // the project's Mosquitto (iot devices)
  8090, // the sandbox payment channel
  ...[50051, 50052, 50053, 50054, 50055, 50056, 50057], // the services' gRPC
  ...[8081, 8082, 8083, 8084, 8085, 8086, 8087], // the services' HTTP
]);

const run = promisify(execFile);
const netns = (args: string[], env: NodeJS.ProcessEnv = {}, timeout = 300_000) =>
  run('bash', [NETNS, ...args], { cwd: REPO_ROOT, env: { ...ENV, ...env }, timeout, maxBuffer: 64 << 20 });

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return ''; // gone since
  }
};
const nsPids = async (): Promise<number[]> =>
  (await run('ip', ['netns', 'pids', NAME])).stdout.split('\n').filter(Boolean).map(Number);

/** What a process of the namespace is: a service, the sandbox channel, the simulator, a server... */
const role = (pid: number, name: string): string => {
  const cmd = cmdline(pid);
  return (
    /services\/(\w+)\/dist\/main\.js/.exec(cmd)?.[1] ??
    /tools\/([\w-]+)\/(?:dist|bin)\//.exec(cmd)?.[1] ??
    `${name}(${cmd.split(' ')[0] || 'gone'})`
  );
};

describe('nothing leaves the city: the whole city and its load in a network namespace with only loopback', () => {
  let city: ChildProcess | undefined;
  let cityOut = '';
  let cityExit: Promise<number | null> = Promise.resolve(null);

  beforeAll(async () => {
    await netns(['down']); // a namespace left by a run that was killed
    await netns(['up']);
  }, 600_000);

  afterAll(async () => {
    if (city && city.exitCode === null) city.kill('SIGKILL');
    await netns(['down']);
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(NAME);
  }, 120_000);

  it('has only loopback: no other interface, no route, a connect to a public address fails with ENETUNREACH, and that attempt is caught', async () => {
    const links = (await run('ip', ['-n', NAME, '-o', 'link', 'show'])).stdout;
    expect(
      links
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(': ')[1]),
    ).toEqual(['lo']);
    expect((await run('ip', ['-n', NAME, 'route', 'show', 'table', 'main'])).stdout.trim()).toBe('');
    const v6 = (await run('ip', ['-n', NAME, '-6', 'route', 'show', 'table', 'main'])).stdout;
    expect(v6.split('\n').filter((l) => l && !/ dev lo /.test(l))).toEqual([]);

    // The control: an attempt to leave fails, and the strace watch that judges the city sees it.
    const trace = join(DIR, 'probe.trace');
    const probe = await netns(['exec', 'node', '-e', PROBE], { NETNS_TRACE: trace });
    expect(JSON.parse(probe.stdout)).toEqual({ tcp: 'ENETUNREACH', dns: 'EAI_AGAIN' });
    const caught = outOfCity(parseConnectTrace(readFileSync(trace, 'utf8')), CITY_PORTS);
    expect(caught.map((c) => `${c.address}:${c.port}`)).toEqual(
      expect.arrayContaining(['192.0.2.1:443', expect.stringMatching(/:53$/)]),
    );
  });

  it('runs the whole city there (npm start), takes load, and connects to nothing but its own endpoints', async () => {
    const cityTrace = join(DIR, 'city.trace');
    city = spawn('bash', [NETNS, 'start'], {
      cwd: REPO_ROOT,
      // npm start's own gentle load off: the test runs the simulator itself, for its exit status and report
      env: { ...ENV, NETNS_TRACE: cityTrace, LOG_LEVEL: 'info', CITYBASE_SIM_RATE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    city.stdout?.on('data', (d: Buffer) => (cityOut += d.toString()));
    city.stderr?.on('data', (d: Buffer) => (cityOut += d.toString()));
    const proc = city;
    cityExit = new Promise((r) => proc.once('exit', (code) => r(code)));
    const state = await waitFor(
      '"Citybase is up" inside the namespace',
      async () => (proc.exitCode !== null ? 'exited' : cityOut.includes('Citybase is up') ? 'up' : undefined),
      300_000,
      500,
    );
    expect({ state, out: state === 'up' ? '' : cityOut.slice(-4000) }).toEqual({ state: 'up', out: '' });

    // Every socket in the namespace, sampled every second while the load runs.
    const samples: SocketSample[] = [];
    const roles = new Map<number, string>();
    let sampling = true;
    let sampleCount = 0;
    const sampler = (async () => {
      while (sampling) {
        const sockets = parseSockets((await run('ip', ['netns', 'exec', NAME, 'ss', '-tunapH'])).stdout);
        for (const s of sockets)
          for (const p of s.processes) if (!roles.has(p.pid)) roles.set(p.pid, role(p.pid, p.name));
        samples.push(...sockets);
        sampleCount++;
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();

    let load: { stdout: string; stderr: string };
    try {
      load = await netns(
        [
          ...['exec', 'node', 'tools/simulator/dist/main.js', '--rate', '5', '--duration', '60'],
          ...['--credentials', join(DIR, 'state/city-admin.json')],
        ],
        { NETNS_TRACE: join(DIR, 'load.trace') },
        400_000,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    // its last line is the report: every invariant held (exit 0 says so too), every operation worked
    const report = JSON.parse(load.stdout.trim().split('\n').pop() ?? '{}') as {
      simulator?: string;
      ok?: boolean;
      totals?: { ok: number; failed: number };
      opsPerSecond?: number;
    };
    expect({ simulator: report.simulator, ok: report.ok, failed: report.totals?.failed }).toEqual({
      simulator: 'report',
      ok: true,
      failed: 0,
    });
    expect(report.totals?.ok).toBeGreaterThan(100);

    // Stop the city as Ctrl-C would: SIGTERM to start.sh, which stops its services and exits 0.
    const startSh = (await nsPids()).filter((pid) => /^bash \S*deploy\/local\/start\.sh/.test(cmdline(pid)));
    expect(startSh).toHaveLength(1);
    process.kill(startSh[0], 'SIGTERM');
    expect(await cityExit).toBe(0);

    // 1. every connect(2) of the city (start.sh, build, CLI, services, sandbox channel) and of the load
    const calls = ['city.trace', 'load.trace'].flatMap((f) =>
      parseConnectTrace(readFileSync(join(DIR, f), 'utf8')),
    );
    const inet = calls.filter((c) => c.family === 'AF_INET' || c.family === 'AF_INET6');
    expect(inet.length).toBeGreaterThan(100);
    expect(outOfCity(calls, CITY_PORTS).map((c) => c.line)).toEqual([]);
    // the services talked to each configured kind of endpoint
    const reached = new Set(inet.map((c) => c.port));
    for (const port of [5432, 6379, 9092, 1885, 8090, 50051])
      expect([port, reached.has(port)]).toEqual([port, true]);

    // 2. every socket seen in the namespace while the load ran
    expect(sampleCount).toBeGreaterThan(10);
    const bad = socketViolations(samples, CITY_PORTS).map(
      (s) => `${s.line} [${s.processes.map((p) => roles.get(p.pid)).join(',')}]`,
    );
    expect([...new Set(bad)]).toEqual([]);
    const seenRoles = new Set(samples.flatMap((s) => s.processes.map((p) => roles.get(p.pid))));
    // who talked to whom: outgoing connections by process and the port they went to
    const listening = new Set(samples.filter((s) => s.state === 'LISTEN').map((s) => s.local.port));
    const flows = new Map<string, Set<number>>();
    for (const s of samples) {
      if (s.state === 'LISTEN' || listening.has(s.local.port) || s.peer.port === undefined) continue;
      for (const p of s.processes) {
        const who = roles.get(p.pid) ?? p.name;
        flows.set(who, (flows.get(who) ?? new Set()).add(s.peer.port));
      }
    }
    console.log(
      `no-route: simulator ${report.totals?.ok} operations ok (${report.opsPerSecond}/s), invariants held; ` +
        `${calls.length} connect(2) calls (${inet.length} Internet-family), ${sampleCount} socket samples ` +
        `(${samples.length} sockets); outgoing by process: ` +
        [...flows]
          .map(([who, ports]) => `${who} -> ${[...ports].sort((a, b) => a - b).join(',')}`)
          .join('; '),
    );
    for (const service of ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot', 'data'])
      expect([service, flows.get(service)?.has(5432), flows.get(service)?.has(9092)]).toEqual([
        service,
        true,
        true,
      ]);
    for (const service of [
      'identity',
      'payment',
      'settlement',
      'points',
      'marketing',
      'iot',
      'data',
      'sandbox-channel',
    ])
      expect([service, seenRoles.has(service)]).toEqual([service, true]);

    // the city's secrets and logs were those of the namespace's state dir, not the machine's local city
    for (const f of [
      'state/identity-master.key',
      'state/city-admin.json',
      'local/logs/payment.log',
      'local/kafka/data',
    ])
      expect([f, existsSync(join(DIR, f))]).toEqual([f, true]);

    // 3. no process logged a failed attempt to reach outside (DNS, telemetry, update checks)
    const logDir = join(DIR, 'local/logs');
    const logs = readdirSync(logDir).map((f) => [f, readFileSync(join(logDir, f), 'utf8')] as const);
    expect(logs.length).toBeGreaterThanOrEqual(8);
    const failures = [
      ...logs,
      ['simulator', `${load.stdout}\n${load.stderr}`] as const,
      ['start.sh', cityOut] as const,
    ].flatMap(([f, text]) =>
      text
        .split('\n')
        .filter((l) => OUTBOUND_FAILURE.test(l))
        .map((l) => `${f}: ${l}`),
    );
    expect(failures).toEqual([]);
  }, 900_000);

  it('leaves nothing behind: down stops every process of the namespace and deletes it', async () => {
    const pids = await nsPids();
    expect(pids.length).toBeGreaterThan(0); // its servers still run until down
    await netns(['down']);
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(NAME);
    expect(pids.filter((pid) => existsSync(`/proc/${pid}`) && cmdline(pid) !== '')).toEqual([]);
    expect(existsSync(DIR)).toBe(false);
  });
});

/** Run inside: one TCP connect to a documentation address (RFC 5737) and one DNS lookup. */
const PROBE = `
const net = require('net'), dns = require('dns');
const tcp = new Promise((r) => net.connect(443, '192.0.2.1').on('connect', () => r('connected')).on('error', (e) => r(e.code)));
const lookup = new Promise((r) => dns.lookup('example.com', (e) => r(e ? e.code : 'resolved')));
Promise.all([tcp, lookup]).then(([tcp, dns]) => console.log(JSON.stringify({ tcp, dns })));
`;
