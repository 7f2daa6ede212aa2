import { Metadata, status } from '@grpc/grpc-js';
import { ArgumentsHost, ExecutionContext, Module, Type } from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { firstValueFrom, Observable } from 'rxjs';
import type { Logger } from 'pino';
import { DomainError } from '../errors';
import { GrpcErrorFilter } from '../grpc';
import { AuthError } from './auth-error';
import { CitybaseClaims } from './claims';
import {
  AUTH_GUARD_OPTIONS,
  AUTH_KEY_RESOLVER,
  claimsOf,
  findClaims,
  GrpcAuthGuard,
  GrpcAuthOptions,
  PublicRpc,
  RequireScope,
} from './grpc-auth.guard';
import { generateSigningKey, importJwks, toJwks } from './jwks';
import { base64urlEncode, JwtPayload, KeyResolver, signJwt } from './jwt';

const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_SEC = NOW.getTime() / 1000;
const key = generateSigningKey();
const stranger = generateSigningKey();
const published = importJwks(toJwks([key.publicJwk]));
const keys: KeyResolver = { resolve: (kid) => Promise.resolve(published.get(kid)) };
const options: GrpcAuthOptions = { now: () => NOW, city: 'sz', issuer: 'identity', audience: 'citybase' };

class PaymentController {
  @RequireScope('payment:write')
  capture(): string {
    return 'capture';
  }

  @PublicRpc()
  ping(): string {
    return 'ping';
  }

  forgotten(): string {
    return 'forgotten';
  }

  @RequireScope('payment:write')
  @PublicRpc()
  confused(): string {
    return 'confused';
  }
}

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
    aud: 'citybase',
    ...extra,
  };
}
const tokenFor = (extra: JwtPayload = {}, signer = key) =>
  signJwt(claims(extra), { privateKey: signer.privateKey, kid: signer.kid });

function metadataWith(...authorization: string[]): Metadata {
  const md = new Metadata();
  for (const v of authorization) md.add('authorization', v);
  return md;
}

/** The ExecutionContext Nest builds for a gRPC call: args are (request, metadata, call). */
function rpcContext(method: keyof PaymentController, metadata: Metadata): ExecutionContext {
  const ctx = new ExecutionContextHost(
    [{}, metadata, {}],
    PaymentController as Type<unknown>,
    PaymentController.prototype[method],
  );
  ctx.setType('rpc');
  return ctx;
}

const guard = new GrpcAuthGuard(new Reflector(), keys, options);
const run = (method: keyof PaymentController, metadata: Metadata) =>
  guard.canActivate(rpcContext(method, metadata));

async function rejection(p: Promise<unknown>): Promise<DomainError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

