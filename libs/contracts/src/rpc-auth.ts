// Hand-written (not generated): reads the authorization declaration of every RPC from the
// descriptor set, i.e. the custom method options of citybase/common/v1/auth.proto
// (`required_scope` = 51001, `public_rpc` = 51002). ts-proto's generated descriptor types drop
// unknown fields, so the options are read from the wire format directly.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { loadDescriptorSet } from './descriptors';

/** Field numbers of the extensions in citybase/common/v1/auth.proto. */
export const REQUIRED_SCOPE_FIELD = 51001;
export const PUBLIC_RPC_FIELD = 51002;

/** What one RPC declares about its callers. */
export interface RpcAuthDeclaration {
  /** Fully-qualified service name, e.g. citybase.payment.v1.PaymentService. */
  service: string;
  /** Method name as in the proto, e.g. CreatePayment. */
  method: string;
  /** The gRPC path, e.g. /citybase.payment.v1.PaymentService/CreatePayment. */
  path: string;
  /** The scope the caller's token must carry; undefined if the RPC declares none. */
  requiredScope: string | undefined;
  /** True if the RPC is declared open to callers without a token. */
  publicRpc: boolean;
  /** Whether the method streams (the platform only serves unary RPCs). */
  clientStreaming: boolean;
  serverStreaming: boolean;
}

/**
 * Every RPC of every service in the descriptor set (google.* services excluded), keyed by gRPC
 * path. A method that declares neither option has `requiredScope: undefined, publicRpc: false`:
 * the transport refuses such an RPC, and contracts' tests fail on it.
 */
export function rpcAuthDeclarations(descriptorSet: Uint8Array = loadDescriptorSet()): Map<string, RpcAuthDeclaration> {
  const out = new Map<string, RpcAuthDeclaration>();
  // FileDescriptorSet: repeated FileDescriptorProto file = 1
  for (const file of fields(descriptorSet, 1)) {
    const pkg = fields(file, 2).map(text)[0] ?? '';
    if (pkg.startsWith('google.')) continue;
    // FileDescriptorProto: string package = 2; repeated ServiceDescriptorProto service = 6
    for (const svc of fields(file, 6)) {
      const serviceName = `${pkg ? pkg + '.' : ''}${text(fields(svc, 1)[0])}`;
      // ServiceDescriptorProto: string name = 1; repeated MethodDescriptorProto method = 2
      for (const m of fields(svc, 2)) {
        // MethodDescriptorProto: name = 1, options = 4, client_streaming = 5, server_streaming = 6
        const method = text(fields(m, 1)[0]);
        const options = fields(m, 4)[0];
        const scope = options ? fields(options, REQUIRED_SCOPE_FIELD).map(text).pop() : undefined;
        const isPublic = options ? fields(options, PUBLIC_RPC_FIELD, true).some((v) => v[0] === 1) : false;
        const path = `/${serviceName}/${method}`;
        out.set(path, {
          service: serviceName,
          method,
          path,
          requiredScope: scope === '' ? undefined : scope,
          publicRpc: isPublic,
          clientStreaming: fields(m, 5, true).some((v) => v[0] === 1),
          serverStreaming: fields(m, 6, true).some((v) => v[0] === 1),
        });
      }
    }
  }
  return out;
}

/**
 * The values of field `no` in an encoded message: length-delimited payloads, or for varint fields
 * (`varint` true) a one-byte array holding the low byte of the value (enough for bools).
 */
function fields(bytes: Uint8Array, no: number, varint = false): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const found: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === no && wireType === WireType.LengthDelimited && !varint) {
      found.push(reader.bytes());
    } else if (fieldNo === no && wireType === WireType.Varint && varint) {
      found.push(Uint8Array.of(Number(BigInt.asUintN(8, BigInt(reader.uint64())))));
    } else {
      reader.skip(wireType, fieldNo);
    }
  }
  return found;
}

function text(bytes: Uint8Array | undefined): string {
  return bytes ? new TextDecoder().decode(bytes) : '';
}
