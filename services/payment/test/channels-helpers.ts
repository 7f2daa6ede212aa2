import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { Client } from 'pg';
import { grpcError } from '@citybase/platform/testing';
export { grpcError } from '@citybase/platform/testing';

export interface ExpectedError {
  code: status;
  /** The status message, exactly or by pattern. */
  details?: string | RegExp;
  /** citybase-error-field. */
  field?: string;
  /** citybase-error-code. */
  domainCode?: string;
}

export async function expectGrpcError(
  call: Promise<unknown>,
  expected: ExpectedError,
): Promise<ServiceError> {
  const err = await grpcError(call);
  const got = {
    code: status[err.code],
    details: err.details,
    field: header(err.metadata, 'citybase-error-field'),
    domainCode: header(err.metadata, 'citybase-error-code'),
  };
  expect(got).toMatchObject({
    code: status[expected.code],
    ...(typeof expected.details === 'string' && { details: expected.details }),
    ...(expected.field !== undefined && { field: expected.field }),
    ...(expected.domainCode !== undefined && { domainCode: expected.domainCode }),
  });
  if (expected.details instanceof RegExp) expect(err.details).toMatch(expected.details);
  return err;
}

function header(md: Metadata | undefined, name: string): string | undefined {
  const v = md?.get(name)[0];
  return typeof v === 'string' ? v : undefined;
}

/** Every row of every table of the public schema as text, to look for a secret in clear. */
export async function databaseText(pg: Client): Promise<string> {
  const { rows: tables } = await pg.query<{ name: string }>(
    `SELECT quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const { name } of tables) {
    const { rows } = await pg.query<{ t: string | null }>(
      `SELECT string_agg(x::text, E'\\n') AS t FROM ${name} x`,
    );
    parts.push(`${name}:\n${rows[0]?.t ?? ''}`);
  }
  return parts.join('\n');
}

/** Row counts of the channel tables: what "nothing written" is checked against. */
export async function channelCounts(pg: Client): Promise<Record<string, number | string>> {
  const { rows } = await pg.query<Record<string, number | string>>(
    `SELECT (SELECT count(*)::int FROM channels) AS channels,
            (SELECT count(*)::int FROM project_channels) AS project_channels,
            (SELECT count(*)::int FROM routing_rules) AS routing_rules,
            (SELECT count(*)::int FROM idempotency_keys) AS request_keys,
            (SELECT count(*)::int FROM outbox) AS outbox,
            (SELECT coalesce(max(updated_at), 'epoch')::text FROM channels) AS channels_updated,
            (SELECT coalesce(max(updated_at), 'epoch')::text FROM project_channels) AS accounts_updated`,
  );
  return rows[0] as Record<string, number | string>;
}

/** JSON of a response with bigints, to search it for a string. */
export function text(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export interface ReceivedNotification {
  /** The request target as received (path and query). */
  url: string;
  headers: Record<string, string | undefined>;
  raw: Buffer;
}

/** A local HTTP server standing in for payment's notify URL: records what the sandbox posts. */
export class NotificationReceiver {
  readonly received: ReceivedNotification[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<NotificationReceiver> {
    const self: { receiver?: NotificationReceiver } = {};
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = typeof v === 'string' ? v : undefined;
        self.receiver?.received.push({ url: req.url ?? '', headers, raw: Buffer.concat(chunks) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self.receiver = new NotificationReceiver(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    );
    return self.receiver;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
