import { randomUUID } from 'node:crypto';
import { type Metadata, status } from '@grpc/grpc-js';
import type { Client } from 'pg';
import { JwksCache, parseClaims, verifyJwt } from '@citybase/platform';
import {
  bearer,
  startServiceHarness,
  type PromiseClient,
  type ServiceHarness,
  type ServiceUnderTest,
  type TestDatabase,
  uniqueName,
} from '@citybase/platform/testing';
import {
  ClientServiceService,
  ClientStatus,
  type CreateClientRequest,
  type IssueTokenRequest,
  TokenServiceService,
} from '@citybase/contracts/citybase/identity/v1/clients';
import { IdentityEvents } from '@citybase/contracts/events';
import { definition } from '../src/definition';
import { expectGrpcError, jwtHeader, postToken, runAdmin } from './clients-helpers';

const CLIENT_CREDENTIALS = 'client_credentials';

describe('identity: API clients, tokens and signing keys (in-process service, PostgreSQL, Kafka, Redis)', () => {
  let h: ServiceHarness;
  let db: TestDatabase;
  let svc: ServiceUnderTest;
  let pg: Client;
  let clients: PromiseClient<typeof ClientServiceService>;
  let tokens: PromiseClient<typeof TokenServiceService>;
  let jwksUrl: string;
  let topicPrefix: string;
  /** Every secret and token the suite saw: none may appear in a log line or an event. */
  const secrets: string[] = [];
  const accessTokens: string[] = [];

  let admin: { id: string; secret: string };
  let adminMd: Metadata;
  // tenancy fixtures: operators A and B, a project of each
  const opA = randomUUID();
  const opB = randomUUID();
  const projA = randomUUID();
  const projB = randomUUID();

  beforeAll(async () => {
    // identity trusts its own signing keys, not the harness's TestIssuer
    h = await startServiceHarness({
      definition,
      grpcService: ClientServiceService,
      label: 'identity-clients',
      env: ({ httpUrl }) => ({ AUTH_JWKS_URL: `${httpUrl}/.well-known/jwks.json` }),
    });
    ({ db, svc, pg, topicPrefix } = h);
    jwksUrl = `${svc.httpUrl}/.well-known/jwks.json`;
    await pg.query(
      `INSERT INTO operators (operator_id, name) VALUES ($1, 'Operator A'), ($2, 'Operator B')`,
      [opA, opB],
    );
    await pg.query(
      `INSERT INTO projects (project_id, operator_id, name, kind) VALUES ($1, $2, 'Project A', 1), ($3, $4, 'Project B', 1)`,
      [projA, opA, projB, opB],
    );
    clients = h.client(ClientServiceService);
    tokens = h.client(TokenServiceService);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const issue = async (id: string, secret: string, scope = ''): Promise<string> => {
    const res = await tokens.issueToken({
      grantType: CLIENT_CREDENTIALS,
      clientId: id,
      clientSecret: secret,
      scope,
    });
    accessTokens.push(res.accessToken);
    return res.accessToken;
  };
  const mdFor = async (id: string, secret: string, scope = '') => bearer(await issue(id, secret, scope));

  const createClient = async (md: Metadata, over: Partial<CreateClientRequest> = {}) => {
    const res = await clients.createClient(
      {
        requestId: uniqueName('create'),
        name: 'a client',
        scopes: ['identity:clients.read'],
        tenancy: { operatorIds: [opA], projectIds: [] },
        ...over,
      },
      md,
    );
    if (res.clientSecret) secrets.push(res.clientSecret);
    return res;
  };

  const counts = async () => {
    const { rows } = await pg.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM api_clients) AS clients,
              (SELECT count(*)::int FROM signing_keys) AS keys,
              (SELECT count(*)::int FROM idempotency_keys) AS idempotency,
              (SELECT count(*)::int FROM outbox) AS events,
              (SELECT string_agg(client_id || ':' || secret_hash, ',' ORDER BY client_id) FROM api_clients) AS secrets,
              (SELECT string_agg(kid || ':' || state, ',' ORDER BY kid) FROM signing_keys) AS key_states`,
    );
    return rows[0];
  };

  describe('bootstrap and token issuance', () => {
    it('init-city prints the admin credentials once; a second run exits 1 and creates nothing', async () => {
      const first = await runAdmin(['init-city', '--name', 'Test city admin'], {
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: topicPrefix,
      });
      expect(first.code).toBe(0);
      const lines = first.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const printed = JSON.parse(lines[0] ?? '') as { client_id: string; client_secret: string };
      expect(Object.keys(printed).sort()).toEqual(['client_id', 'client_secret']);
      expect(printed.client_id).toMatch(/^cb_[a-z2-7]{24}$/);
      expect(printed.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      admin = { id: printed.client_id, secret: printed.client_secret };
      secrets.push(admin.secret);

      const before = await counts();
      const second = await runAdmin(['init-city'], { DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: topicPrefix });
      expect(second.code).toBe(1);
      expect(second.stdout).toBe('');
      expect(second.stderr).toContain('already exists');
      expect(await counts()).toEqual(before);

      const { rows } = await pg.query(
        `SELECT name, scopes, operator_ids::text[] AS operator_ids, project_ids::text[] AS project_ids, created_by_client_id, status
           FROM api_clients WHERE client_id = $1`,
        [admin.id],
      );
      expect(rows[0]).toMatchObject({
        name: 'Test city admin',
        operator_ids: [],
        project_ids: [],
        created_by_client_id: null,
        status: 1,
      });
      const scopes = rows[0].scopes as string[];
      for (const s of [
        'city:admin',
        'identity:pii.read',
        'ops:admin',
        'identity:clients.write',
        'identity:keys.rotate',
        'payment:write',
      ]) {
        expect(scopes).toContain(s);
      }
    });

    it('issues an ES256 token over gRPC that verifies against /.well-known/jwks.json with the right claims', async () => {
      const res = await tokens.issueToken({
        grantType: CLIENT_CREDENTIALS,
        clientId: admin.id,
        clientSecret: admin.secret,
        scope: '',
      });
      accessTokens.push(res.accessToken);
      expect(res.tokenType).toBe('Bearer');
      expect(res.expiresIn).toBe(600);

      const jwksRes = await fetch(jwksUrl);
      expect(jwksRes.status).toBe(200);
      expect(jwksRes.headers.get('cache-control')).toMatch(/max-age=60/);
      const jwks = (await jwksRes.json()) as { keys: { kid: string; d?: string }[] };
      expect(jwks.keys).toHaveLength(2); // current + pre-published next
      for (const k of jwks.keys) expect(k.d).toBeUndefined();
      expect(jwtHeader(res.accessToken)).toMatchObject({ alg: 'ES256', kid: jwks.keys[0]?.kid });

      const payload = await verifyJwt(res.accessToken, new JwksCache({ url: jwksUrl }), {
        issuer: 'citybase-identity',
      });
      const claims = parseClaims(payload);
      const { rows } = await pg.query<{ scopes: string[] }>(
        'SELECT scopes FROM api_clients WHERE client_id = $1',
        [admin.id],
      );
      expect(claims).toMatchObject({
        sub: admin.id,
        scope: rows[0]?.scopes.join(' '),
        city: 'test-city',
        tenancy: { operators: [], projects: [] },
        iss: 'citybase-identity',
      });
      expect(res.scope).toBe(claims.scope);
      expect(claims.exp - claims.iat).toBe(600);
      expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(30);
      expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
      expect(Object.keys(payload).sort()).toEqual([
        'city',
        'exp',
        'iat',
        'iss',
        'jti',
        'scope',
        'sub',
        'tenancy',
      ]);

      adminMd = bearer(res.accessToken);
      // the token works on a real RPC (identity verifies it against its own JWKS)
      const got = await clients.getClient({ clientId: admin.id }, adminMd);
      expect(got.client?.clientId).toBe(admin.id);
      expect(got.client?.createdByClientId).toBe('');
    });

    it('issues a token over HTTP POST /oauth/token with Basic auth and with form credentials', async () => {
      const viaBasic = await postToken(
        svc.httpUrl,
        { grant_type: CLIENT_CREDENTIALS, scope: 'identity:clients.read' },
        { id: admin.id, secret: admin.secret },
      );
      expect(viaBasic.status).toBe(200);
      expect(viaBasic.headers.get('cache-control')).toBe('no-store');
      expect(viaBasic.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 600,
        scope: 'identity:clients.read',
      });
      const viaForm = await postToken(svc.httpUrl, {
        grant_type: CLIENT_CREDENTIALS,
        client_id: admin.id,
        client_secret: admin.secret,
      });
      expect(viaForm.status).toBe(200);
      for (const res of [viaBasic, viaForm]) {
        const token = res.body.access_token as string;
        accessTokens.push(token);
        const claims = parseClaims(await verifyJwt(token, new JwksCache({ url: jwksUrl })));
        expect(claims.sub).toBe(admin.id);
      }
      const narrow = viaBasic.body.access_token as string;
      expect(parseClaims(await verifyJwt(narrow, new JwksCache({ url: jwksUrl }))).scope).toBe(
        'identity:clients.read',
      );
      // a token narrowed to clients.read cannot write
      await expectGrpcError(createClient(bearer(narrow)), {
        code: status.PERMISSION_DENIED,
        domainCode: 'SCOPE_MISSING',
      });
    });

    it('answers a wrong secret and an unknown client the same way, and refuses bad grant types and scopes', async () => {
      const wrong = await expectGrpcError(issue(admin.id, `${admin.secret}x`), {
        code: status.UNAUTHENTICATED,
        domainCode: 'INVALID_CLIENT',
      });
      const unknown = await expectGrpcError(issue('cb_aaaaaaaaaaaaaaaaaaaaaaaa', admin.secret), {
        code: status.UNAUTHENTICATED,
        domainCode: 'INVALID_CLIENT',
      });
      expect(unknown.details).toBe(wrong.details);
      await expectGrpcError(
        tokens.issueToken({
          grantType: 'password',
          clientId: admin.id,
          clientSecret: admin.secret,
          scope: '',
        }),
        { code: status.INVALID_ARGUMENT, field: 'grant_type', domainCode: 'UNSUPPORTED_GRANT_TYPE' },
      );
      await expectGrpcError(issue(admin.id, admin.secret, 'identity:clients.read not:held'), {
        code: status.INVALID_ARGUMENT,
        field: 'scope',
        domainCode: 'INVALID_SCOPE',
      });

      // HTTP: RFC 6749 §5.2 errors
      const httpWrong = await postToken(
        svc.httpUrl,
        { grant_type: CLIENT_CREDENTIALS },
        { id: admin.id, secret: 'nope' },
      );
      expect(httpWrong.status).toBe(401);
      expect(httpWrong.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(httpWrong.headers.get('cache-control')).toBe('no-store');
      expect(httpWrong.body.error).toBe('invalid_client');
      const httpUnknown = await postToken(svc.httpUrl, {
        grant_type: CLIENT_CREDENTIALS,
        client_id: 'cb_bbbbbbbbbbbbbbbbbbbbbbbb',
        client_secret: 'nope',
      });
      expect(httpUnknown.status).toBe(401);
      expect(httpUnknown.body).toEqual(httpWrong.body);
      expect(httpUnknown.headers.get('www-authenticate')).toBeNull(); // no Basic attempted
      const grant = await postToken(svc.httpUrl, { grant_type: 'password' }, admin);
      expect([grant.status, grant.body.error]).toEqual([400, 'unsupported_grant_type']);
      const scope = await postToken(
        svc.httpUrl,
        { grant_type: CLIENT_CREDENTIALS, scope: 'not:held' },
        admin,
      );
      expect([scope.status, scope.body.error]).toEqual([400, 'invalid_scope']);
      const missing = await postToken(svc.httpUrl, { client_id: admin.id, client_secret: admin.secret });
      expect([missing.status, missing.body.error]).toEqual([400, 'invalid_request']);
      const json = await fetch(`${svc.httpUrl}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: CLIENT_CREDENTIALS,
          client_id: admin.id,
          client_secret: admin.secret,
        }),
      });
      expect(json.status).toBe(400);
      expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
    });
  });

  describe('ClientService', () => {
    let operatorClient: { id: string; secret: string; md: Metadata };

    it('creates a client within the caller scopes and tenancy; the secret is shown once and stored only hashed', async () => {
      const requestId = uniqueName('create-op');
      const req: CreateClientRequest = {
        requestId,
        name: 'Operator A tools',
        scopes: ['identity:clients.write', 'identity:clients.read', 'payment:read'],
        tenancy: { operatorIds: [opA], projectIds: [] },
      };
      const created = await clients.createClient(req, adminMd);
      secrets.push(created.clientSecret);
      expect(created.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.client).toMatchObject({
        name: 'Operator A tools',
        scopes: req.scopes,
        tenancy: { operatorIds: [opA], projectIds: [] },
        status: ClientStatus.CLIENT_STATUS_ACTIVE,
        createdByClientId: admin.id,
      });
      const id = created.client?.clientId ?? '';

      const replay = await clients.createClient(req, adminMd);
      expect(replay.client?.clientId).toBe(id);
      expect(replay.clientSecret).toBe('');

      const { rows } = await pg.query<{ row: string; secret_hash: string }>(
        `SELECT row_to_json(c)::text AS row, secret_hash FROM api_clients c WHERE client_id = $1`,
        [id],
      );
      expect(rows[0]?.row).not.toContain(created.clientSecret);
      expect(rows[0]?.secret_hash).toMatch(/^hmac-sha256\$v1\$[A-Za-z0-9_-]{43}$/);

      operatorClient = { id, secret: created.clientSecret, md: await mdFor(id, created.clientSecret) };
      // its token carries its tenancy and works on an RPC within its scopes
      const self = await clients.getClient({ clientId: id }, operatorClient.md);
      expect(self.client?.clientId).toBe(id);
    });

    it('refuses scope escalation, naming the scope', async () => {
      const err = await expectGrpcError(
        createClient(operatorClient.md, { scopes: ['identity:clients.read', 'city:admin'] }),
        { code: status.PERMISSION_DENIED, field: 'scopes[1]', domainCode: 'SCOPE_ESCALATION' },
      );
      expect(err.details).toContain('city:admin');
      await expectGrpcError(createClient(operatorClient.md, { scopes: ['payment:write'] }), {
        code: status.PERMISSION_DENIED,
        field: 'scopes[0]',
      });
    });

    it('refuses tenancy escalation: another operator, its project, or the whole city', async () => {
      const before = await counts();
      await expectGrpcError(
        createClient(operatorClient.md, { tenancy: { operatorIds: [opB], projectIds: [] } }),
        {
          code: status.PERMISSION_DENIED,
          field: 'tenancy.operator_ids[0]',
          domainCode: 'TENANCY_ESCALATION',
        },
      );
      await expectGrpcError(
        createClient(operatorClient.md, { tenancy: { operatorIds: [], projectIds: [projB] } }),
        {
          code: status.PERMISSION_DENIED,
          field: 'tenancy.project_ids[0]',
        },
      );
      expect(await counts()).toEqual(before);
    });

    it('lets a client see only clients inside its tenancy (others are NOT_FOUND)', async () => {
      const projectClient = await createClient(operatorClient.md, {
        name: 'Project A app',
        tenancy: { operatorIds: [], projectIds: [projA] },
      });
      const projectId = projectClient.client?.clientId ?? '';
      const foreign = await createClient(adminMd, {
        name: 'Operator B tools',
        tenancy: { operatorIds: [opB], projectIds: [] },
      });
      const foreignId = foreign.client?.clientId ?? '';

      const projectMd = await mdFor(projectId, projectClient.clientSecret);
      expect(
        (await clients.getClient({ clientId: projectId }, projectMd)).client?.tenancy?.projectIds,
      ).toEqual([projA]);
      for (const hidden of [operatorClient.id, admin.id, foreignId]) {
        await expectGrpcError(clients.getClient({ clientId: hidden }, projectMd), { code: status.NOT_FOUND });
      }
      await expectGrpcError(clients.getClient({ clientId: foreignId }, operatorClient.md), {
        code: status.NOT_FOUND,
      });
      await expectGrpcError(clients.getClient({ clientId: admin.id }, operatorClient.md), {
        code: status.NOT_FOUND,
      });

      const listed = async (md: Metadata) => {
        const ids: string[] = [];
        let pageToken = '';
        do {
          const page = await clients.listClients({ page: { pageSize: 1, pageToken } }, md);
          ids.push(...page.clients.map((c) => c.clientId));
          pageToken = page.page?.nextPageToken ?? '';
        } while (pageToken !== '');
        return ids;
      };
      expect(await listed(projectMd)).toEqual([projectId]);
      expect(await listed(operatorClient.md)).toEqual([operatorClient.id, projectId]);
      const all = await listed(adminMd);
      expect(all).toEqual(expect.arrayContaining([admin.id, operatorClient.id, projectId, foreignId]));
      const { rows } = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM api_clients');
      expect(all).toHaveLength(rows[0]?.n ?? -1);
    });

    it('rotates a secret: the old one is refused at once, the new one works, earlier tokens stay valid', async () => {
      const target = await createClient(operatorClient.md, { name: 'rotating app' });
      const id = target.client?.clientId ?? '';
      const oldSecret = target.clientSecret;
      const tokenBefore = await mdFor(id, oldSecret);

      const req = { requestId: uniqueName('rotate'), clientId: id };
      const rotated = await clients.rotateClientSecret(req, operatorClient.md);
      secrets.push(rotated.clientSecret);
      expect(rotated.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(rotated.clientSecret).not.toBe(oldSecret);
      expect(rotated.client?.secretRotatedAt).toBeDefined();

      await expectGrpcError(issue(id, oldSecret), {
        code: status.UNAUTHENTICATED,
        domainCode: 'INVALID_CLIENT',
      });
      await issue(id, rotated.clientSecret);
      expect((await clients.getClient({ clientId: id }, tokenBefore)).client?.clientId).toBe(id);

      const replay = await clients.rotateClientSecret(req, operatorClient.md);
      expect(replay.clientSecret).toBe('');
      await issue(id, rotated.clientSecret); // the replay did not rotate again

      // a client outside the caller's tenancy is NOT_FOUND
      await expectGrpcError(
        clients.rotateClientSecret(
          { requestId: uniqueName('rotate'), clientId: admin.id },
          operatorClient.md,
        ),
        { code: status.NOT_FOUND },
      );
    });

    it('revokes a client: no new tokens, and a token issued before is refused on the next call', async () => {
      const target = await createClient(operatorClient.md, { name: 'revoked app' });
      const id = target.client?.clientId ?? '';
      const tokenBefore = await mdFor(id, target.clientSecret);
      expect((await clients.getClient({ clientId: id }, tokenBefore)).client?.clientId).toBe(id);

      const req = { requestId: uniqueName('revoke'), clientId: id, reason: 'app retired' };
      const revoked = await clients.revokeClient(req, operatorClient.md);
      expect(revoked.client?.status).toBe(ClientStatus.CLIENT_STATUS_REVOKED);
      expect(revoked.client?.revokedAt).toBeDefined();

      await expectGrpcError(clients.getClient({ clientId: id }, tokenBefore), {
        code: status.UNAUTHENTICATED,
        domainCode: 'TOKEN_REVOKED',
      });
      const refused = await expectGrpcError(issue(id, target.clientSecret), {
        code: status.UNAUTHENTICATED,
        domainCode: 'INVALID_CLIENT',
      });
      const wrongSecret = await grpcErrorDetails(issue(operatorClient.id, 'wrong'));
      expect(refused.details).toBe(wrongSecret);
      const http = await postToken(
        svc.httpUrl,
        { grant_type: CLIENT_CREDENTIALS },
        { id, secret: target.clientSecret },
      );
      expect([http.status, http.body.error]).toEqual([401, 'invalid_client']);

      const replay = await clients.revokeClient(req, operatorClient.md);
      expect(replay.client?.status).toBe(ClientStatus.CLIENT_STATUS_REVOKED);
      // rotating the secret of a revoked client is refused
      await expectGrpcError(
        clients.rotateClientSecret({ requestId: uniqueName('rotate'), clientId: id }, operatorClient.md),
        { code: status.FAILED_PRECONDITION, domainCode: 'CLIENT_REVOKED' },
      );
    });
  });

  describe('signing keys', () => {
    it('rotates without breaking a valid token: the next key was published before it signs', async () => {
      const jwksBefore = (await (await fetch(jwksUrl)).json()) as { keys: { kid: string }[] };
      const [currentKid, nextKid] = jwksBefore.keys.map((k) => k.kid);
      const tokenBefore = await issue(admin.id, admin.secret);
      expect(jwtHeader(tokenBefore).kid).toBe(currentKid);

      const req = { requestId: uniqueName('rotate-key') };
      const rotated = await clients.rotateSigningKey(req, adminMd);
      expect(rotated.key?.kid).toBe(nextKid);
      expect(rotated.key?.retiredAt).toBeUndefined();
      const published = rotated.published.map((k) => k.kid);
      expect(published[0]).toBe(nextKid);
      expect(published).toHaveLength(3);
      expect(published).toContain(currentKid); // retired, still published
      expect(rotated.published.find((k) => k.kid === currentKid)?.retiredAt).toBeDefined();

      const tokenAfter = await issue(admin.id, admin.secret);
      expect(jwtHeader(tokenAfter).kid).toBe(nextKid);
      // both verify through a real RPC call, identity checking against its own JWKS
      expect((await clients.getClient({ clientId: admin.id }, bearer(tokenBefore))).client?.clientId).toBe(
        admin.id,
      );
      expect((await clients.getClient({ clientId: admin.id }, bearer(tokenAfter))).client?.clientId).toBe(
        admin.id,
      );

      const jwksAfter = (await (await fetch(jwksUrl)).json()) as { keys: { kid: string }[] };
      expect(jwksAfter.keys.map((k) => k.kid)).toEqual(published);

      const replay = await clients.rotateSigningKey(req, adminMd);
      expect(replay.key?.kid).toBe(nextKid);
      const { rows } = await pg.query<{ state: string; n: number }>(
        `SELECT state, count(*)::int AS n FROM signing_keys GROUP BY state ORDER BY state`,
      );
      expect(rows).toEqual([
        { state: 'current', n: 1 },
        { state: 'next', n: 1 },
        { state: 'retired', n: 1 },
      ]);
      const retired = await pg.query(`SELECT private_key_enc FROM signing_keys WHERE state = 'retired'`);
      expect(retired.rows[0]?.private_key_enc).toBeNull(); // the private half is destroyed
    });

    it('lets only an unrestricted city admin rotate', async () => {
      const narrow = await createClient(adminMd, {
        scopes: ['identity:keys.rotate', 'city:admin'],
        tenancy: { operatorIds: [opA], projectIds: [] },
      });
      const md = await mdFor(narrow.client?.clientId ?? '', narrow.clientSecret);
      await expectGrpcError(clients.rotateSigningKey({ requestId: uniqueName('rk') }, md), {
        code: status.PERMISSION_DENIED,
        domainCode: 'CITY_ADMIN_REQUIRED',
      });
    });
  });

  describe('bad input', () => {
    const longId = `cb_${'a'.repeat(98)}`;

    it('refuses bad input on every ClientService RPC naming the field, writing nothing', async () => {
      const before = await counts();
      const c = (over: Partial<CreateClientRequest>) => createClient(adminMd, over);
      const cases: [string, () => Promise<unknown>, string | RegExp][] = [
        ['create: no request id', () => c({ requestId: '' }), 'request_id'],
        ['create: request id too long', () => c({ requestId: 'r'.repeat(129) }), 'request_id'],
        ['create: empty name', () => c({ name: '' }), 'name'],
        ['create: name too long', () => c({ name: 'n'.repeat(201) }), 'name'],
        ['create: no scopes', () => c({ scopes: [] }), 'scopes'],
        ['create: malformed scope', () => c({ scopes: ['bad scope'] }), 'scopes[0]'],
        [
          'create: duplicate scopes',
          () => c({ scopes: ['identity:clients.read', 'identity:clients.read'] }),
          'scopes[1]',
        ],
        [
          'create: malformed operator uuid',
          () => c({ tenancy: { operatorIds: ['nope'], projectIds: [] } }),
          'tenancy.operator_ids[0]',
        ],
        [
          'create: malformed project uuid',
          () => c({ tenancy: { operatorIds: [], projectIds: ['x'] } }),
          'tenancy.project_ids[0]',
        ],
        [
          'create: unknown operator',
          () => c({ tenancy: { operatorIds: [randomUUID()], projectIds: [] } }),
          'tenancy.operator_ids[0]',
        ],
        [
          'create: unknown project',
          () => c({ tenancy: { operatorIds: [], projectIds: [randomUUID()] } }),
          'tenancy.project_ids[0]',
        ],
        [
          'create: empty tenancy without city:admin',
          () => c({ tenancy: { operatorIds: [], projectIds: [] } }),
          'tenancy',
        ],
        [
          'rotate: no request id',
          () => clients.rotateClientSecret({ requestId: '', clientId: admin.id }, adminMd),
          'request_id',
        ],
        [
          'rotate: no client id',
          () => clients.rotateClientSecret({ requestId: 'r', clientId: '' }, adminMd),
          'client_id',
        ],
        [
          'rotate: client id too long',
          () => clients.rotateClientSecret({ requestId: 'r', clientId: longId }, adminMd),
          'client_id',
        ],
        [
          'revoke: no reason',
          () => clients.revokeClient({ requestId: 'r', clientId: admin.id, reason: '' }, adminMd),
          'reason',
        ],
        [
          'revoke: reason too long',
          () =>
            clients.revokeClient({ requestId: 'r', clientId: admin.id, reason: 'x'.repeat(501) }, adminMd),
          'reason',
        ],
        [
          'revoke: malformed client id',
          () => clients.revokeClient({ requestId: 'r', clientId: 'x', reason: 'y' }, adminMd),
          'client_id',
        ],
        [
          'revoke: no request id',
          () => clients.revokeClient({ requestId: '', clientId: admin.id, reason: 'y' }, adminMd),
          'request_id',
        ],
        ['get: no client id', () => clients.getClient({ clientId: '' }, adminMd), 'client_id'],
        ['get: malformed client id', () => clients.getClient({ clientId: 'cb_UPPER' }, adminMd), 'client_id'],
        [
          'list: negative page size',
          () => clients.listClients({ page: { pageSize: -1, pageToken: '' } }, adminMd),
          'page.page_size',
        ],
        [
          'list: bad page token',
          () => clients.listClients({ page: { pageSize: 0, pageToken: 'zzz' } }, adminMd),
          'page.page_token',
        ],
        [
          'list: forged page token (a client id that is not one)',
          () =>
            clients.listClients(
              {
                page: {
                  pageSize: 0,
                  pageToken: Buffer.from(
                    JSON.stringify({ v: 1, l: 'identity.clients', k: ["cb_' OR 1=1 --"] }),
                  ).toString('base64url'),
                },
              },
              adminMd,
            ),
          'page.page_token',
        ],
        [
          'rotate key: no request id',
          () => clients.rotateSigningKey({ requestId: '' }, adminMd),
          'request_id',
        ],
        [
          'rotate key: request id with spaces',
          () => clients.rotateSigningKey({ requestId: 'a b' }, adminMd),
          'request_id',
        ],
      ];
      for (const [what, call, field] of cases) {
        const err = await expectGrpcError(call(), { code: status.INVALID_ARGUMENT, field }).catch(
          (e: Error) => {
            throw new Error(`${what}: ${e.message}`);
          },
        );
        expect(err.details).toContain(typeof field === 'string' ? field : '');
      }
      expect(await counts()).toEqual(before);
    });

    it('refuses bad input on TokenService naming the field, before touching anything', async () => {
      const before = await counts();
      const t = (over: Partial<IssueTokenRequest>) =>
        tokens.issueToken({
          grantType: CLIENT_CREDENTIALS,
          clientId: admin.id,
          clientSecret: admin.secret,
          scope: '',
          ...over,
        });
      const cases: [string, () => Promise<unknown>, string][] = [
        ['no grant type', () => t({ grantType: '' }), 'grant_type'],
        ['other grant type', () => t({ grantType: 'authorization_code' }), 'grant_type'],
        ['no client id', () => t({ clientId: '' }), 'client_id'],
        ['client id too long', () => t({ clientId: 'c'.repeat(101) }), 'client_id'],
        ['no secret', () => t({ clientSecret: '' }), 'client_secret'],
        ['secret too long', () => t({ clientSecret: 's'.repeat(201) }), 'client_secret'],
        ['malformed scope', () => t({ scope: 'a  b' }), 'scope'],
        ['scope with a quote', () => t({ scope: 'a"b' }), 'scope'],
      ];
      for (const [what, call, field] of cases) {
        await expectGrpcError(call(), { code: status.INVALID_ARGUMENT, field }).catch((e: Error) => {
          throw new Error(`${what}: ${e.message}`);
        });
      }
      expect(await counts()).toEqual(before);
    });
  });

  describe('events and secrecy', () => {
    it('records each fact exactly once in the outbox, with no secret in any event or log line', async () => {
      const { rows } = await pg.query<{
        event_type: string;
        partition_key: string;
        payload: Buffer;
        topic: string;
      }>(`SELECT event_type, partition_key, payload, topic FROM outbox ORDER BY event_type`);
      const byType = (t: string) => rows.filter((r) => r.event_type === t);
      const clientRows = await pg.query<{
        client_id: string;
        status: number;
        secret_rotated_at: Date | null;
      }>('SELECT client_id, status, secret_rotated_at FROM api_clients');

      const created = byType(IdentityEvents.ClientCreated.type).map((r) =>
        IdentityEvents.ClientCreated.codec.decode(r.payload),
      );
      expect(created.map((e) => e.clientId).sort()).toEqual(clientRows.rows.map((r) => r.client_id).sort());
      const bootstrap = created.find((e) => e.clientId === admin.id);
      expect(bootstrap?.createdByClientId).toBe('');
      expect(bootstrap?.scopes).toContain('city:admin');

      const rotated = byType(IdentityEvents.ClientSecretRotated.type).map((r) =>
        IdentityEvents.ClientSecretRotated.codec.decode(r.payload),
      );
      expect(rotated.map((e) => e.clientId).sort()).toEqual(
        clientRows.rows
          .filter((r) => r.secret_rotated_at !== null)
          .map((r) => r.client_id)
          .sort(),
      );
      expect(rotated).toHaveLength(1);

      const revoked = byType(IdentityEvents.ClientRevoked.type).map((r) =>
        IdentityEvents.ClientRevoked.codec.decode(r.payload),
      );
      expect(revoked).toHaveLength(1);
      expect(revoked[0]?.reason).toBe('app retired');
      expect(revoked.map((e) => e.clientId)).toEqual(
        clientRows.rows.filter((r) => r.status === 2).map((r) => r.client_id),
      );

      const keyEvents = byType(IdentityEvents.SigningKeyRotated.type).map((r) =>
        IdentityEvents.SigningKeyRotated.codec.decode(r.payload),
      );
      expect(keyEvents).toHaveLength(1);
      const current = await pg.query<{ kid: string }>(`SELECT kid FROM signing_keys WHERE state = 'current'`);
      const retired = await pg.query<{ kid: string }>(`SELECT kid FROM signing_keys WHERE state = 'retired'`);
      expect(keyEvents[0]).toMatchObject({ kid: current.rows[0]?.kid, previousKid: retired.rows[0]?.kid });

      expect(rows.every((r) => r.topic === `${topicPrefix}citybase.identity.events.v1`)).toBe(true);
      expect(secrets.length).toBeGreaterThanOrEqual(6);
      const output = svc.output();
      // operators see why a token was refused (the caller only ever sees invalid_client)
      for (const reason of ['unknown_client', 'wrong_secret', 'client_revoked']) {
        expect(output).toContain(`"reason":"${reason}"`);
      }
      expect(output).toContain('token issued');
      for (const secret of [...secrets, ...accessTokens]) {
        expect(output).not.toContain(secret);
        for (const r of rows) expect(r.payload.includes(Buffer.from(secret))).toBe(false);
      }
      const { rows: dump } = await pg.query<{ t: string }>(
        `SELECT (SELECT json_agg(c)::text FROM api_clients c) || (SELECT json_agg(o)::text FROM outbox o) AS t`,
      );
      for (const secret of secrets) expect(dump[0]?.t).not.toContain(secret);
    });
  });
});

async function grpcErrorDetails(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    return (err as { details: string }).details;
  }
  throw new Error('expected the call to fail');
}
