import { randomUUID } from 'node:crypto';
import type { Server, ServerWritableStream, ServiceDefinition, UntypedHandleCall } from '@grpc/grpc-js';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import {
  DescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorSet,
} from '@citybase/contracts/google/protobuf/descriptor';
import type { Logger } from 'pino';
import { DomainError } from '../errors';
import { errorMetadata, toGrpcError } from './status-mapping';
import type { UnaryImpl } from './handler-types';

/**
 * Input hygiene at the transport edge (docs/request-hygiene.md). Every string of every request
 * (nested messages, repeated fields and map entries included) is checked on the raw protobuf bytes,
 * before any handler sees it, and the call is refused with INVALID_ARGUMENT naming the field when a
 * string
 * - is not valid UTF-8 (a lone surrogate arrives as such bytes; ts-proto's decoder would silently
 *   turn them into U+FFFD, so the check reads the bytes, with a fatal TextDecoder),
 * - holds a NUL character (U+0000, which PostgreSQL text cannot store), or
 * - is longer than its maximum: STRING_MAX_DEFAULT characters, unless STRING_MAX_OVERRIDES says
 *   otherwise for that field. Tighter limits that a field documents in its .proto comment
 *   ("1-200 characters") stay the service's own validation.
 * A request that is not a decodable protobuf message at all is refused with INVALID_ARGUMENT too
 * (MALFORMED_REQUEST) instead of grpc-js's INTERNAL "Error deserializing request".
 */

/** Maximum length (UTF-16 code units, as the services' validators count) of any request string. */
export const STRING_MAX_DEFAULT = 4096;

/**
 * The only fields allowed more than STRING_MAX_DEFAULT, by fully-qualified field name
 * (`<package>.<Message>.<field>`). Keep this list short: each entry is text that reaches a service
 * in bulk and must be parsed there with its own limits.
 */
export const STRING_MAX_OVERRIDES: Readonly<Record<string, number>> = {
  // the channel's daily statement file; documented "at most 7 MB" (a gRPC message is at most 8 MB)
  'citybase.settlement.v1.ImportChannelStatementRequest.csv': 7 * 1024 * 1024,
};

/** Why a request is refused; `field` is the proto path, e.g. `tenancy.operator_id`, `rules[2].channel_id`. */
export interface RequestViolation {
  field?: string;
  rule: string;
  code: string;
}

interface FieldInfo {
  name: string;
  kind: 'string' | 'message' | 'other';
  /** Fully-qualified message type (no leading dot) of a message field. */
  typeName?: string;
  repeated: boolean;
  max: number;
}

interface MessageInfo {
  fields: Map<number, FieldInfo>;
  mapEntry: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The checks of every request message of a descriptor set, by gRPC path. */
export class RequestScreen {
  private readonly messages = new Map<string, MessageInfo>();
  private readonly inputs = new Map<string, string>();

  constructor(descriptorSet: Uint8Array) {
    const set = FileDescriptorSet.decode(descriptorSet);
    for (const file of set.file) {
      const pkg = file.package ? `${file.package}.` : '';
      for (const m of file.messageType) this.addMessage(`${pkg}${m.name ?? ''}`, m);
      for (const svc of file.service) {
        for (const method of svc.method) {
          this.inputs.set(`/${pkg}${svc.name ?? ''}/${method.name ?? ''}`, strip(method.inputType));
        }
      }
    }
  }

  /** The request message type of an RPC, e.g. citybase.identity.v1.CreateOperatorRequest. */
  inputType(path: string): string | undefined {
    return this.inputs.get(path);
  }

  /** The first problem of an encoded `type` message, or undefined if it passes. Never throws. */
  check(type: string, bytes: Uint8Array): RequestViolation | undefined {
    try {
      return this.walk(type, bytes, '');
    } catch {
      return { rule: `is not a valid ${type} message`, code: 'MALFORMED_REQUEST' };
    }
  }

