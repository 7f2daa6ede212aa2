export * from './pool';
export * from './migrations';
export * from './platform-migrations';
export * from './round-trips';
export * from './prepared';
