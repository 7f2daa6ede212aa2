export * from './tokens';
export * from './run-service';
export * from './periodic-task';
