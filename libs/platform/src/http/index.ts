export * from './readiness';
export * from './ops.controller';
