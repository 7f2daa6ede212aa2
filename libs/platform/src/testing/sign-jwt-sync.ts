import type { KeyObject } from 'node:crypto';
import { encodeSignedJwt, JwtPayload } from '../auth/jwt';

/**
 * Tests only: the token `signJwt` makes, synchronously and without checking the key, for test code
 * that must build tokens where it cannot await (TestIssuer's many synchronous callers, `it.each`
 * tables). Same header, same JSON, same raw r||s signature; jwt.spec checks that verifyJwt accepts
 * it. It signs whatever key it is given, so tests can also forge tokens signJwt would refuse to sign.
 */
export function signJwtSync(payload: JwtPayload, opts: { privateKey: KeyObject; kid: string }): string {
  return encodeSignedJwt(payload, opts.privateKey, opts.kid);
}
