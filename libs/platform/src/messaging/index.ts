export * from './cloudevents';
export * from './event-types';
export * from './outbox';
export * from './relay';
export * from './inbox-consumer';
export * from './metrics';
export * from './timestamp';
