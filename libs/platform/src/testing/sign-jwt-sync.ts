import { KeyObject, sign } from 'node:crypto';
import { base64urlEncode, JWT_ALG, JwtPayload } from '../auth/jwt';

/**
 * Tests only: the token `signJwt` (jose) makes, signed synchronously with node:crypto, for test code
 * that must build tokens where it cannot await (TestIssuer's many synchronous callers, `it.each`
 * tables). Same header, same JSON, same raw r||s signature; jwt.spec checks that verifyJwt accepts
 * it. It signs whatever key it is given, so tests can also forge tokens jose would refuse to sign.
 */
export function signJwtSync(payload: JwtPayload, opts: { privateKey: KeyObject; kid: string }): string {
  const header = { alg: JWT_ALG, typ: 'JWT', kid: opts.kid };
  const input = `${base64urlEncode(JSON.stringify(header))}.${base64urlEncode(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key: opts.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${base64urlEncode(signature)}`;
}
