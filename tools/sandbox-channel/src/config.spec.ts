import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyBehaviourPatch,
  type Behaviour,
  behaviourFromEnv,
  DEFAULT_BEHAVIOUR,
  envName,
  loadSandboxConfig,
  SandboxConfigError,
} from './config';

/** The behaviour defaults docs/sandbox-channel.md states, e.g. "`SANDBOX_AUTO_PAY_DELAY_MS` (default 200)". */
function documentedDefaults(): Record<string, unknown> {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'sandbox-channel.md'), 'utf8');
  const names = Object.keys(DEFAULT_BEHAVIOUR) as (keyof Behaviour)[];
  const defaults: Record<string, unknown> = {};
  for (const [, variable, value] of doc.matchAll(/`(SANDBOX_\w+)` \([^()]*?default `?([\w.]+)`?\)/g)) {
    const name = names.find((n) => envName(n) === variable);
    if (!name || value === undefined) continue; // SANDBOX_PORT, SANDBOX_HOST: server settings
    defaults[name] =
      value === 'true' || value === 'false' ? value === 'true' : /^\d/.test(value) ? Number(value) : value;
  }
  return defaults;
}

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SandboxConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a SandboxConfigError');
};

describe('sandbox configuration', () => {
  it('names every environment variable as the contract does', () => {
    expect(Object.keys(DEFAULT_BEHAVIOUR).map((k) => envName(k as keyof typeof DEFAULT_BEHAVIOUR))).toEqual([
      'SANDBOX_LATENCY_MS',
      'SANDBOX_FAILURE_RATE',
      'SANDBOX_TIMEOUT_RATE',
      'SANDBOX_AUTO_PAY',
      'SANDBOX_AUTO_PAY_DELAY_MS',
      'SANDBOX_NOTIFY_DELAY_MS',
      'SANDBOX_DUPLICATE_RATE',
      'SANDBOX_REORDER',
      'SANDBOX_REFUND_DELAY_MS',
      'SANDBOX_REFUND_FAILURE_RATE',
    ]);
  });

  it('has the documented defaults with nothing set', () => {
    const documented = documentedDefaults();
    expect(Object.keys(documented).sort()).toEqual(Object.keys(DEFAULT_BEHAVIOUR).sort());
    expect(loadSandboxConfig({})).toEqual({
      server: { port: 8090, host: '127.0.0.1', logLevel: 'info' },
      behaviour: documented,
    });
  });

  it('parses the environment, empty variables counting as unset', () => {
    const { server, behaviour } = loadSandboxConfig({
      SANDBOX_PORT: '41234',
      SANDBOX_HOST: '0.0.0.0',
      SANDBOX_LATENCY_MS: '25',
      SANDBOX_FAILURE_RATE: '0.5',
      SANDBOX_TIMEOUT_RATE: '',
      SANDBOX_AUTO_PAY: 'success',
      SANDBOX_REORDER: 'true',
      SANDBOX_DUPLICATE_RATE: '1',
      SANDBOX_REFUND_FAILURE_RATE: '.25',
    });
    expect(server).toEqual({ port: 41234, host: '0.0.0.0', logLevel: 'info' });
    expect(behaviour).toMatchObject({
      latencyMs: 25,
      failureRate: 0.5,
      timeoutRate: 0,
      autoPay: 'success',
      reorder: true,
      duplicateRate: 1,
      refundFailureRate: 0.25,
    });
  });

  it('reports every bad variable at once, each with its rule', () => {
    const problems = problemsOf(() =>
      loadSandboxConfig({
        SANDBOX_PORT: '70000',
        SANDBOX_LATENCY_MS: '-1',
        SANDBOX_FAILURE_RATE: '1.5',
        SANDBOX_AUTO_PAY: 'maybe',
        SANDBOX_REORDER: 'yes',
        SANDBOX_NOTIFY_DELAY_MS: '1.5',
        LOG_LEVEL: 'loud',
      }),
    );
    expect(problems.sort()).toEqual([
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'SANDBOX_AUTO_PAY: must be one of success, fail, off',
      'SANDBOX_FAILURE_RATE: must be a number from 0 to 1',
      'SANDBOX_LATENCY_MS: must be an integer number of milliseconds from 0 to 3600000',
      'SANDBOX_NOTIFY_DELAY_MS: must be an integer number of milliseconds from 0 to 3600000',
      'SANDBOX_PORT: must be a port number from 0 to 65535',
      'SANDBOX_REORDER: must be true or false',
    ]);
  });

  it('changes only the settings a PUT /sandbox/config body names', () => {
    const current = behaviourFromEnv({ SANDBOX_LATENCY_MS: '10' });
    const next = applyBehaviourPatch(current, { failureRate: 0.1, reorder: true, autoPay: 'fail' });
    expect(next).toEqual({ ...current, failureRate: 0.1, reorder: true, autoPay: 'fail' });
    expect(current.failureRate).toBe(0);
  });

  it('refuses a patch with JSON values of the wrong type or unknown names, changing nothing', () => {
    const current = { ...DEFAULT_BEHAVIOUR };
    const problems = problemsOf(() =>
      applyBehaviourPatch(current, { latencyMs: '10', reorder: 'true', timeoutRate: -0.1, retries: 3 }),
    );
    expect(problems).toEqual([
      'latencyMs: must be an integer number of milliseconds from 0 to 3600000',
      'reorder: must be true or false',
      'timeoutRate: must be a number from 0 to 1',
      expect.stringMatching(/^retries: unknown setting/),
    ]);
    expect(current).toEqual(DEFAULT_BEHAVIOUR);
    expect(problemsOf(() => applyBehaviourPatch(current, [1]))).toEqual(['body: must be a JSON object']);
  });
});
