export * from './kafka-broker';
// what the whole-RPC suites share with the city simulator, which owns them (tools/simulator)
export * from '@citybase/simulator/descriptor-rpc';
export * from '@citybase/simulator/id-numbers';
export * from '@citybase/simulator/world';
export * from './services';
export * from './checkout-city';
