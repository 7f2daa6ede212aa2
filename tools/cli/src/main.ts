#!/usr/bin/env node
// `citybase`: the operator's command-line tool. `citybase help` lists the commands.
import { parseCommandLine } from './commands';
import { EXIT_OK, describeError, exitCodeOf } from './errors';
import { type Io, processIo } from './io';
import { type RunDeps, defaultDeps, execute } from './run';

/** Runs one command line (the arguments after `citybase`); resolves with the exit code, never rejects. */
export async function cli(
  argv: readonly string[],
  io: Io = processIo,
  deps: RunDeps = defaultDeps(io),
): Promise<number> {
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      io.out(`${parsed.text}\n`);
      return EXIT_OK;
    }
    return await execute(parsed.command, deps);
  } catch (err) {
    io.err(`${describeError(err)}\n`);
    return exitCodeOf(err);
  }
}

if (require.main === module) {
  void cli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
