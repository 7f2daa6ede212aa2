export * from './cloudevents';
export * from '@citybase/contracts/event-types';
export * from './outbox';
export * from './relay';
export * from './inbox-consumer';
export * from './metrics';
export * from './timestamp';
export * from './tracing';
