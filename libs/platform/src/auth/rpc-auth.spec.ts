import {
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  ServiceDefinition,
  status,
  UntypedHandleCall,
} from '@grpc/grpc-js';
import type { RpcAuthDeclaration } from '@citybase/contracts/rpc-auth';
import { DomainError, InfrastructureError } from '../errors';
import { AuthError } from './auth-error';
import { generateSigningKey, importJwks, toJwks } from './jwks';
import { signJwtSync } from '../testing/sign-jwt-sync';
import { base64urlEncode, JwtPayload, KeyResolver } from './jwt';
import { claimsOf, findClaims, guardServer, RpcAuthenticator } from './rpc-auth';

const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_SEC = NOW.getTime() / 1000;
const key = generateSigningKey();
const stranger = generateSigningKey();
const keys: KeyResolver = importJwks(toJwks([key.publicJwk]));

function declaration(path: string, requiredScope: string | undefined, publicRpc = false): RpcAuthDeclaration {
  const [, service = '', method = ''] = path.split('/');
  return { service, method, path, requiredScope, publicRpc, clientStreaming: false, serverStreaming: false };
}
const CAPTURE = '/t.v1.Pay/Capture';
const TOKEN = '/t.v1.Token/Issue';
const FORGOTTEN = '/t.v1.Pay/Forgotten';
const CONFUSED = '/t.v1.Pay/Confused';
const declarations = new Map(
  [
    declaration(CAPTURE, 'payment:write'),
    declaration(TOKEN, undefined, true),
    declaration(FORGOTTEN, undefined),
    declaration(CONFUSED, 'payment:write', true),
  ].map((d) => [d.path, d]),
);
const revoked = new Set<string>();
const authenticator = new RpcAuthenticator({
  declarations,
  keys,
  city: 'sz',
  issuer: 'identity',
  now: () => NOW,
  revocations: { isRevoked: (id) => Promise.resolve(revoked.has(id)) },
});

function claims(extra: JwtPayload = {}): JwtPayload {
  return {
    sub: 'client-1',
    scope: 'payment:write merchant:read',
    city: 'sz',
    tenancy: { operators: ['op-1'] },
    iat: NOW_SEC,
    exp: NOW_SEC + 300,
    jti: 'jti-1',
    iss: 'identity',
    ...extra,
  };
}
// signJwtSync (jose's signJwt is async): the tables below build tokens where nothing can be awaited
const tokenFor = (extra: JwtPayload = {}, signer = key) =>
  signJwtSync(claims(extra), { privateKey: signer.privateKey, kid: signer.kid });

function metadataWith(...authorization: string[]): Metadata {
  const md = new Metadata();
  for (const v of authorization) md.add('authorization', v);
  return md;
}

async function rejection(p: Promise<unknown>): Promise<DomainError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

