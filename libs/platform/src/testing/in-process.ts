import { Writable } from 'stream';
import type { BaseServiceConfig } from '../config';
import { RunningService, ServiceDefinition, startService } from '../service/run-service';
import { ServiceEnv, serviceTestEnv, ServiceUnderTest, waitReady } from './test-kit';

/**
 * Starts a service inside the Jest process (startService of its src/definition.ts), on fresh ports
 * and with the configuration spawnService gives a process. Its log lines are kept for output().
 * For tests of the service's behaviour; tests of the process itself (signals, exit codes, a
 * restart or a kill) spawn it (spawnService).
 */
export async function startInProcess<C extends BaseServiceConfig>(
  definition: ServiceDefinition<C>,
  env: ServiceEnv,
): Promise<ServiceUnderTest> {
  const { grpcPort, httpPort, env: serviceEnv } = await serviceTestEnv(env);
  let out = '';
  const logDestination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  let failure: unknown;
  const started: Promise<RunningService<C> | undefined> = startService(definition, serviceEnv, {
    logDestination,
  }).catch((err: unknown) => {
    failure = err;
    return undefined;
  });
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  let stopped: Promise<void> | undefined;
  return {
    grpcAddress: `127.0.0.1:${grpcPort}`,
    httpUrl,
    output: () => out,
    async ready(timeoutMs = 90_000) {
      await started;
      await waitReady(
        httpUrl,
        () => failure !== undefined || stopped !== undefined,
        () =>
          `${definition.name} ${failure ? `failed to start: ${String(failure)}` : 'was stopped'} before it was ready:\n${out.slice(-3000)}`,
        timeoutMs,
      );
    },
    stop: () =>
      (stopped ??= (async () => {
        const running = await started;
        await running?.stop();
        logDestination.end();
      })()),
  };
}