  private walk(type: string, bytes: Uint8Array, prefix: string): RequestViolation | undefined {
    const info = this.messages.get(type);
    const reader = new BinaryReader(bytes);
    const counts = new Map<number, number>();
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      const field = info?.fields.get(no);
      if (!field || wireType !== WireType.LengthDelimited || field.kind === 'other') {
        reader.skip(wireType, no);
        continue;
      }
      const value = reader.bytes();
      let index = 0;
      if (field.repeated) {
        index = counts.get(no) ?? 0;
        counts.set(no, index + 1);
      }
      // the path is only built when it is needed: a refusal, or a nested message
      const path = () => `${prefix}${field.name}${field.repeated ? `[${index}]` : ''}`;
      if (field.kind === 'string') {
        const refused = checkString(value, field.max);
        if (refused) return { field: path(), rule: refused, code: 'INVALID_ARGUMENT' };
      } else if (field.typeName && this.messages.get(field.typeName)?.mapEntry) {
        const refused = this.walkMapEntry(field.typeName, value, `${prefix}${field.name}`);
        if (refused) return refused;
      } else if (field.typeName) {
        const refused = this.walk(field.typeName, value, `${path()}.`);
        if (refused) return refused;
      }
    }
    return undefined;
  }

  /** A map<K, V> entry: the key is checked as `field` (key), the value as `field[key]`. */
  private walkMapEntry(type: string, bytes: Uint8Array, field: string): RequestViolation | undefined {
    const info = this.messages.get(type);
    const keyField = info?.fields.get(1);
    const valueField = info?.fields.get(2);
    const reader = new BinaryReader(bytes);
    let key = '';
    let value: Uint8Array | undefined;
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      if (no === 1 && keyField?.kind === 'string' && wireType === WireType.LengthDelimited) {
        const raw = reader.bytes();
        const refused = checkString(raw, keyField.max);
        if (refused) return { field, rule: `key ${refused}`, code: 'INVALID_ARGUMENT' };
        key = utf8.decode(raw);
      } else if (no === 2 && valueField?.kind !== 'other' && wireType === WireType.LengthDelimited) {
        value = reader.bytes();
      } else {
        reader.skip(wireType, no);
      }
    }
    if (!value || !valueField) return undefined;
    const path = `${field}[${JSON.stringify(key)}]`;
    if (valueField.kind === 'string') {
      const refused = checkString(value, valueField.max);
      return refused ? { field: path, rule: refused, code: 'INVALID_ARGUMENT' } : undefined;
    }
    return valueField.typeName ? this.walk(valueField.typeName, value, `${path}.`) : undefined;
  }

  private addMessage(fullName: string, m: DescriptorProto): void {
    const fields = new Map<number, FieldInfo>();
    for (const f of m.field) {
      const name = f.name ?? '';
      const kind =
        f.type === FieldDescriptorProto_Type.TYPE_STRING
          ? 'string'
          : f.type === FieldDescriptorProto_Type.TYPE_MESSAGE
            ? 'message'
            : 'other';
      fields.set(f.number ?? 0, {
        name,
        kind,
        typeName: kind === 'message' ? strip(f.typeName) : undefined,
        repeated: f.label === FieldDescriptorProto_Label.LABEL_REPEATED,
        max: STRING_MAX_OVERRIDES[`${fullName}.${name}`] ?? STRING_MAX_DEFAULT,
      });
    }
    this.messages.set(fullName, { fields, mapEntry: m.options?.mapEntry === true });
    for (const nested of m.nestedType) this.addMessage(`${fullName}.${nested.name ?? ''}`, nested);
  }
}