describe('GrpcAuthGuard', () => {
  it('admits a valid token that carries the declared scope and records its claims for the handler', async () => {
    const md = metadataWith(`Bearer ${tokenFor()}`);
    await expect(run('capture', md)).resolves.toBe(true);
    expect(claimsOf(md)).toMatchObject<Partial<CitybaseClaims>>({
      sub: 'client-1',
      tenancy: { operators: ['op-1'] },
    });
    expect(findClaims(new Metadata())).toBeUndefined(); // claims belong to that call only
    expect(() => claimsOf(new Metadata())).toThrow(AuthError);
  });

  it('accepts the Bearer scheme in any case', async () => {
    await expect(run('capture', metadataWith(`bearer ${tokenFor()}`))).resolves.toBe(true);
  });

  it('refuses a token without the declared scope: PERMISSION_DENIED SCOPE_MISSING', async () => {
    const err = await rejection(
      run('capture', metadataWith(`Bearer ${tokenFor({ scope: 'merchant:read' })}`)),
    );
    expect(err).toMatchObject({ kind: 'permission_denied', code: 'SCOPE_MISSING' });
    expect(err.message).toContain('payment:write');
  });

  it('refuses an RPC that declares no scope, even for a valid token', async () => {
    const err = await rejection(run('forgotten', metadataWith(`Bearer ${tokenFor()}`)));
    expect(err).toMatchObject({ kind: 'permission_denied', code: 'RPC_SCOPE_UNDECLARED' });
    expect(err.message).toContain('PaymentController.forgotten declares no scope');
  });

  it('refuses an RPC declared both public and scoped', async () => {
    const err = await rejection(run('confused', metadataWith(`Bearer ${tokenFor()}`)));
    expect(err).toMatchObject({ kind: 'permission_denied', code: 'RPC_DECLARATION_CONFLICT' });
  });

  it('lets a @PublicRpc through without a token, and records no claims', async () => {
    const md = new Metadata();
    await expect(run('ping', md)).resolves.toBe(true);
    expect(findClaims(md)).toBeUndefined();
  });

  it('lets HTTP (ops endpoints) through untouched', async () => {
    const ctx = new ExecutionContextHost(
      [{}, {}],
      PaymentController as Type<unknown>,
      PaymentController.prototype.forgotten,
    );
    ctx.setType('http');
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
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
    [
      'a wrong audience',
      () => metadataWith(`Bearer ${tokenFor({ aud: 'other' })}`),
      'TOKEN_AUDIENCE_INVALID',
    ],
    ['another city', () => metadataWith(`Bearer ${tokenFor({ city: 'gz' })}`), 'TOKEN_CITY_INVALID'],
    [
      'signed claims of the wrong shape',
      () => metadataWith(`Bearer ${tokenFor({ tenancy: 'all' })}`),
      'TOKEN_CLAIMS_INVALID',
    ],
  ])('refuses %s: UNAUTHENTICATED', async (_name, metadata, code) => {
    const md = metadata();
    const err = await rejection(run('capture', md));
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ kind: 'unauthenticated', code });
    expect(findClaims(md)).toBeUndefined();
  });

  it('refuses to declare something that is not one scope token', () => {
    expect(() => RequireScope('payment:write refund:write')).toThrow(/not a single scope token/);
    expect(() => RequireScope('')).toThrow(/not a single scope token/);
  });

  describe('through GrpcErrorFilter', () => {
    const logger = { error: jest.fn() } as unknown as Logger;
    const filter = new GrpcErrorFilter(logger);
    const rpcHost = (): ArgumentsHost => {
      const host = new ExecutionContextHost([{}, new Metadata(), {}]);
      host.setType('rpc');
      return host;
    };
    const statusOf = async (err: unknown) => {
      const out = filter.catch(err, rpcHost()) as Observable<never>;
      const sent = (await firstValueFrom(out).catch((e: unknown) => e)) as {
        code: status;
        metadata: Metadata;
      };
      return { code: sent.code, errorCode: sent.metadata.get('citybase-error-code')[0] };
    };

    it('reaches the caller as UNAUTHENTICATED or PERMISSION_DENIED with the code in the trailers', async () => {
      const unauthenticated = await rejection(run('capture', new Metadata()));
      expect(await statusOf(unauthenticated)).toEqual({
        code: status.UNAUTHENTICATED,
        errorCode: 'TOKEN_MISSING',
      });
      const noScope = await rejection(run('capture', metadataWith(`Bearer ${tokenFor({ scope: '' })}`)));
      expect(await statusOf(noScope)).toEqual({ code: status.PERMISSION_DENIED, errorCode: 'SCOPE_MISSING' });
      const undeclared = await rejection(run('forgotten', new Metadata()));
      expect(await statusOf(undeclared)).toEqual({
        code: status.PERMISSION_DENIED,
        errorCode: 'RPC_SCOPE_UNDECLARED',
      });
      expect(logger.error).not.toHaveBeenCalled(); // refusals are not bugs
    });
  });

  it('is built by Nest from the AUTH_KEY_RESOLVER and AUTH_GUARD_OPTIONS providers', async () => {
    @Module({
      providers: [
        GrpcAuthGuard,
        { provide: AUTH_KEY_RESOLVER, useValue: keys },
        { provide: AUTH_GUARD_OPTIONS, useValue: options },
      ],
    })
    class AuthTestModule {}
    const app = await NestFactory.createApplicationContext(AuthTestModule, { logger: false });
    try {
      const injected = app.get(GrpcAuthGuard);
      await expect(
        injected.canActivate(rpcContext('capture', metadataWith(`Bearer ${tokenFor()}`))),
      ).resolves.toBe(true);
      const expired = metadataWith(`Bearer ${tokenFor({ exp: NOW_SEC - 60 })}`);
      await expect(injected.canActivate(rpcContext('capture', expired))).rejects.toMatchObject({
        code: 'TOKEN_EXPIRED',
      });
    } finally {
      await app.close();
    }
  });
});
