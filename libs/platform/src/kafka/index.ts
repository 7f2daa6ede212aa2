export * from './kafka';
export * from './idempotent-producer';
