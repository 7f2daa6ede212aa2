export * from './kafka-broker';
export * from './id-numbers';
