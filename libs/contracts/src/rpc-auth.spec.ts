import { rpcAuthDeclarations } from './rpc-auth';

const SCOPE = /^[a-z]+:[a-z.]+$/;

describe('rpcAuthDeclarations (proto method options of citybase/common/v1/auth.proto)', () => {
  const all = [...rpcAuthDeclarations().values()];

  it('reads the RPCs of every service', () => {
    const services = new Set(all.map((d) => d.service));
    for (const svc of ['payment', 'settlement', 'points', 'marketing', 'iot', 'data']) {
      expect([...services].some((s) => s.startsWith(`citybase.${svc}.v1.`))).toBe(true);
    }
    expect(services).toContain('citybase.identity.v1.TenancyService');
    expect(services).toContain('citybase.identity.v1.TokenService');
    expect([...services].some((s) => s.startsWith('google.') || s.startsWith('grpc.'))).toBe(false);
  });

  it('reads the declared scope and the public flag', () => {
    const byPath = rpcAuthDeclarations();
    expect(byPath.get('/citybase.payment.v1.PaymentService/CreatePayment')).toMatchObject({
      requiredScope: 'payment:write',
      publicRpc: false,
    });
    expect(byPath.get('/citybase.identity.v1.TokenService/IssueToken')).toMatchObject({
      requiredScope: undefined,
      publicRpc: true,
    });
  });

  it('every RPC declares exactly one of required_scope and public_rpc (guarded by default)', () => {
    const undeclared = all.filter((d) => (d.requiredScope === undefined) === !d.publicRpc).map((d) => d.path);
    expect(undeclared).toEqual([]);
  });

  it('every declared scope is <service>:<area> and only the token endpoint is public', () => {
    expect(all.filter((d) => d.requiredScope !== undefined && !SCOPE.test(d.requiredScope))).toEqual([]);
    expect(all.filter((d) => d.publicRpc).map((d) => d.path)).toEqual([
      '/citybase.identity.v1.TokenService/IssueToken',
    ]);
  });

  it('reports a method without options as undeclared', () => {
    // FileDescriptorSet{ file{ package "x.v1" service{ name "S" method{ name "M" } } } } by hand
    const method = Uint8Array.of(0x0a, 1, 0x4d); // name = "M"
    const service = Uint8Array.of(0x0a, 1, 0x53, 0x12, method.length, ...method);
    const pkg = new TextEncoder().encode('x.v1');
    const file = Uint8Array.of(0x12, pkg.length, ...pkg, 0x32, service.length, ...service);
    const set = Uint8Array.of(0x0a, file.length, ...file);
    expect([...rpcAuthDeclarations(set).values()]).toEqual([
      {
        service: 'x.v1.S',
        method: 'M',
        path: '/x.v1.S/M',
        requiredScope: undefined,
        publicRpc: false,
        clientStreaming: false,
        serverStreaming: false,
      },
    ]);
  });
});
