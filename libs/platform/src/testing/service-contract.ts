import { Client } from 'pg';
import { grpcHealthStatus, grpcReflectionServices } from './grpc-clients';
import {
  createTestDatabase,
  kafkaTestPrefix,
  ServiceProcess,
  spawnService,
  TestDatabase,
  waitFor,
} from './test-kit';

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/**
 * What every Citybase service process must do, checked against the built process and real
 * servers: start with its config, run its migrations once, serve gRPC health and reflection,
 * /healthz, /readyz, /metrics, refuse bad config with one message, and stop cleanly on SIGTERM.
 * Each service's test/service.int-spec.ts calls this with its name and gRPC services.
 */
export function describeServiceProcess(name: string, grpcServices: string[]): void {
  describe(`${name} service process`, () => {
    let db: TestDatabase;
    let svc: ServiceProcess | undefined;
    // the topics and groups the service creates are the suite's own, and deleted after it
    const KAFKA_TOPIC_PREFIX = kafkaTestPrefix(name);

    beforeAll(async () => {
      db = await createTestDatabase(name);
    });

    afterEach(async () => {
      await svc?.stop('SIGKILL');
      svc = undefined;
    });

    afterAll(async () => {
      await db?.drop();
    });

    it('serves gRPC health and reflection, /healthz, /readyz and /metrics, then stops cleanly on SIGTERM', async () => {
      svc = await spawnService(name, { DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX });
      await svc.ready();

      expect(await grpcHealthStatus(svc.grpcAddress)).toBe('SERVING');
      for (const s of grpcServices) expect(await grpcHealthStatus(svc.grpcAddress, s)).toBe('SERVING');
      await expect(grpcHealthStatus(svc.grpcAddress, 'no.such.Service')).rejects.toMatchObject({ code: 5 }); // NOT_FOUND

      const reflected = await grpcReflectionServices(svc.grpcAddress);
      expect(reflected).toEqual(expect.arrayContaining(grpcServices));

      expect(await httpGet(`${svc.httpUrl}/healthz`)).toMatchObject({ status: 200 });
      const ready = await httpGet(`${svc.httpUrl}/readyz`);
      // every service checks these three; a service may add its own (iot: mqtt), all ok
      const report = JSON.parse(ready.body) as { status: string; checks: Record<string, string> };
      expect(report).toEqual({
        status: 'ready',
        checks: expect.objectContaining({ postgres: 'ok', redis: 'ok', kafka: 'ok' }),
      });
      expect(Object.values(report.checks).every((v) => v === 'ok')).toBe(true);
      const metrics = await httpGet(`${svc.httpUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain(`process_cpu_user_seconds_total{service="${name}"}`);

      const logLines = svc.output().trim().split('\n');
      const serving = logLines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === `${name} serving`);
      expect(serving).toMatchObject({ level: 'info', service: name });

      expect(await svc.stop('SIGTERM')).toBe(0);
      expect(svc.output()).toContain('"msg":"stopped"');
    });

    it('applies its migrations once and only once across restarts', async () => {
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        // The first test already started the service on this database.
        const before = await pg.query<{ namespace: string; version: number; applied_at: Date }>(
          'SELECT namespace, version, applied_at FROM schema_migrations ORDER BY namespace, version',
        );
        expect(before.rows.length).toBeGreaterThan(0);

        svc = await spawnService(name, { DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX });
        await svc.ready();
        const migrationLog = svc
          .output()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { msg?: string; applied?: string[]; already_applied?: number })
          .find((l) => l.msg === 'migrations done');
        expect(migrationLog).toMatchObject({ applied: [], already_applied: before.rows.length });

        const after = await pg.query(
          'SELECT namespace, version, applied_at FROM schema_migrations ORDER BY namespace, version',
        );
        expect(after.rows).toEqual(before.rows);
      } finally {
        await pg.end();
      }
    });

    it('refuses to start on bad configuration, naming every problem in one message', async () => {
      svc = await spawnService(name, { DATABASE_URL: 'mysql://nope', LOG_LEVEL: 'loud', GRPC_PORT: 'abc' });
      const code = await waitFor('exit', async () => svc?.proc.exitCode ?? undefined, 20_000);
      expect(code).toBe(1);
      const out = svc.output();
      expect(out).toContain('Invalid configuration');
      expect(out).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
      expect(out).toMatch(/LOG_LEVEL: /);
      expect(out).toMatch(/GRPC_PORT: /);
    });
  });
}
