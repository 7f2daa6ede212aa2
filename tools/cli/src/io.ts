import type { Env } from './credentials';

/** Where a command writes, and the environment it reads: the process, or a test double. */
export interface Io {
  /** stdout: the command's JSON result only. */
  out(text: string): void;
  /** stderr: errors, warnings, notes. */
  err(text: string): void;
  env: Env;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  env: process.env,
};
