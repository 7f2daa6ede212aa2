export * from './device';
export * from './sensors';
