// `node tools/sandbox-channel/dist/main.js`: the sandbox payment channel (docs/sandbox-channel.md),
// a stand-in for a real provider that runs as its own process. It deliberately depends on no
// Citybase library: it plays an external system, and must start even while libs are being rebuilt.
import pino from 'pino';
import { loadSandboxConfig, SandboxConfigError } from './config';
import { SandboxServer } from './server';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadSandboxConfig>;
  try {
    config = loadSandboxConfig(process.env);
  } catch (err) {
    if (!(err instanceof SandboxConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  // Synchronous writes: nothing is lost when the process exits right after logging.
  const logger = pino(
    {
      level: config.server.logLevel,
      base: { service: 'sandbox-channel' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
  // A sandbox that dies mid-run takes every test using it down with it: a bug is logged, the
  // process keeps serving. (Requests are answered from try/catch; this is the last net.)
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  const sandbox = new SandboxServer({ behaviour: config.behaviour, logger });
  const url = await sandbox.listen(config.server.port, config.server.host);
  logger.info({ url, behaviour: config.behaviour }, 'sandbox channel listening');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    // Whatever happens, exit 0 within a few seconds.
    setTimeout(() => process.exit(0), 5000).unref();
    sandbox
      .close()
      .catch((err: unknown) => logger.error({ err }, 'close failed'))
      .finally(() => {
        logger.info('stopped');
        process.exit(0);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `sandbox channel failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