/** Why a string's raw bytes are refused, or undefined. */
function checkString(bytes: Uint8Array, max: number): string | undefined {
  // fast path for ASCII, by far the most common: no decoding, one character per byte
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0) return 'must not contain NUL characters';
    if (b >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return bytes.length > max ? `must be at most ${max} characters` : undefined;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'must be valid UTF-8 (no lone surrogates)';
  }
  if (bytes.includes(0)) return 'must not contain NUL characters';
  if (text.length > max) return `must be at most ${max} characters`;
  return undefined;
}

const strip = (typeName: string | undefined) => (typeName ?? '').replace(/^\./, '');

/** Violations found while decoding, by the decoded request object (collected with the call). */
const violations = new WeakMap<object, RequestViolation>();

/** The refusal of a violation: INVALID_ARGUMENT naming the field, with the usual trailers. */
export function violationError(v: RequestViolation): DomainError {
  return v.field
    ? DomainError.invalid(v.field, v.rule, v.code)
    : new DomainError('invalid_argument', v.code, `request: ${v.rule}`);
}

/**
 * Makes every service later added to `server` screen its requests (see the top of this file).
 * Install it after guardServer, so that it wraps the guard: authentication still comes first (a
 * caller without a token learns nothing about input rules), then the screen, then the handler.
 */
export function screenServer(
  server: Pick<Server, 'addService'>,
  screen: RequestScreen,
  logger: Pick<Logger, 'info'>,
): void {
  const addService = server.addService.bind(server);
  server.addService = (definition: ServiceDefinition, implementation: Record<string, UntypedHandleCall>) => {
    const screenedDefinition: Record<string, ServiceDefinition[string]> = {};
    const screened: Record<string, UntypedHandleCall> = {};
    for (const [key, method] of Object.entries(definition)) {
      const type = screen.inputType(method.path);
      const deserialize = method.requestDeserialize;
      screenedDefinition[key] = !type
        ? method
        : {
            ...method,
            requestDeserialize: (bytes: Buffer) => {
              const violation = screen.check(type, bytes);
              let request: unknown;
              try {
                request = deserialize(bytes);
              } catch {
                request = {};
              }
              const holder = (request && typeof request === 'object' ? request : {}) as object;
              if (violation) violations.set(holder, violation);
              else if (holder !== request) {
                violations.set(holder, { rule: `is not a valid ${type} message`, code: 'MALFORMED_REQUEST' });
              }
              return holder;
            },
          };
      const impl = (implementation[key] ?? implementation[method.originalName ?? '']) as
        UnaryImpl | undefined;
      if (!impl) continue;
      const path = method.path;
      if (method.responseStream && !method.requestStream) {
        // server streaming: the one request is screened the same way; a refusal ends the stream
        const streamImpl = impl as unknown as (call: ServerWritableStream<unknown, unknown>) => void;
        const streamHandler = (call: ServerWritableStream<unknown, unknown>) => {
          const violation =
            call.request && typeof call.request === 'object' ? violations.get(call.request) : undefined;
          if (!violation) {
            streamImpl(call);
            return;
          }
          const mapped = toGrpcError(violationError(violation), randomUUID);
          logger.info(
            { rpc: path, code: mapped.domainCode, field: mapped.field },
            'rpc refused: request hygiene',
          );
          call.emit('error', { code: mapped.code, details: mapped.details, metadata: errorMetadata(mapped) });
        };
        screened[key] = streamHandler as UntypedHandleCall;
        continue;
      }
      const handler: UnaryImpl = (call, callback) => {
        const violation =
          call.request && typeof call.request === 'object' ? violations.get(call.request) : undefined;
        if (!violation) {
          impl(call, callback);
          return;
        }
        const mapped = toGrpcError(violationError(violation), randomUUID);
        logger.info(
          { rpc: path, code: mapped.domainCode, field: mapped.field },
          'rpc refused: request hygiene',
        );
        callback({ code: mapped.code, details: mapped.details, metadata: errorMetadata(mapped) });
      };
      screened[key] = handler as UntypedHandleCall;
    }
    addService(screenedDefinition as ServiceDefinition, screened);
  };
}
