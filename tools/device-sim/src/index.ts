export * from './device';
export * from './sensors';
export * from './actuators';
