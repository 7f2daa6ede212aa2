// @citybase/simulator: the city simulator as a library (docs/simulator.md). The CLI is main.ts.
export { runCity } from './run';
export type { CityReport, RunHooks } from './run';
export type { CityOptions } from './options';
export { DEFAULTS, parseArgs, USAGE, UsageError } from './options';
export { OP_KINDS, DEFAULT_WEIGHTS } from './scenario';
export type { OpKind } from './scenario';
export type { InvariantResult } from './invariants';
export * from './descriptor-rpc';
export * from './id-numbers';
export * from './world';
