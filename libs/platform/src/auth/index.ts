export * from './auth-error';
export * from './jwt';
export * from './jwks';
export * from './claims';
export * from './grpc-auth.guard';
