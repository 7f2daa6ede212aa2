import type { FeatureNames } from './names';

/**
 * The files of a feature room (docs/adding-a-service.md; the model rooms are settlement's escrow/
 * and identity's clients/): a module, a gRPC controller, use cases, pure rules with their unit
 * test, errors, and a store that holds all of the room's SQL. The example entity (a row with a
 * tenancy, a name and an active/archived status) shows each pattern once: a create and a change of
 * an existing row through `Mutations` (the latter with a target and a replay), a read that answers
 * another tenant's row like a missing one, and a list paged by the platform's page-token codec.
 * It is meant to be renamed and replaced, not kept.
 */
export function featureFiles(n: FeatureNames, migration: string): { path: string; content: string }[] {
  const { feature: f, Feature: F, Entity: E, entityCamel: e, idColumn: id, idProp, label, table } = n;
  const svc = n.service.grpcService;
  const dir = `services/${n.service.name}/src/${f}`;
  const errors = `${F}Errors`;
  const page = `${table.toUpperCase()}_PAGE`;
  const status = `${E}Status`;
  const article = /^[aeiou]/.test(label) ? 'an' : 'a';
  const title = featureTitle(n);
  return [
    {
      path: `${dir}/${f}.module.ts`,
      content: `import { Module } from '@nestjs/common';
import { ${F}Grpc } from './${f}.grpc';
import { ${F}Service } from './${f}.service';

/**
 * ${title} (docs/${n.service.name}.md): the room's gRPC methods and use cases. Its jobs
 * (\`<name>.job.ts\`, a PeriodicJob) and event handlers (an @EventConsumer provider) are
 * providers here too; runService finds and starts them.
 */
@Module({ controllers: [${F}Grpc], providers: [${F}Service] })
export class ${F}Module {}
`,
    },
    {
      path: `${dir}/${f}.grpc.ts`,
      content: `import { Controller } from '@nestjs/common';
import { ${F}Service } from './${f}.service';

/**
 * Transport adapter: proto in, validated into a command (the room's .domain.ts) before anything
 * is read; use case; proto out (a .render.ts maps rows to messages). Scopes are checked by the
 * platform's guard from the proto's required_scope. One method per RPC of the service, once the
 * RPC is in the proto and \`npx nx run contracts:generate\` ran, e.g.
 *
 *   @GrpcMethod('${svc}', 'create${E}')
 *   async create${E}(
 *     req: Create${E}Request,
 *     metadata: Metadata,
 *   ): Promise<Create${E}Response> {
 *     const cmd = toCreate${E}Command(req);
 *     const row = await this.${n.featureCamel}.create${E}(claimsOf(metadata), cmd);
 *     return { ${e}: ${e}ToProto(row) };
 *   }
 */
@Controller()
export class ${F}Grpc {
  constructor(readonly ${n.featureCamel}: ${F}Service) {}
}
`,
    },
    {
      path: `${dir}/${f}.errors.ts`,
      content: `import { DomainError } from '@citybase/platform';

/** Error codes of the room. */
export const ${errors} = {
  /** Also what another tenant's row answers: whose it is, is not told. */
  notFound: (${idProp}: string) => DomainError.notFound('${label}', ${idProp}, '${n.idColumn.slice(0, -3).toUpperCase()}_NOT_FOUND'),

  notActive: (${idProp}: string, status: string) =>
    DomainError.precondition('${n.idColumn.slice(0, -3).toUpperCase()}_NOT_ACTIVE', \`${label} \${${idProp}} is \${status}: only an active one can be archived\`),
};
`,
    },
    {
      path: `${dir}/${f}.domain.ts`,
      content: `import {
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
} from '@citybase/platform';
import { ${errors} } from './${f}.errors';

/**
 * Pure rules of the room (no I/O): requests validated into commands and queries
 * (INVALID_ARGUMENT naming the proto field, before anything is read or written), and the
 * statuses a row may move to. The request types are what ts-proto generates for the messages.
 */

export const ${table.toUpperCase()}_STATUSES = ['active', 'archived'] as const;
export type ${status} = (typeof ${table.toUpperCase()}_STATUSES)[number];

/** citybase.common.v1.TenancyRef as a request carries it. */
interface TenancyInput {
  operatorId?: string;
  projectId?: string;
}

const TENANT_ID = { max: 64 };

export interface Create${E}Command {
  requestId: string;
  operatorId: string;
  /** '' when the ${label} belongs to the operator rather than to one of its projects. */
  projectId: string;
  name: string;
}

export function toCreate${E}Command(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  name?: string;
}): Create${E}Command {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    name: requiredString('name', req.name, { max: 200 }),
  };
}

export interface Archive${E}Command {
  requestId: string;
  ${idProp}: string;
}

export function toArchive${E}Command(req: { requestId?: string; ${idProp}?: string }): Archive${E}Command {
  return { requestId: requestId(req.requestId), ${idProp}: requiredUuid('${id}', req.${idProp}) };
}

/** Page tokens of the list: newest first, by (created_at, ${id}). */
export const ${page} = pageCursor('${n.service.name}.${f}', keyPart.timestamp, keyPart.uuid);

export interface List${F}Query {
  /** '' lists every operator the caller may see. */
  operatorId: string;
  size: number;
  after: { createdAt: string; ${idProp}: string } | undefined;
}

export function toList${F}Query(req: { tenancy?: TenancyInput; page?: PageRequestLike }): List${F}Query {
  const { size, after } = parsePage(req.page, ${page});
  return {
    operatorId: optionalString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    size,
    after: after && { createdAt: after[0], ${idProp}: after[1] },
  };
}

/** The status archiving moves ${article} ${label} to: only an active one can be archived. */
export function decideArchive(current: { ${idProp}: string; status: ${status} }): ${status} {
  if (current.status !== 'active') throw ${errors}.notActive(current.${idProp}, current.status);
  return 'archived';
}
`,
    },
    {
      path: `${dir}/${f}.domain.spec.ts`,
      content: `import { domainErrorOf } from '@citybase/platform/testing';
import {
  decideArchive,
  ${page},
  toArchive${E}Command,
  toCreate${E}Command,
  toList${F}Query,
} from './${f}.domain';

const ID = '0b9d6b39-2a83-4f0e-9d1c-6d0a4cf2b8e1';

describe('${f} rules', () => {
  it('archives an active ${label}, and refuses one that is not active', () => {
    expect(decideArchive({ ${idProp}: ID, status: 'active' })).toBe('archived');
    const err = domainErrorOf(() => decideArchive({ ${idProp}: ID, status: 'archived' }));
    expect([err.kind, err.code]).toEqual(['failed_precondition', '${n.idColumn.slice(0, -3).toUpperCase()}_NOT_ACTIVE']);
  });

  it('validates a create request into a command, naming the field it refuses', () => {
    expect(toCreate${E}Command({ requestId: 'r-1', tenancy: { operatorId: 'op-1' }, name: ' First ' })).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: '',
      name: 'First',
    });
    const cases: [Parameters<typeof toCreate${E}Command>[0], string][] = [
      [{ tenancy: { operatorId: 'op-1' }, name: 'x' }, 'request_id'],
      [{ requestId: 'r-1', name: 'x' }, 'tenancy.operator_id'],
      [{ requestId: 'r-1', tenancy: { operatorId: 'op-1' }, name: ' ' }, 'name'],
      [{ requestId: 'r-1', tenancy: { operatorId: 'op-1' }, name: 'x'.repeat(201) }, 'name'],
    ];
    for (const [req, field] of cases) {
      const err = domainErrorOf(() => toCreate${E}Command(req));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
    }
  });

  it('refuses an archive request whose ${id} is no UUID', () => {
    expect(toArchive${E}Command({ requestId: 'r-1', ${idProp}: ID.toUpperCase() }).${idProp}).toBe(ID);
    const err = domainErrorOf(() => toArchive${E}Command({ requestId: 'r-1', ${idProp}: 'nope' }));
    expect([err.kind, err.detail.field]).toEqual(['invalid_argument', '${id}']);
  });

  it('reads the page token it issues and refuses a forged one', () => {
    const token = ${page}.encode(['2026-01-02T03:04:05.123456Z', ID]);
    expect(toList${F}Query({ page: { pageSize: 10, pageToken: token } })).toEqual({
      operatorId: '',
      size: 10,
      after: { createdAt: '2026-01-02T03:04:05.123456Z', ${idProp}: ID },
    });
    const err = domainErrorOf(() => toList${F}Query({ page: { pageToken: \`\${token}x\` } }));
    expect([err.kind, err.detail.field]).toEqual(['invalid_argument', 'page.page_token']);
  });
});
`,
    },
    {
      path: `${dir}/${f}.store.ts`,
      content: `import type { Pool, PoolClient } from '@citybase/platform';
import type { ${status}, List${F}Query } from './${f}.domain';

/**
 * All SQL of the room; mutations run in the caller's transaction.
 * Table ${table}: migrations/${migration}.
 */

export interface ${E}Row {
  ${id}: string;
  operator_id: string;
  /** '' when the ${label} belongs to the operator rather than to one of its projects. */
  project_id: string;
  name: string;
  status: ${status};
  created_at: Date;
  updated_at: Date;
}

/** A list row and its page-token key: created_at as UTC text with microseconds. */
export type ${E}ListRow = ${E}Row & { cursor_at: string };

/** The rows a caller may see (tenancyFilter of its claims). */
export type TenancyScope = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

export async function find${E}(db: Pool | PoolClient, ${idProp}: string): Promise<${E}Row | undefined> {
  const { rows } = await db.query<${E}Row>('SELECT * FROM ${table} WHERE ${id} = $1', [${idProp}]);
  return rows[0];
}

/** The row lock every change of ${article} ${label} happens under. */
export async function lock${E}(client: PoolClient, ${idProp}: string): Promise<${E}Row | undefined> {
  const { rows } = await client.query<${E}Row>('SELECT * FROM ${table} WHERE ${id} = $1 FOR UPDATE', [${idProp}]);
  return rows[0];
}

export async function insert${E}(
  client: PoolClient,
  row: Pick<${E}Row, '${id}' | 'operator_id' | 'project_id' | 'name'>,
): Promise<${E}Row> {
  const { rows } = await client.query<${E}Row>(
    \`INSERT INTO ${table} (${id}, operator_id, project_id, name)
     VALUES ($1, $2, $3, $4) RETURNING *\`,
    [row.${id}, row.operator_id, row.project_id, row.name],
  );
  return rows[0] as ${E}Row;
}

export async function update${E}Status(client: PoolClient, ${idProp}: string, status: ${status}): Promise<${E}Row> {
  const { rows } = await client.query<${E}Row>(
    \`UPDATE ${table} SET status = $2, updated_at = clock_timestamp()
      WHERE ${id} = $1 RETURNING *\`,
    [${idProp}, status],
  );
  return rows[0] as ${E}Row;
}

/** One page (size + 1 rows, for pageOf) of the rows in the caller's tenancy, newest first. */
export async function list${F}(db: Pool, q: List${F}Query, scope: TenancyScope): Promise<${E}ListRow[]> {
  const { rows } = await db.query<${E}ListRow>(
    \`SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM ${table}
      WHERE ($1::boolean OR operator_id = ANY($2::text[]) OR project_id = ANY($3::text[]))
        AND ($4 = '' OR operator_id = $4)
        AND ($5::timestamptz IS NULL OR (created_at, ${id}) < ($5::timestamptz, $6::uuid))
      ORDER BY created_at DESC, ${id} DESC
      LIMIT $7\`,
    [
      scope.all,
      scope.all ? [] : scope.operatorIds,
      scope.all ? [] : scope.projectIds,
      q.operatorId,
      q.after?.createdAt ?? null,
      q.after?.${idProp} ?? null,
      q.size + 1,
    ],
  );
  return rows;
}
`,
    },
    {
      path: `${dir}/${f}.service.ts`,
      content: `import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  tenancyFilter,
} from '@citybase/platform';
import { Archive${E}Command, Create${E}Command, decideArchive, List${F}Query, ${page} } from './${f}.domain';
import { ${errors} } from './${f}.errors';
import { ${E}Row, find${E}, insert${E}, list${F}, lock${E}, update${E}Status } from './${f}.store';

/**
 * Use cases of the room. Every mutation runs through Mutations (docs/adr/0007-use-case-pipeline.md):
 * one transaction, the target row locked and checked against the caller's tenancy, the request
 * id claimed (a retry replays: it answers the row as it is now), events through the outbox
 * (\`ctx.emit\`), one log line. Another tenant's row answers NOT_FOUND exactly like a missing one.
 */
@Injectable()
export class ${F}Service {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  async create${E}(claims: CitybaseClaims, cmd: Create${E}Command): Promise<${E}Row> {
    // the tenancy the request names: the caller may only create inside its own
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined });
    return this.mutations.run({
      method: '${svc}.Create${E}',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: ({ client, resourceId }) =>
        insert${E}(client, { ${id}: resourceId, operator_id: cmd.operatorId, project_id: cmd.projectId, name: cmd.name }),
      replay: ({ client, resourceId }) => this.current(client, resourceId),
    });
  }

  archive${E}(claims: CitybaseClaims, cmd: Archive${E}Command): Promise<${E}Row> {
    return this.mutations.run({
      method: '${svc}.Archive${E}',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.${idProp},
      target: {
        load: (client) => lock${E}(client, cmd.${idProp}),
        tenancy: (row) => ({ operatorId: row.operator_id, projectId: row.project_id }),
        notFound: () => ${errors}.notFound(cmd.${idProp}),
      },
      execute: ({ client, target }) =>
        update${E}Status(client, target.${id}, decideArchive({ ${idProp}: target.${id}, status: target.status })),
      replay: ({ client }) => this.current(client, cmd.${idProp}),
    });
  }

  async get${E}(claims: CitybaseClaims, ${idProp}: string): Promise<${E}Row> {
    const row = await find${E}(this.pool, ${idProp});
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id }))
      throw ${errors}.notFound(${idProp});
    return row;
  }

  async list${F}(claims: CitybaseClaims, q: List${F}Query): Promise<{ items: ${E}Row[]; nextPageToken: string }> {
    const rows = await list${F}(this.pool, q, tenancyFilter(claims));
    const { rows: items, nextPageToken } = pageOf(rows, q.size, ${page}, (r) => [r.cursor_at, r.${id}]);
    return { items, nextPageToken };
  }

  /** The row a replay answers (rows are never deleted: one that was made or changed is there). */
  private async current(client: PoolClient, ${idProp}: string): Promise<${E}Row> {
    const row = await find${E}(client, ${idProp});
    if (!row) throw new Error(\`${label} \${${idProp}} of a committed request is missing\`);
    return row;
  }
}
`,
    },
    {
      path: `services/${n.service.name}/migrations/${migration}`,
      content: sql(n),
    },
  ];
}

