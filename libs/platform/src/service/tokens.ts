/** Injection tokens for what the platform gives every service module. */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');
export const PG_POOL = Symbol('PG_POOL');
export const LOGGER = Symbol('LOGGER');
export const KAFKA = Symbol('KAFKA');
export const REDIS = Symbol('REDIS');
export const OUTBOX = Symbol('OUTBOX');
/** The RpcAuthenticator of the gRPC transport, for the few HTTP endpoints that authenticate callers. */
export const RPC_AUTHENTICATOR = Symbol('RPC_AUTHENTICATOR');
export { METRICS_REGISTRY } from '../http/ops.controller';
