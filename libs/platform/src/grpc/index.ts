export * from './status-mapping';
export * from './grpc-error.filter';
export * from './grpc-server';
export * from './grpc-metrics';
export * from './request-hygiene';
export * from './outbound';