describe('RpcAuthenticator', () => {
  afterEach(() => revoked.clear());

  it('admits a valid token that carries the declared scope and returns its claims', async () => {
    const got = await authenticator.authenticate(CAPTURE, metadataWith(`Bearer ${tokenFor()}`));
    expect(got).toMatchObject({ sub: 'client-1', tenancy: { operators: ['op-1'] } });
    await expect(
      authenticator.authenticate(CAPTURE, metadataWith(`bearer ${tokenFor()}`)),
    ).resolves.toBeDefined();
  });

  it('refuses a token without the declared scope: PERMISSION_DENIED SCOPE_MISSING', async () => {
    const err = await rejection(
      authenticator.authenticate(CAPTURE, metadataWith(`Bearer ${tokenFor({ scope: 'merchant:read' })}`)),
    );
    expect(err).toMatchObject({ kind: 'permission_denied', code: 'SCOPE_MISSING' });
  });

  it('refuses an RPC that declares no scope, one declared both ways, and one not in the contracts', async () => {
    const md = metadataWith(`Bearer ${tokenFor()}`);
    expect(await rejection(authenticator.authenticate(FORGOTTEN, md))).toMatchObject({
      code: 'RPC_SCOPE_UNDECLARED',
    });
    expect(await rejection(authenticator.authenticate(CONFUSED, md))).toMatchObject({
      code: 'RPC_DECLARATION_CONFLICT',
    });
    expect(await rejection(authenticator.authenticate('/x.v1.S/M', md))).toMatchObject({
      code: 'RPC_UNDECLARED',
    });
  });

  it('lets a public RPC through without a token and returns no claims', async () => {
    await expect(authenticator.authenticate(TOKEN, new Metadata())).resolves.toBeUndefined();
  });

  it('refuses the token of a revoked client: UNAUTHENTICATED TOKEN_REVOKED', async () => {
    revoked.add('client-1');
    const err = await rejection(authenticator.authenticate(CAPTURE, metadataWith(`Bearer ${tokenFor()}`)));
    expect(err).toMatchObject({ kind: 'unauthenticated', code: 'TOKEN_REVOKED' });
  });

  it('fails closed when the revocation list is unavailable', async () => {
    const down = new RpcAuthenticator({
      declarations,
      keys,
      city: 'sz',
      now: () => NOW,
      revocations: { isRevoked: () => Promise.reject(new InfrastructureError('unavailable', 'redis down')) },
    });
    await expect(down.authenticate(CAPTURE, metadataWith(`Bearer ${tokenFor()}`))).rejects.toBeInstanceOf(
      InfrastructureError,
    );
  });

  it('checks the HTTP Authorization header the same way', async () => {
    await expect(
      authenticator.authenticateHttp(`Bearer ${tokenFor()}`, 'payment:write'),
    ).resolves.toMatchObject({
      sub: 'client-1',
    });
    expect(await rejection(authenticator.authenticateHttp(undefined, 'payment:write'))).toMatchObject({
      code: 'TOKEN_MISSING',
    });
    expect(
      await rejection(authenticator.authenticateHttp(`Bearer ${tokenFor()}`, 'ops:admin')),
    ).toMatchObject({
      code: 'SCOPE_MISSING',
    });
  });

  const p = tokenFor().split('.')[1];
  it.each<[string, () => Metadata, string]>([
    ['no authorization metadata', () => new Metadata(), 'TOKEN_MISSING'],
    ['another scheme', () => metadataWith(`Basic ${tokenFor()}`), 'TOKEN_MALFORMED'],
    ['a bare token', () => metadataWith(tokenFor()), 'TOKEN_MALFORMED'],
    [
      'two authorization values',
      () => metadataWith(`Bearer ${tokenFor()}`, `Bearer ${tokenFor()}`),
      'TOKEN_MALFORMED',
    ],
    ['a malformed token', () => metadataWith('Bearer not-a-jwt'), 'TOKEN_MALFORMED'],
    [
      'alg none',
      () => metadataWith(`Bearer ${base64urlEncode(JSON.stringify({ alg: 'none', kid: key.kid }))}.${p}.`),
      'TOKEN_ALG_UNSUPPORTED',
    ],
    [
      'a token signed by an unknown key',
      () => metadataWith(`Bearer ${tokenFor({}, stranger)}`),
      'TOKEN_KID_UNKNOWN',
    ],
    [
      'a tampered payload',
      () => {
        const [h, , s] = tokenFor().split('.');
        const forged = base64urlEncode(JSON.stringify(claims({ tenancy: { operators: ['op-2'] } })));
        return metadataWith(`Bearer ${h}.${forged}.${s}`);
      },
      'TOKEN_SIGNATURE_INVALID',
    ],
    ['an expired token', () => metadataWith(`Bearer ${tokenFor({ exp: NOW_SEC - 60 })}`), 'TOKEN_EXPIRED'],
    ['a future nbf', () => metadataWith(`Bearer ${tokenFor({ nbf: NOW_SEC + 600 })}`), 'TOKEN_NOT_YET_VALID'],
    ['a wrong issuer', () => metadataWith(`Bearer ${tokenFor({ iss: 'evil' })}`), 'TOKEN_ISSUER_INVALID'],
    ['another city', () => metadataWith(`Bearer ${tokenFor({ city: 'gz' })}`), 'TOKEN_CITY_INVALID'],
    [
      'signed claims of the wrong shape',
      () => metadataWith(`Bearer ${tokenFor({ tenancy: 'all' })}`),
      'TOKEN_CLAIMS_INVALID',
    ],
  ])('refuses %s: UNAUTHENTICATED', async (_name, metadata, code) => {
    const err = await rejection(authenticator.authenticate(CAPTURE, metadata()));
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ kind: 'unauthenticated', code });
  });
});

