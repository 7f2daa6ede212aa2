export * from './test-kit';
export * from './grpc-clients';
export * from './service-contract';
export * from './test-issuer';
export * from './sign-jwt-sync';
export * from './sandbox-channel';
export * from './payment-channels';
export * from './grpc-errors';
