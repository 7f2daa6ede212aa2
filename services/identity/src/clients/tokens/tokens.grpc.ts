import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { IssueTokenRequest, IssueTokenResponse } from '@citybase/contracts/citybase/identity/v1/clients';
import { TokensService } from './tokens.service';

/** TokenService: the client-credentials grant over gRPC. Public: the request's secret authenticates. */
@Controller()
export class TokensGrpc {
  constructor(private readonly tokens: TokensService) {}

  @GrpcMethod('TokenService', 'issueToken')
  async issueToken(req: IssueTokenRequest): Promise<IssueTokenResponse> {
    return this.tokens.issue({
      grantType: req.grantType,
      clientId: req.clientId,
      clientSecret: req.clientSecret,
      scope: req.scope,
    });
  }
}