describe('guardServer', () => {
  type Handler = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void;
  const method = (path: string) => ({
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
    requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
    responseSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
    responseDeserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown,
  });
  const definition = {
    capture: method(CAPTURE),
    forgotten: method(FORGOTTEN),
  } as unknown as ServiceDefinition;

  function guarded(implementation: Record<string, Handler>) {
    const added: Record<string, Handler> = {};
    const server = {
      addService: (_def: ServiceDefinition, impl: Record<string, UntypedHandleCall>) =>
        Object.assign(added, impl),
    };
    const logger = { info: jest.fn(), error: jest.fn() };
    guardServer(server, { authenticator, logger });
    server.addService(definition, implementation as unknown as Record<string, UntypedHandleCall>);
    return { added, logger };
  }

  function call(handler: Handler, metadata: Metadata) {
    return new Promise<{ err: { code: status; details: string; metadata?: Metadata } | null; res: unknown }>(
      (resolve) =>
        handler({ metadata, request: {} } as ServerUnaryCall<unknown, unknown>, (err, res) =>
          resolve({ err: err as { code: status; details: string; metadata?: Metadata } | null, res }),
        ),
    );
  }

  it('runs the handler only after authentication, with the claims recorded for claimsOf', async () => {
    let seen: unknown;
    const { added } = guarded({
      capture: (c, cb) => {
        seen = claimsOf(c.metadata).sub;
        cb(null, { ok: true });
      },
    });
    const md = metadataWith(`Bearer ${tokenFor()}`);
    expect(await call(added['capture'] as Handler, md)).toEqual({ err: null, res: { ok: true } });
    expect(seen).toBe('client-1');
    expect(findClaims(new Metadata())).toBeUndefined();
  });

  it('answers a refused call with its status and the error code trailer, and never runs the handler', async () => {
    const capture = jest.fn();
    const { added, logger } = guarded({ capture });
    const { err } = await call(added['capture'] as Handler, new Metadata());
    expect(err?.code).toBe(status.UNAUTHENTICATED);
    expect(err?.metadata?.get('citybase-error-code')).toEqual(['TOKEN_MISSING']);
    expect(capture).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('guards a method the application does not implement, then answers UNIMPLEMENTED', async () => {
    const { added } = guarded({ capture: jest.fn() });
    const forgotten = added['forgotten'] as Handler;
    expect((await call(forgotten, new Metadata())).err?.code).toBe(status.PERMISSION_DENIED);
    const def2 = { capture: method(CAPTURE) } as unknown as ServiceDefinition;
    const added2: Record<string, Handler> = {};
    const server = {
      addService: (_d: ServiceDefinition, impl: Record<string, UntypedHandleCall>) =>
        Object.assign(added2, impl),
    };
    guardServer(server, { authenticator, logger: { info: jest.fn(), error: jest.fn() } });
    server.addService(def2, {});
    const noToken = await call(added2['capture'] as Handler, new Metadata());
    expect(noToken.err?.code).toBe(status.UNAUTHENTICATED);
    const withToken = await call(added2['capture'] as Handler, metadataWith(`Bearer ${tokenFor()}`));
    expect(withToken.err?.code).toBe(status.UNIMPLEMENTED);
  });

  it('authenticates a server-streaming method before its handler; a refusal ends the stream with the status', async () => {
    const streaming = { ...method(CAPTURE), responseStream: true } as ReturnType<typeof method>;
    const added: Record<string, (call: unknown) => void> = {};
    const server = {
      addService: (_d: ServiceDefinition, impl: Record<string, UntypedHandleCall>) =>
        Object.assign(added, impl),
    };
    guardServer(server, { authenticator, logger: { info: jest.fn(), error: jest.fn() } });
    let seen: unknown;
    server.addService({ capture: streaming } as unknown as ServiceDefinition, {
      capture: ((c: { metadata: Metadata }) => {
        seen = claimsOf(c.metadata).sub;
      }) as unknown as UntypedHandleCall,
    });
    const run = (metadata: Metadata) =>
      new Promise<{ code?: status }>((resolve) => {
        const emitted: { code?: status } = {};
        added['capture']!({
          metadata,
          request: {},
          emit: (event: string, err: { code: status }) => {
            if (event === 'error') resolve({ code: err.code });
            return true;
          },
        });
        setTimeout(() => resolve(emitted), 200);
      });
    expect(await run(new Metadata())).toEqual({ code: status.UNAUTHENTICATED });
    expect(seen).toBeUndefined();
    expect(await run(metadataWith(`Bearer ${tokenFor()}`))).toEqual({});
    expect(seen).toBe('client-1');
  });

  it('refuses a client-streaming method at startup', () => {
    const server = { addService: jest.fn() };
    guardServer(server, { authenticator, logger: { info: jest.fn(), error: jest.fn() } });
    expect(() =>
      server.addService(
        { capture: { ...method(CAPTURE), requestStream: true } } as unknown as ServiceDefinition,
        {},
      ),
    ).toThrow(/streams requests/);
  });
});
