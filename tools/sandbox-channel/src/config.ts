// The sandbox's settings: where it listens (environment only) and how it behaves (environment at
// start, PUT /sandbox/config at run time with the same names in camelCase). Every problem is reported
// as "<name>: <rule>", all at once.

export type AutoPay = 'success' | 'fail' | 'off';

export interface Behaviour {
  latencyMs: number;
  failureRate: number;
  timeoutRate: number;
  autoPay: AutoPay;
  autoPayDelayMs: number;
  notifyDelayMs: number;
  duplicateRate: number;
  reorder: boolean;
  refundDelayMs: number;
  refundFailureRate: number;
}

export const DEFAULT_BEHAVIOUR: Readonly<Behaviour> = Object.freeze({
  latencyMs: 0,
  failureRate: 0,
  timeoutRate: 0,
  autoPay: 'off',
  autoPayDelayMs: 200,
  notifyDelayMs: 50,
  duplicateRate: 0,
  reorder: false,
  refundDelayMs: 100,
  refundFailureRate: 0,
});

export interface ServerSettings {
  port: number;
  host: string;
  logLevel: string;
}

export class SandboxConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SandboxConfigError';
  }
}

/** Longest delay any setting may ask for (one hour). */
const MAX_DELAY_MS = 3_600_000;

type Kind = 'delay' | 'rate' | 'autoPay' | 'bool';

const KINDS: { [K in keyof Behaviour]: Kind } = {
  latencyMs: 'delay',
  failureRate: 'rate',
  timeoutRate: 'rate',
  autoPay: 'autoPay',
  autoPayDelayMs: 'delay',
  notifyDelayMs: 'delay',
  duplicateRate: 'rate',
  reorder: 'bool',
  refundDelayMs: 'delay',
  refundFailureRate: 'rate',
};

const NAMES = Object.keys(KINDS) as (keyof Behaviour)[];

/** latencyMs -> SANDBOX_LATENCY_MS */
export function envName(name: keyof Behaviour): string {
  return `SANDBOX_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

const RULES: Record<Kind, string> = {
  delay: `must be an integer number of milliseconds from 0 to ${MAX_DELAY_MS}`,
  rate: 'must be a number from 0 to 1',
  autoPay: 'must be one of success, fail, off',
  bool: 'must be true or false',
};

type Parsed = { ok: true; value: number | boolean | AutoPay } | { ok: false };

/** A value from JSON (PUT /sandbox/config): numbers and booleans must have their JSON types. */
function fromJson(kind: Kind, v: unknown): Parsed {
  switch (kind) {
    case 'delay':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_DELAY_MS
        ? { ok: true, value: v }
        : { ok: false };
    case 'rate':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1
        ? { ok: true, value: v }
        : { ok: false };
    case 'autoPay':
      return v === 'success' || v === 'fail' || v === 'off' ? { ok: true, value: v } : { ok: false };
    case 'bool':
      return typeof v === 'boolean' ? { ok: true, value: v } : { ok: false };
  }
}

/** A value from the environment (always a string). */
function fromEnv(kind: Kind, raw: string): Parsed {
  const s = raw.trim();
  switch (kind) {
    case 'delay':
      return /^\d+$/.test(s) ? fromJson(kind, Number(s)) : { ok: false };
    case 'rate':
      return /^(\d+(\.\d*)?|\.\d+)$/.test(s) ? fromJson(kind, Number(s)) : { ok: false };
    case 'autoPay':
      return fromJson(kind, s.toLowerCase());
    case 'bool':
      if (/^(true|1)$/i.test(s)) return { ok: true, value: true };
      if (/^(false|0)$/i.test(s)) return { ok: true, value: false };
      return { ok: false };
  }
}

function assign(target: Behaviour, name: keyof Behaviour, value: number | boolean | AutoPay): void {
  (target as unknown as Record<string, unknown>)[name] = value;
}

/** Behaviour from SANDBOX_* variables; an empty variable counts as unset. */
export function behaviourFromEnv(env: NodeJS.ProcessEnv): Behaviour {
  const behaviour: Behaviour = { ...DEFAULT_BEHAVIOUR };
  const problems: string[] = [];
  for (const name of NAMES) {
    const raw = env[envName(name)];
    if (raw === undefined || raw === '') continue;
    const parsed = fromEnv(KINDS[name], raw);
    if (parsed.ok) assign(behaviour, name, parsed.value);
    else problems.push(`${envName(name)}: ${RULES[KINDS[name]]}`);
  }
  if (problems.length > 0) throw new SandboxConfigError(problems);
  return behaviour;
}

/**
 * Applies a PUT /sandbox/config body to the current behaviour: only the settings given change.
 * Nothing changes unless the whole body is valid.
 */
export function applyBehaviourPatch(current: Behaviour, patch: unknown): Behaviour {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new SandboxConfigError(['body: must be a JSON object']);
  }
  const next: Behaviour = { ...current };
  const problems: string[] = [];
  for (const [name, value] of Object.entries(patch)) {
    if (!Object.hasOwn(KINDS, name)) {
      problems.push(`${name}: unknown setting (known: ${NAMES.join(', ')})`);
      continue;
    }
    const key = name as keyof Behaviour;
    const parsed = fromJson(KINDS[key], value);
    if (parsed.ok) assign(next, key, parsed.value);
    else problems.push(`${name}: ${RULES[KINDS[key]]}`);
  }
  if (problems.length > 0) throw new SandboxConfigError(problems);
  return next;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function serverSettingsFromEnv(env: NodeJS.ProcessEnv): ServerSettings {
  const problems: string[] = [];
  const portRaw = env.SANDBOX_PORT || '8090';
  const port = /^\d{1,5}$/.test(portRaw) ? Number(portRaw) : NaN;
  if (!(port >= 0 && port <= 65535)) problems.push('SANDBOX_PORT: must be a port number from 0 to 65535');
  const host = env.SANDBOX_HOST || '127.0.0.1';
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);
  if (problems.length > 0) throw new SandboxConfigError(problems);
  return { port, host, logLevel };
}

/** Everything the process needs from its environment, every problem reported at once. */
export function loadSandboxConfig(env: NodeJS.ProcessEnv): { server: ServerSettings; behaviour: Behaviour } {
  const problems: string[] = [];
  let server: ServerSettings | undefined;
  let behaviour: Behaviour | undefined;
  try {
    server = serverSettingsFromEnv(env);
  } catch (err) {
    if (!(err instanceof SandboxConfigError)) throw err;
    problems.push(...err.problems);
  }
  try {
    behaviour = behaviourFromEnv(env);
  } catch (err) {
    if (!(err instanceof SandboxConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (!server || !behaviour) throw new SandboxConfigError(problems);
  return { server, behaviour };
}
