import { Metadata, ServerUnaryCall, ServiceDefinition, status, UntypedHandleCall } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorSet,
} from '@citybase/contracts/google/protobuf/descriptor';
import { CreateClientRequest } from '@citybase/contracts/citybase/identity/v1/clients';
import { RegisterStaffRequest } from '@citybase/contracts/citybase/identity/v1/people';
import {
  CreateOperatorRequest,
  TenancyServiceService,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import { SetRoutingRulesRequest } from '@citybase/contracts/citybase/payment/v1/payment';
import { RequestScreen, screenServer, STRING_MAX_DEFAULT } from './request-hygiene';
import { ERROR_FIELD_METADATA } from './status-mapping';

const screen = new RequestScreen(loadDescriptorSet());
const OPERATOR = 'citybase.identity.v1.CreateOperatorRequest';
const bytesOf = (w: BinaryWriter) => w.finish();
/** CreateOperatorRequest with `name` (field 2) given as raw bytes: what a non-JS client can send. */
const rawName = (name: Uint8Array) =>
  bytesOf(
    new BinaryWriter()
      .uint32((1 << 3) | 2)
      .string('req-1')
      .uint32((2 << 3) | 2)
      .bytes(name),
  );

describe('request hygiene: every string of every request, on the raw bytes', () => {
  it('knows the request type of every RPC of the contracts', () => {
    expect(screen.inputType('/citybase.identity.v1.TenancyService/CreateOperator')).toBe(OPERATOR);
    expect(screen.inputType('/citybase.settlement.v1.SettlementService/ImportChannelStatement')).toBe(
      'citybase.settlement.v1.ImportChannelStatementRequest',
    );
  });

  it('passes ordinary text, including non-ASCII and astral characters', () => {
    const ok = CreateOperatorRequest.encode({ requestId: 'r', name: '阿尔法物业 🏢 Ünïcode' }).finish();
    expect(screen.check(OPERATOR, ok)).toBeUndefined();
    const max = CreateOperatorRequest.encode({
      requestId: 'r',
      name: 'x'.repeat(STRING_MAX_DEFAULT),
    }).finish();
    expect(screen.check(OPERATOR, max)).toBeUndefined();
  });

  it('refuses a NUL character, naming the field', () => {
    const nul = CreateOperatorRequest.encode({ requestId: 'r', name: 'Alpha\u0000Co' }).finish();
    expect(screen.check(OPERATOR, nul)).toEqual({
      field: 'name',
      rule: 'must not contain NUL characters',
      code: 'INVALID_ARGUMENT',
    });
  });

  it.each([
    ['a lone high surrogate (CESU-8 bytes)', [0x41, 0xed, 0xa0, 0x80]],
    ['a lone low surrogate', [0xed, 0xb0, 0x80, 0x41]],
    ['a stray continuation byte', [0x41, 0x80]],
    ['a truncated sequence', [0xe4, 0xb8]],
    ['an overlong encoding of NUL', [0xc0, 0x80]],
  ])('refuses invalid UTF-8: %s', (_case, bytes) => {
    expect(screen.check(OPERATOR, rawName(Uint8Array.from(bytes)))).toEqual({
      field: 'name',
      rule: 'must be valid UTF-8 (no lone surrogates)',
      code: 'INVALID_ARGUMENT',
    });
  });

  it('refuses a string longer than the default maximum, but not the statement CSV', () => {
    const long = CreateOperatorRequest.encode({
      requestId: 'r',
      name: 'x'.repeat(STRING_MAX_DEFAULT + 1),
    }).finish();
    expect(screen.check(OPERATOR, long)).toEqual({
      field: 'name',
      rule: `must be at most ${STRING_MAX_DEFAULT} characters`,
      code: 'INVALID_ARGUMENT',
    });
    const csv = bytesOf(new BinaryWriter().uint32((6 << 3) | 2).string('a,b\n'.repeat(100_000)));
    expect(screen.check('citybase.settlement.v1.ImportChannelStatementRequest', csv)).toBeUndefined();
  });

  it('names nested and repeated fields by their proto path', () => {
    const nested = RegisterStaffRequest.encode({
      requestId: 'r',
      tenancy: { operatorId: 'op', projectId: 'p\u0000', merchantId: '' },
      role: 1,
      name: 'n',
      phone: '1',
    }).finish();
    expect(screen.check('citybase.identity.v1.RegisterStaffRequest', nested)?.field).toBe(
      'tenancy.project_id',
    );
    const scopes = CreateClientRequest.encode({
      requestId: 'r',
      name: 'n',
      scopes: ['a', 'b', 'c\u0000'],
      tenancy: undefined,
    }).finish();
    expect(screen.check('citybase.identity.v1.CreateClientRequest', scopes)?.field).toBe('scopes[2]');
    const rule = {
      channelId: 'ok',
      priority: 0,
      weight: 1,
      scenarios: [],
      minAmountMinor: 0n,
      maxAmountMinor: 0n,
    };
    const rules = SetRoutingRulesRequest.encode({
      requestId: 'r',
      tenancy: undefined,
      rules: [rule, rule, rule, { ...rule, channelId: 'y'.repeat(STRING_MAX_DEFAULT + 1) }],
    }).finish();
    expect(screen.check('citybase.payment.v1.SetRoutingRulesRequest', rules)).toEqual({
      field: 'rules[3].channel_id',
      rule: `must be at most ${STRING_MAX_DEFAULT} characters`,
      code: 'INVALID_ARGUMENT',
    });
  });

  it('checks map keys and values (no Citybase proto has a map yet, so a descriptor made here)', () => {
    const set = FileDescriptorSet.encode(
      FileDescriptorSet.fromPartial({
        file: [
          {
            name: 't.proto',
            package: 't',
            messageType: [
              {
                name: 'Req',
                field: [
                  {
                    name: 'labels',
                    number: 1,
                    label: FieldDescriptorProto_Label.LABEL_REPEATED,
                    type: FieldDescriptorProto_Type.TYPE_MESSAGE,
                    typeName: '.t.Req.LabelsEntry',
                  },
                ],
                nestedType: [
                  {
                    name: 'LabelsEntry',
                    field: [
                      { name: 'key', number: 1, type: FieldDescriptorProto_Type.TYPE_STRING },
                      { name: 'value', number: 2, type: FieldDescriptorProto_Type.TYPE_STRING },
                    ],
                    options: { mapEntry: true },
                  },
                ],
              },
            ],
          },
        ],
      }),
    ).finish();
    const mapScreen = new RequestScreen(set);
    const entry = (k: string, v: string) =>
      bytesOf(
        new BinaryWriter()
          .uint32((1 << 3) | 2)
          .string(k)
          .uint32((2 << 3) | 2)
          .string(v),
      );
    const req = (...entries: Uint8Array[]) => {
      const w = new BinaryWriter();
      for (const e of entries) w.uint32((1 << 3) | 2).bytes(e);
      return w.finish();
    };
    expect(mapScreen.check('t.Req', req(entry('a', 'ok'), entry('b', 'fine')))).toBeUndefined();
    expect(mapScreen.check('t.Req', req(entry('a', 'ok'), entry('b', 'x\u0000')))?.field).toBe('labels["b"]');
    expect(mapScreen.check('t.Req', req(entry('k\u0000', 'ok')))).toEqual({
      field: 'labels',
      rule: 'key must not contain NUL characters',
      code: 'INVALID_ARGUMENT',
    });
  });

  it('calls a truncated or garbled message malformed instead of throwing', () => {
    const truncated = CreateOperatorRequest.encode({ requestId: 'r', name: 'Alpha' }).finish().slice(0, -2);
    expect(screen.check(OPERATOR, truncated)?.code).toBe('MALFORMED_REQUEST');
  });
});

describe('screenServer', () => {
  type Handler = (
    call: Partial<ServerUnaryCall<unknown, unknown>>,
    cb: (err: unknown, res?: unknown) => void,
  ) => void;
  const install = () => {
    const added: { definition?: ServiceDefinition; impl?: Record<string, UntypedHandleCall> } = {};
    const server = {
      addService: (definition: ServiceDefinition, impl: Record<string, UntypedHandleCall>) => {
        added.definition = definition;
        added.impl = impl;
      },
    };
    const logged: unknown[] = [];
    screenServer(server, screen, { info: (o: unknown) => logged.push(o) } as never);
    let handled = 0;
    server.addService(TenancyServiceService as unknown as ServiceDefinition, {
      createOperator: ((_call: unknown, cb: (e: unknown, r: unknown) => void) => {
        handled += 1;
        cb(null, {});
      }) as UntypedHandleCall,
    });
    const method = added.definition!.createOperator!;
    const run = (bytes: Uint8Array) =>
      new Promise<{ err: { code: status; details: string; metadata: Metadata } | null }>((resolve) => {
        const request = method.requestDeserialize(Buffer.from(bytes));
        (added.impl!.createOperator as unknown as Handler)({ request, metadata: new Metadata() }, (err) =>
          resolve({ err: err as never }),
        );
      });
    return { run, handled: () => handled, added };
  };

  it('refuses a screened request with INVALID_ARGUMENT naming the field; the handler never runs', async () => {
    const { run, handled } = install();
    const { err } = await run(rawName(Uint8Array.of(0x41, 0x00)));
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toBe('name: must not contain NUL characters');
    expect(err?.metadata.get(ERROR_FIELD_METADATA)).toEqual(['name']);
    expect(handled()).toBe(0);
  });

  it('lets a clean request through, decoded by the contract codec', async () => {
    const { run, handled } = install();
    const { err } = await run(CreateOperatorRequest.encode({ requestId: 'r', name: 'Alpha' }).finish());
    expect(err).toBeNull();
    expect(handled()).toBe(1);
  });

  it('answers an undecodable message INVALID_ARGUMENT (MALFORMED_REQUEST), not INTERNAL', async () => {
    const { run, handled } = install();
    const { err } = await run(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f));
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.metadata.get('citybase-error-code')).toEqual(['MALFORMED_REQUEST']);
    expect(handled()).toBe(0);
  });

  it('leaves unimplemented methods unimplemented (the guard answers them)', () => {
    const { added } = install();
    expect(Object.keys(added.impl!)).toEqual(['createOperator']);
  });
});
