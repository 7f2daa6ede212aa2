export * from './auth-error';
export * from './jwt';
export * from './jwks';
export * from './claims';
export * from './revocations';
export * from './rpc-auth';
