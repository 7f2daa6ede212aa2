export * from './topics';
export * from './dynsec';
export * from './mqtt-connection';
export * from './mqtt.module';
