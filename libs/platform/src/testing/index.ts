export * from './test-kit';
export * from './grpc-clients';
export * from './service-contract';
