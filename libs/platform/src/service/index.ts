export * from './tokens';
export * from './run-service';
