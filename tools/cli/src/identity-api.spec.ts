// The wire side of the tool against small local servers: the token request it makes (RFC 6749 §4.4
// with HTTP Basic client authentication) and the bearer metadata on its gRPC calls.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {
  type CreateOperatorRequest,
  type CreateOperatorResponse,
  TenancyServiceService,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import { CliError, describeError } from './errors';
import { endpointsFromEnv, fetchToken, identityApi } from './identity-api';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let baseUrl: string;
let seen: Seen;
let answer: (res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const json = (status: number, body: unknown) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

describe('fetchToken', () => {
  it('POSTs grant_type=client_credentials as a form with HTTP Basic client auth', async () => {
    answer = json(200, { access_token: 'tok', token_type: 'Bearer', expires_in: 600, scope: 'a b' });
    const token = await fetchToken(baseUrl, { client_id: 'cb_abc', client_secret: 'p@ss:w rd+/=' });
    expect(token).toEqual({ access_token: 'tok', token_type: 'Bearer', expires_in: 600, scope: 'a b' });
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/oauth/token');
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(seen.body).get('grant_type')).toBe('client_credentials');
    expect(seen.body).not.toContain('client_secret');
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
    const basic = /^Basic (.+)$/.exec(seen.headers.authorization ?? '')?.[1] ?? '';
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    expect(decoded).toBe('cb_abc:p%40ss%3Aw+rd%2B%2F%3D');
    const [id, secret] = decoded.split(':').map((p) => decodeURIComponent(p.replace(/\+/g, ' ')));
    expect([id, secret]).toEqual(['cb_abc', 'p@ss:w rd+/=']);
  });

  it('an OAuth error answer becomes a failure naming the error and its description', async () => {
    answer = json(401, { error: 'invalid_client', error_description: 'unknown client or wrong secret' });
    const err = await fetchToken(baseUrl, { client_id: 'cb_x', client_secret: 'bad' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect(describeError(err)).toBe(
      `citybase: token request refused (HTTP 401 from ${baseUrl}/oauth/token): invalid_client: unknown client or wrong secret`,
    );
  });

  it('a non-JSON error answer still fails clearly', async () => {
    answer = (res) => res.writeHead(502).end('<html>bad gateway</html>');
    await expect(fetchToken(baseUrl, { client_id: 'a', client_secret: 'b' })).rejects.toThrow(
      /HTTP 502 .*no OAuth error in the answer/,
    );
  });

  it('200 without an access_token is a failure', async () => {
    answer = json(200, { token_type: 'Bearer' });
    await expect(fetchToken(baseUrl, { client_id: 'a', client_secret: 'b' })).rejects.toThrow(
      /without an access_token/,
    );
  });

  it('nobody listening: cannot reach identity', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(
      fetchToken(`http://127.0.0.1:${port}`, { client_id: 'a', client_secret: 'b' }),
    ).rejects.toThrow(`cannot reach identity at http://127.0.0.1:${port}/oauth/token: ECONNREFUSED`);
  });
});

describe('endpointsFromEnv', () => {
  it('defaults, overrides, trailing slash', () => {
    expect(endpointsFromEnv({})).toEqual({
      httpUrl: 'http://127.0.0.1:8081',
      grpcAddress: '127.0.0.1:50051',
      pointsGrpcAddress: '127.0.0.1:50054',
      marketingGrpcAddress: '127.0.0.1:50055',
      iotGrpcAddress: '127.0.0.1:50056',
    });
    expect(
      endpointsFromEnv({
        CITYBASE_IDENTITY_URL: 'https://id.city.example/',
        CITYBASE_IDENTITY_GRPC: 'id:443',
        CITYBASE_POINTS_GRPC: 'points:443',
      }),
    ).toEqual({
      httpUrl: 'https://id.city.example',
      grpcAddress: 'id:443',
      pointsGrpcAddress: 'points:443',
      marketingGrpcAddress: '127.0.0.1:50055',
      iotGrpcAddress: '127.0.0.1:50056',
    });
    expect(() => endpointsFromEnv({ CITYBASE_IDENTITY_URL: 'not a url' })).toThrow(CliError);
  });
});

describe('identityApi', () => {
  it('sends `authorization: Bearer <token>` on every call and decodes the answer', async () => {
    const tokens: string[][] = [];
    const grpcServer = new grpc.Server();
    grpcServer.addService(TenancyServiceService, {
      createOperator: (
        call: grpc.ServerUnaryCall<CreateOperatorRequest, CreateOperatorResponse>,
        cb: grpc.sendUnaryData<CreateOperatorResponse>,
      ) => {
        tokens.push(call.metadata.get('authorization').map(String));
        cb(null, {
          operator: { operatorId: 'op-1', name: call.request.name, createdAt: { seconds: 5n, nanos: 0 } },
        });
      },
      listOperators: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        cb({ code: grpc.status.PERMISSION_DENIED, details: 'the token lacks scope identity:tenancy.read' });
      },
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const api = identityApi(`127.0.0.1:${port}`, 'the-token');
    try {
      const res = await api.createOperator({ requestId: 'r1', name: 'Sunshine' });
      expect(res).toEqual({
        operator: { operatorId: 'op-1', name: 'Sunshine', createdAt: { seconds: 5n, nanos: 0 } },
      });
      await api.createOperator({ requestId: 'r2', name: 'Again' });
      expect(tokens).toEqual([['Bearer the-token'], ['Bearer the-token']]);
      const err = await api.listOperators({ page: undefined }).catch((e: unknown) => e);
      expect(describeError(err)).toBe(
        'citybase: PERMISSION_DENIED: the token lacks scope identity:tenancy.read',
      );
    } finally {
      api.close();
      grpcServer.forceShutdown();
    }
  });
});
