import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, REPO_ROOT, waitFor } from './test-kit';

/** Behaviour of the sandbox channel (docs/sandbox-channel.md), camelCase as in PUT /sandbox/config. */
export interface SandboxConfig {
  latencyMs?: number;
  failureRate?: number;
  timeoutRate?: number;
  autoPay?: 'success' | 'fail' | 'off';
  autoPayDelayMs?: number;
  notifyDelayMs?: number;
  duplicateRate?: number;
  reorder?: boolean;
  refundDelayMs?: number;
  refundFailureRate?: number;
}

export interface SandboxChannelProcess {
  /** Base URL of its API, e.g. http://127.0.0.1:41234 (a channel's `endpoint`). */
  url: string;
  /** Its process id (benchmarks read what it cost). */
  pid: number;
  output(): string;
  configure(config: SandboxConfig): Promise<void>;
  registerMerchant(merchantNo: string, key: string): Promise<void>;
  /** The payer pays (or the bank declines) the order now. */
  pay(paymentId: string, outcome: 'success' | 'fail'): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the built sandbox channel (tools/sandbox-channel/dist/main.js) on a fresh port. */
export async function spawnSandboxChannel(config: SandboxConfig = {}): Promise<SandboxChannelProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'tools', 'sandbox-channel', 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', SANDBOX_PORT: String(port), SANDBOX_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const post = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`sandbox ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  };
  const state = await waitFor(
    'sandbox channel /healthz',
    async () => {
      if (proc.exitCode !== null) return 'exited';
      const res = await fetch(`${url}/healthz`).catch(() => undefined);
      return res?.ok ? 'ready' : undefined;
    },
    30_000,
    100,
  );
  if (state === 'exited') throw new Error(`sandbox channel exited before it was ready:\n${out.slice(-2000)}`);
  const sandbox: SandboxChannelProcess = {
    url,
    pid: proc.pid!,
    output: () => out,
    configure: (c) => post('PUT', '/sandbox/config', c),
    registerMerchant: (merchantNo, key) => post('POST', '/sandbox/merchants', { merchantNo, key }),
    pay: (paymentId, outcome) =>
      post('POST', `/sandbox/orders/${encodeURIComponent(paymentId)}/pay`, { outcome }),
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
  if (Object.keys(config).length > 0) await sandbox.configure(config);
  return sandbox;
}
