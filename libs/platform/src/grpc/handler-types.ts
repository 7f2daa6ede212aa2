import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';

/** A unary handler as grpc-js calls it: what the server wrappers (meter, guard, screen) wrap. */
export type UnaryImpl = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;
/** A server-streaming handler as grpc-js calls it. */
export type ServerStreamImpl = (call: ServerWritableStream<unknown, unknown>) => void;
