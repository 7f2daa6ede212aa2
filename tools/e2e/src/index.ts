export * from './kafka-broker';
export * from './id-numbers';
export * from './descriptor-rpc';
export * from './world';
export * from './services';
