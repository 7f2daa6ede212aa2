// `citybase init`: bootstraps the city through identity's own admin entry point, run as a child
// process with the identity service's environment, so the tool holds no database or key logic.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ClientCredentials, type Env, assertNewFile, writeCredentialsFile } from './credentials';
import { CliError } from './errors';
import type { Io } from './io';
import { toJsonText } from './render';

export const DEFAULT_IDENTITY_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/citybase_identity';

/** The repository root: this file is tools/cli/{src,dist}/init.(ts|js). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** identity's admin entry point: env CITYBASE_IDENTITY_ADMIN, else services/identity/dist/admin.js of this checkout. */
export function adminScriptPath(env: Env): string {
  return env.CITYBASE_IDENTITY_ADMIN || join(REPO_ROOT, 'services', 'identity', 'dist', 'admin.js');
}

export const SECRET_WARNING =
  'citybase: the client secret above is shown only this time; keep it in your secret store (identity keeps only a hash)\n';

/** The line of the admin's stdout that holds the credentials, if any. */
export function credentialsLine(line: string): ClientCredentials | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  try {
    const doc = JSON.parse(text) as Record<string, unknown>;
    if (
      typeof doc.client_id === 'string' &&
      doc.client_id !== '' &&
      typeof doc.client_secret === 'string' &&
      doc.client_secret !== ''
    ) {
      return { client_id: doc.client_id, client_secret: doc.client_secret };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export interface AdminRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

export function runAdmin(script: string, args: string[], env: Env, io: Io): Promise<AdminRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    // The admin's diagnostics (including "already initialised") reach the operator as they come.
    child.stderr.setEncoding('utf8').on('data', (d: string) => io.err(d));
    child.once('error', (err) => reject(new CliError(`cannot run ${script}: ${err.message}`)));
    child.once('close', (code, signal) => resolveRun({ code, signal, stdout }));
  });
}

export interface InitOptions {
  adminName: string;
  save?: string;
}

/** Runs `admin.js init-city`, prints the admin credentials once (and saves them). Returns the exit code. */
export async function runInit(options: InitOptions, io: Io): Promise<number> {
  if (options.save !== undefined) assertNewFile(options.save);
  const script = adminScriptPath(io.env);
  if (!existsSync(script)) {
    throw new CliError(
      `identity admin entry point not found at ${script}: build identity first (npx nx run identity:build)`,
    );
  }
  const env: Env = { ...io.env, DATABASE_URL: io.env.DATABASE_URL || DEFAULT_IDENTITY_DATABASE_URL };
  const run = await runAdmin(script, ['init-city', '--name', options.adminName], env, io);

  let credentials: ClientCredentials | undefined;
  for (const line of run.stdout.split('\n')) {
    const found = credentialsLine(line);
    if (found) credentials = found;
    // Anything else on the admin's stdout (log lines) is passed on as diagnostics; our stdout
    // carries the result only. A credentials line is never echoed.
    else if (line.trim() !== '') io.err(`${line}\n`);
  }
  if (run.code !== 0) {
    const how =
      run.code === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.code}`;
    throw new CliError(`init failed: identity admin init-city ${how}`);
  }
  if (credentials === undefined) {
    throw new CliError(
      'init failed: identity admin init-city exited 0 but printed no client_id/client_secret',
    );
  }
  return printSecret({ ...credentials }, credentials, options.save, io);
}

/**
 * Prints a result that carries a client secret: saved first to `save` (if given), then the JSON on
 * stdout, then the shown-once warning. If saving fails the secret is still printed (it cannot be
 * shown again) and the exit code is 1.
 */
export function printSecret(
  result: Record<string, unknown>,
  credentials: ClientCredentials,
  save: string | undefined,
  io: Io,
): number {
  let saveError: CliError | undefined;
  if (save !== undefined) {
    try {
      writeCredentialsFile(save, credentials);
      result.saved_to = resolve(save);
    } catch (err) {
      saveError = err instanceof CliError ? err : new CliError(String(err));
    }
  }
  io.out(toJsonText(result));
  io.err(SECRET_WARNING);
  if (saveError) {
    io.err(`citybase: ${saveError.message}; the credentials above were NOT saved\n`);
    return 1;
  }
  return 0;
}
