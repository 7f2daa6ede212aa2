import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { type Metadata, status } from '@grpc/grpc-js';
import { JwksCache, parseClaims, verifyJwt } from '@citybase/platform';
import {
  bearer,
  startServiceHarness,
  type PromiseClient,
  type ServiceHarness,
  type ServiceUnderTest,
  TEST_IDENTITY_MASTER_KEY,
  uniqueName,
} from '@citybase/platform/testing';
import type { Client } from 'pg';
import { ClientServiceService, TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { ClientSecretHasher } from '../src/clients/client-secret';
import { definition } from '../src/definition';
import { upgradeSecretHash } from '../src/clients/clients.store';
import { expectGrpcError, postToken, runAdmin } from './clients-helpers';

const CLIENT_CREDENTIALS = 'client_credentials';
const HMAC_FORM = /^hmac-sha256\$v1\$[A-Za-z0-9_-]{43}$/;

/** A secret hash as rows written before the HMAC form hold it (N=2^14, r=8, p=1, 16-byte salt). */
function legacyScryptHash(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `scrypt$16384$8$1$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * Client secrets stored as keyed hashes (HMAC-SHA-256), and the migration of legacy scrypt hashes on
 * their next successful use, against the real process (ADR 0005, "Client secrets").
 */
describe('identity: client secret hashes and their migration (in-process service, PostgreSQL)', () => {
  let h: ServiceHarness;
  let svc: ServiceUnderTest;
  let pg: Client;
  let clients: PromiseClient<typeof ClientServiceService>;
  let tokens: PromiseClient<typeof TokenServiceService>;
  let adminMd: Metadata;
  const hasher = new ClientSecretHasher(Buffer.from(TEST_IDENTITY_MASTER_KEY, 'base64'));
  const operator = randomUUID();

  beforeAll(async () => {
    // identity trusts its own signing keys, not the harness's TestIssuer
    h = await startServiceHarness({
      definition,
      grpcService: ClientServiceService,
      label: 'identity-secrets',
      env: ({ httpUrl }) => ({ AUTH_JWKS_URL: `${httpUrl}/.well-known/jwks.json` }),
    });
    ({ svc, pg } = h);
    clients = h.client(ClientServiceService);
    tokens = h.client(TokenServiceService);
    await pg.query(`INSERT INTO operators (operator_id, name) VALUES ($1, 'Operator')`, [operator]);

    const init = await runAdmin(['init-city'], { DATABASE_URL: h.db.url, KAFKA_TOPIC_PREFIX: h.topicPrefix });
    expect(init.code).toBe(0);
    const admin = JSON.parse(init.stdout.trim()) as { client_id: string; client_secret: string };
    expect(await storedHash(admin.client_id)).toBe(hasher.hash(admin.client_secret));
    adminMd = bearer(await issue(admin.client_id, admin.client_secret));
  });

  afterAll(() => h?.stop());

  const issue = async (id: string, secret: string): Promise<string> =>
    (
      await tokens.issueToken({
        grantType: CLIENT_CREDENTIALS,
        clientId: id,
        clientSecret: secret,
        scope: '',
      })
    ).accessToken;

  const storedHash = async (id: string): Promise<string | undefined> =>
    (
      await pg.query<{ secret_hash: string }>('SELECT secret_hash FROM api_clients WHERE client_id = $1', [
        id,
      ])
    ).rows[0]?.secret_hash;

  const clientRow = async (id: string) =>
    (await pg.query('SELECT * FROM api_clients WHERE client_id = $1', [id])).rows[0] as Record<
      string,
      unknown
    >;

  const outboxCount = async () =>
    (await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]?.n;

  const createClient = (name: string) =>
    clients.createClient(
      {
        requestId: uniqueName('create'),
        name,
        scopes: ['identity:clients.read'],
        tenancy: { operatorIds: [operator], projectIds: [] },
      },
      adminMd,
    );

  /** A new client through the API; its row then gets a legacy scrypt hash of its secret. */
  const legacyClient = async (name: string): Promise<{ id: string; secret: string; legacy: string }> => {
    const created = await createClient(name);
    const id = created.client?.clientId ?? '';
    expect(await storedHash(id)).toBe(hasher.hash(created.clientSecret));
    const legacy = legacyScryptHash(created.clientSecret);
    await pg.query('UPDATE api_clients SET secret_hash = $2 WHERE client_id = $1', [id, legacy]);
    return { id, secret: created.clientSecret, legacy };
  };

  const refused = (id: string, secret: string) =>
    expectGrpcError(issue(id, secret), { code: status.UNAUTHENTICATED, domainCode: 'INVALID_CLIENT' });

  it('stores new and rotated secrets in the HMAC form', async () => {
    const created = await createClient('hmac app');
    const id = created.client?.clientId ?? '';
    const stored = await storedHash(id);
    expect(stored).toMatch(HMAC_FORM);
    expect(stored).toBe(hasher.hash(created.clientSecret));
    await issue(id, created.clientSecret);
    expect(await storedHash(id)).toBe(stored);

    const rotated = await clients.rotateClientSecret(
      { requestId: uniqueName('rotate'), clientId: id },
      adminMd,
    );
    expect(await storedHash(id)).toBe(hasher.hash(rotated.clientSecret));
    await refused(id, created.clientSecret);
    await issue(id, rotated.clientSecret);
  });

  it('issues a token to a client with a legacy scrypt hash, rewrites it in the HMAC form, and keeps working', async () => {
    const { id, secret, legacy } = await legacyClient('legacy app');
    const before = await clientRow(id);
    const events = await outboxCount();

    // a wrong secret against the legacy form: the same refusal as ever, and the row stays as it was
    const wrongLegacy = await refused(id, `${secret}x`);
    expect(await clientRow(id)).toEqual(before);
    const httpWrong = await postToken(
      svc.httpUrl,
      { grant_type: CLIENT_CREDENTIALS },
      { id, secret: 'nope' },
    );
    expect([httpWrong.status, httpWrong.body.error]).toEqual([401, 'invalid_client']);
    expect(await storedHash(id)).toBe(legacy);

    const token = await issue(id, secret);
    const claims = parseClaims(
      await verifyJwt(token, new JwksCache({ url: `${svc.httpUrl}/.well-known/jwks.json` })),
    );
    expect(claims.sub).toBe(id);
    const upgraded = await storedHash(id);
    expect(upgraded).toMatch(HMAC_FORM);
    expect(upgraded).toBe(hasher.hash(secret));
    // not a rotation: nothing else on the row changed, and no event was written
    expect(await clientRow(id)).toEqual({ ...before, secret_hash: upgraded });
    expect(await outboxCount()).toBe(events);
    expect(svc.output()).toMatch(new RegExp(`"client_id":"${id}"[^\\n]*"msg":"client secret hash upgraded"`));

    // the next requests verify against the HMAC form; a wrong one is refused the same way
    await issue(id, secret);
    const wrongHmac = await refused(id, `${secret}x`);
    expect(wrongHmac.details).toBe(wrongLegacy.details);
    const httpWrongHmac = await postToken(
      svc.httpUrl,
      { grant_type: CLIENT_CREDENTIALS },
      { id, secret: 'nope' },
    );
    expect(httpWrongHmac.status).toBe(401);
    expect(httpWrongHmac.body).toEqual(httpWrong.body);
    expect(await storedHash(id)).toBe(upgraded);
    const unknown = await refused('cb_aaaaaaaaaaaaaaaaaaaaaaaa', secret);
    expect(unknown.details).toBe(wrongLegacy.details);
    expect(await clientRow(id)).toEqual({ ...before, secret_hash: upgraded });
  });

  it('leaves the legacy hash of a revoked client alone', async () => {
    const { id, secret, legacy } = await legacyClient('retired legacy app');
    await clients.revokeClient({ requestId: uniqueName('revoke'), clientId: id, reason: 'retired' }, adminMd);
    await refused(id, secret);
    expect(await storedHash(id)).toBe(legacy);
  });

  it('issues the token even when the upgrade fails, and logs the failure', async () => {
    const { id, secret, legacy } = await legacyClient('stuck legacy app');
    await pg.query(`CREATE FUNCTION refuse_secret_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'secret hash update refused by the test'; END $$`);
    await pg.query(`CREATE TRIGGER refuse_secret_update BEFORE UPDATE OF secret_hash ON api_clients
      FOR EACH ROW WHEN (OLD.client_id = '${id}') EXECUTE FUNCTION refuse_secret_update()`);
    try {
      await issue(id, secret);
      await issue(id, secret);
      expect(await storedHash(id)).toBe(legacy);
      expect(svc.output()).toMatch(
        new RegExp(
          `"client_id":"${id}"[^\\n]*refused by the test[^\\n]*"msg":"client secret hash upgrade failed"`,
        ),
      );
    } finally {
      await pg.query('DROP TRIGGER refuse_secret_update ON api_clients');
      await pg.query('DROP FUNCTION refuse_secret_update()');
    }
    // the next request upgrades it
    await issue(id, secret);
    expect(await storedHash(id)).toBe(hasher.hash(secret));
  });

  it('never overwrites a secret rotated since the legacy hash was read', async () => {
    const { id, secret, legacy } = await legacyClient('rotating legacy app');
    const rotated = await clients.rotateClientSecret(
      { requestId: uniqueName('rotate'), clientId: id },
      adminMd,
    );
    // an upgrade computed from the legacy row, landing after the rotation committed
    expect(await upgradeSecretHash(h.pool, id, legacy, hasher.hash(secret))).toBe(false);
    expect(await storedHash(id)).toBe(hasher.hash(rotated.clientSecret));
    await refused(id, secret);
    await issue(id, rotated.clientSecret);
  });
});
