import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AuthOptions } from './commands';
import { CliError, UsageError } from './errors';

/** An API client's credentials, as `init --save` and `client create --save` write them. */
export interface ClientCredentials {
  client_id: string;
  client_secret: string;
}

export type Env = Record<string, string | undefined>;

/** The credentials of a command: --credentials <file>, else CITYBASE_CLIENT_ID / CITYBASE_CLIENT_SECRET. */
export function loadCredentials(auth: AuthOptions, env: Env, topic: string): ClientCredentials {
  if (auth.credentialsFile !== undefined) return readCredentialsFile(auth.credentialsFile);
  const id = env.CITYBASE_CLIENT_ID ?? '';
  const secret = env.CITYBASE_CLIENT_SECRET ?? '';
  if (id === '' && secret === '') {
    throw new UsageError(
      'no credentials: give --credentials <file> or set CITYBASE_CLIENT_ID and CITYBASE_CLIENT_SECRET',
      topic,
    );
  }
  if (id === '') throw new UsageError('CITYBASE_CLIENT_SECRET is set but CITYBASE_CLIENT_ID is not', topic);
  if (secret === '')
    throw new UsageError('CITYBASE_CLIENT_ID is set but CITYBASE_CLIENT_SECRET is not', topic);
  return { client_id: id, client_secret: secret };
}

export function readCredentialsFile(file: string): ClientCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read credentials file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CliError(`credentials file ${file} is not JSON`);
  }
  const { client_id: id, client_secret: secret } = (doc ?? {}) as Record<string, unknown>;
  if (typeof id !== 'string' || id === '' || typeof secret !== 'string' || secret === '') {
    throw new CliError(
      `credentials file ${file} must hold a JSON object with client_id and client_secret strings`,
    );
  }
  return { client_id: id, client_secret: secret };
}

/**
 * Checks, before anything is created, that `file` can be written as a new file: it must not exist
 * (never overwritten) and its folder must.
 */
export function assertNewFile(file: string): void {
  if (existsSync(file)) throw new CliError(`refusing to overwrite existing file ${file}`);
  const dir = dirname(resolve(file));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new CliError(`cannot write ${file}: folder ${dir} does not exist`);
}

/** Writes the credentials as JSON to a new file readable only by its owner (0600). */
export function writeCredentialsFile(file: string, credentials: ClientCredentials): void {
  const text = `${JSON.stringify({ client_id: credentials.client_id, client_secret: credentials.client_secret }, null, 2)}\n`;
  try {
    // 'wx': fails if the file exists (also if it appeared since assertNewFile), never follows it.
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`refusing to overwrite existing file ${file}`);
    throw new CliError(`cannot write ${file}: ${code ?? String(err)}`);
  }
}
