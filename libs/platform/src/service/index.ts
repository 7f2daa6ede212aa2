export * from './tokens';
export * from './run-service';
export * from './define-service';
export * from './periodic-task';
export * from './periodic-job';
export * from './event-consumers';
export * from './worker-thread';