/** The feature as words, e.g. "Device commands". */
export function featureTitle(n: FeatureNames): string {
  const words = n.feature.split('-').join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function sql(n: FeatureNames): string {
  const title = featureTitle;
  const cols: [string, string][] = [
    [n.idColumn, 'uuid        PRIMARY KEY'],
    ['operator_id', 'text        NOT NULL'],
    ['project_id', "text        NOT NULL DEFAULT ''"],
    ['name', 'text        NOT NULL'],
    ['status', "text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived'))"],
    ['created_at', 'timestamptz NOT NULL DEFAULT clock_timestamp()'],
    ['updated_at', 'timestamptz NOT NULL DEFAULT clock_timestamp()'],
  ];
  const w = Math.max(...cols.map(([c]) => c.length));
  return `-- ${title(n)} (services/${n.service.name}/src/${n.feature}, docs/${n.service.name}.md).
-- Generated with the feature room: replace the example columns with the feature's own before
-- this migration runs anywhere; once it has, it is never edited (a later migration changes it).
CREATE TABLE ${n.table} (
${cols.map(([c, t]) => `  ${c.padEnd(w)} ${t}`).join(',\n')}
);

-- Lists: an operator's rows newest first (the page token is (created_at, ${n.idColumn})).
CREATE INDEX ${n.table}_operator_created
  ON ${n.table} (operator_id, created_at DESC, ${n.idColumn} DESC);
`;
}
