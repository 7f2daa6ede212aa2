import { base64Key32, serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const identityConfig = serviceConfigSchema({
  grpcPort: 50051,
  httpPort: 8081,
  database: 'citybase_identity',
}).extend({
  /**
   * Base64 of 32 random bytes. Every key of the identity service is derived from it (HKDF):
   * encryption of phone and ID numbers at rest, their lookup hashes, the wrapping of the token
   * signing keys, and the keyed hashes of client secrets. Losing it makes personal data unreadable
   * and every client secret useless; keep it in the city's secret store.
   */
  IDENTITY_MASTER_KEY: base64Key32,
  /** Lifetime of issued access tokens. */
  TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  /** `iss` of issued tokens. */
  TOKEN_ISSUER: z.string().min(1).default('citybase-identity'),
});
export type IdentityConfig = z.infer<typeof identityConfig>;
