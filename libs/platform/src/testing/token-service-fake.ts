import * as grpc from '@grpc/grpc-js';
import { TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import type { TestIssuer } from './test-issuer';

/** A client the fake token service knows: its secret and what its tokens carry. */
export interface FakeServiceClient {
  secret: string;
  scopes: string[];
  operators?: string[];
  projects?: string[];
  /** Token lifetime in seconds; default 300. */
  expiresIn?: number;
}

export interface TokenServiceFake {
  /** host:port of its gRPC server (a service's IDENTITY_GRPC_URL). */
  address: string;
  /** Tokens issued so far, per client id. */
  issued: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * identity's TokenService.IssueToken for tests of service-to-service calls: checks the client id
 * and secret and answers a token of `issuer` (which the called services trust), so a service under
 * test authenticates as its own client exactly as against identity (libs/platform outbound).
 */
export async function startTokenServiceFake(
  issuer: TestIssuer,
  clients: Record<string, FakeServiceClient>,
): Promise<TokenServiceFake> {
  const issued = new Map<string, number>();
  const server = new grpc.Server();
  server.addService(TokenServiceService, {
    issueToken: (
      call: grpc.ServerUnaryCall<{ grantType: string; clientId: string; clientSecret: string }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      const { grantType, clientId, clientSecret } = call.request;
      const client = clients[clientId];
      if (grantType !== 'client_credentials' || !client || client.secret !== clientSecret) {
        cb({ code: grpc.status.UNAUTHENTICATED, details: 'invalid client credentials' });
        return;
      }
      issued.set(clientId, (issued.get(clientId) ?? 0) + 1);
      const expiresIn = client.expiresIn ?? 300;
      cb(null, {
        accessToken: issuer.token({
          sub: clientId,
          scopes: client.scopes,
          operators: client.operators,
          projects: client.projects,
          expiresIn,
        }),
        tokenType: 'Bearer',
        expiresIn,
        scope: client.scopes.join(' '),
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    issued,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
