export * from './test-kit';
export * from './grpc-clients';
export * from './service-contract';
export * from './test-issuer';
export * from './sandbox-channel';
export * from './payment-channels';
export * from './grpc-errors';
