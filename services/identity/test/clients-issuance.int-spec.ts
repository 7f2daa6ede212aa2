import { randomUUID } from 'node:crypto';
import { type Metadata, status } from '@grpc/grpc-js';
import type { Pool } from '@citybase/platform';
import {
  bearer,
  grpcClient,
  type PromiseClient,
  startInProcess,
  startServiceHarness,
  type ServiceHarness,
  type ServiceUnderTest,
  TEST_IDENTITY_MASTER_KEY,
  uniqueName,
} from '@citybase/platform/testing';
import { ClientServiceService, TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { ClientSecretHasher } from '../src/clients/client-secret';
import { CredentialsLookup, MAX_LOOKUPS_IN_FLIGHT } from '../src/clients/tokens/credentials-lookup';
import { definition } from '../src/definition';
import { expectGrpcError, runAdmin } from './clients-helpers';

const CLIENT_CREDENTIALS = 'client_credentials';

/**
 * Token issuance reads each client's credentials from PostgreSQL per request, concurrent requests
 * sharing one query (CredentialsLookup), and nothing is cached: a rotation or revocation made
 * through one identity replica is honoured by every other one from the next request on.
 */
describe('identity: credentials lookup for token issuance (two in-process replicas, PostgreSQL)', () => {
  let h: ServiceHarness;
  let other: ServiceUnderTest;
  let clientsA: PromiseClient<typeof ClientServiceService>;
  let tokensA: PromiseClient<typeof TokenServiceService>;
  let tokensB: PromiseClient<typeof TokenServiceService>;
  let adminMd: Metadata;
  const hasher = new ClientSecretHasher(Buffer.from(TEST_IDENTITY_MASTER_KEY, 'base64'));
  const operator = randomUUID();

  beforeAll(async () => {
    h = await startServiceHarness({
      definition,
      grpcService: ClientServiceService,
      label: 'identity-issuance',
      env: ({ httpUrl }) => ({ AUTH_JWKS_URL: `${httpUrl}/.well-known/jwks.json` }),
    });
    // the second replica: same database, same Kafka namespace, its own process state
    other = await startInProcess(definition, ({ httpPort }) => ({
      DATABASE_URL: h.db.url,
      KAFKA_TOPIC_PREFIX: h.topicPrefix,
      AUTH_JWKS_URL: `http://127.0.0.1:${httpPort}/.well-known/jwks.json`,
    }));
    h.onStop(() => other.stop());
    await other.ready();
    clientsA = h.client(ClientServiceService);
    tokensA = h.client(TokenServiceService);
    tokensB = grpcClient(TokenServiceService, other.grpcAddress);
    h.onStop(() => tokensB.close());
    await h.pg.query(`INSERT INTO operators (operator_id, name) VALUES ($1, 'Operator')`, [operator]);

    const init = await runAdmin(['init-city'], { DATABASE_URL: h.db.url, KAFKA_TOPIC_PREFIX: h.topicPrefix });
    expect(init.code).toBe(0);
    const admin = JSON.parse(init.stdout.trim()) as { client_id: string; client_secret: string };
    adminMd = bearer(await issue(tokensA, admin.client_id, admin.client_secret));
  });

  afterAll(() => h?.stop());

  const issue = async (
    tokens: PromiseClient<typeof TokenServiceService>,
    id: string,
    secret: string,
  ): Promise<string> =>
    (
      await tokens.issueToken({
        grantType: CLIENT_CREDENTIALS,
        clientId: id,
        clientSecret: secret,
        scope: '',
      })
    ).accessToken;

  const refused = (tokens: PromiseClient<typeof TokenServiceService>, id: string, secret: string) =>
    expectGrpcError(issue(tokens, id, secret), {
      code: status.UNAUTHENTICATED,
      domainCode: 'INVALID_CLIENT',
    });

  const createClient = async (name: string): Promise<{ id: string; secret: string }> => {
    const created = await clientsA.createClient(
      {
        requestId: uniqueName('create'),
        name,
        scopes: ['identity:clients.read'],
        tenancy: { operatorIds: [operator], projectIds: [] },
      },
      adminMd,
    );
    return { id: created.client?.clientId ?? '', secret: created.clientSecret };
  };

  it('a secret rotated through one replica is refused by the other at once, the new one accepted', async () => {
    const { id, secret } = await createClient('rotated on A');
    // the other replica has seen the client and issued to it, several times at once
    await Promise.all(Array.from({ length: 8 }, () => issue(tokensB, id, secret)));

    const rotated = await clientsA.rotateClientSecret(
      { requestId: uniqueName('rotate'), clientId: id },
      adminMd,
    );
    await refused(tokensB, id, secret);
    await issue(tokensB, id, rotated.clientSecret);
    await refused(tokensA, id, secret);
  });

  it('a client revoked through one replica gets no token from the other from the next request on', async () => {
    const { id, secret } = await createClient('revoked on A');
    await Promise.all(Array.from({ length: 8 }, () => issue(tokensB, id, secret)));

    await clientsA.revokeClient(
      { requestId: uniqueName('revoke'), clientId: id, reason: 'retired' },
      adminMd,
    );
    await refused(tokensB, id, secret);
    await refused(tokensA, id, secret);
  });

  it('a secret changed in the database by anyone is what the next request is checked against', async () => {
    const { id, secret } = await createClient('changed in SQL');
    await issue(tokensB, id, secret);
    const replacement = 'a-secret-written-directly-into-the-row-by-the-test';
    await h.pg.query('UPDATE api_clients SET secret_hash = $2 WHERE client_id = $1', [
      id,
      hasher.hash(replacement),
    ]);
    await refused(tokensB, id, secret);
    await issue(tokensB, id, replacement);
  });

  it('concurrent lookups share one query and each gets the row of its own client', async () => {
    const a = await createClient('lookup a');
    const b = await createClient('lookup b');
    let queries = 0;
    const counting = {
      query: (...args: Parameters<Pool['query']>) => {
        queries += 1;
        return (h.pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as Pool;
    const lookup = new CredentialsLookup(counting);
    const unknown = 'cb_aaaaaaaaaaaaaaaaaaaaaaaa';
    const asked = [a.id, b.id, unknown, a.id, b.id, a.id, unknown, b.id, a.id, a.id];

    // asked together: the first MAX_LOOKUPS_IN_FLIGHT go alone, the rest, asked while those are in
    // flight, go in one query
    const rows = await Promise.all(asked.map((id) => lookup.find(id)));
    expect(queries).toBe(MAX_LOOKUPS_IN_FLIGHT + 1);
    expect(rows.map((r) => r?.client_id)).toEqual(asked.map((id) => (id === unknown ? undefined : id)));
    expect(rows.map((r) => r?.secret_hash)).toEqual(
      asked.map((id) =>
        id === a.id ? hasher.hash(a.secret) : id === b.id ? hasher.hash(b.secret) : undefined,
      ),
    );

    // a lookup asked after a change commits is answered by a query sent after it: never a cached row
    await h.pg.query('UPDATE api_clients SET secret_hash = $2 WHERE client_id = $1', [
      a.id,
      hasher.hash('another secret'),
    ]);
    expect((await lookup.find(a.id))?.secret_hash).toBe(hasher.hash('another secret'));
    expect(queries).toBe(MAX_LOOKUPS_IN_FLIGHT + 2);
  });
});
