/** DI token of the SigningKeyWrap (keys/key-wrap.ts). */
export const SIGNING_KEY_WRAP = Symbol('SIGNING_KEY_WRAP');
/** DI token of the ClientSecretHasher (client-secret.ts). */
export const CLIENT_SECRET_HASHER = Symbol('CLIENT_SECRET_HASHER');
/** DI token of the ClientRevocations that RevokeClient writes to. */
export const CLIENT_REVOCATIONS = Symbol('CLIENT_REVOCATIONS');
