import { Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { ClientRevocations, REDIS, SERVICE_CONFIG } from '@citybase/platform';
import type { IdentityConfig } from '../config';
import { TenancyModule } from '../tenancy/tenancy.module';
import { ClientsGrpc } from './clients.grpc';
import { ClientsService } from './clients.service';
import { ClientSecretHasher } from './client-secret';
import { CLIENT_REVOCATIONS, CLIENT_SECRET_HASHER, SIGNING_KEY_WRAP } from './clients.di';
import { KeyRing } from './keys/key-ring';
import { SigningKeyWrap } from './keys/key-wrap';
import { SigningKeysService } from './keys/signing-keys.service';
import { CredentialsLookup } from './tokens/credentials-lookup';
import { TokensGrpc } from './tokens/tokens.grpc';
import { TokensHttp } from './tokens/tokens.http';
import { TokensService } from './tokens/tokens.service';

/**
 * API clients, their tokens and the signing keys: ClientService and TokenService over gRPC,
 * POST /oauth/token and GET /.well-known/jwks.json over HTTP.
 */
@Module({
  imports: [TenancyModule],
  controllers: [ClientsGrpc, TokensGrpc, TokensHttp],
  providers: [
    {
      provide: SIGNING_KEY_WRAP,
      inject: [SERVICE_CONFIG],
      useFactory: (config: IdentityConfig) =>
        new SigningKeyWrap(Buffer.from(config.IDENTITY_MASTER_KEY, 'base64')),
    },
    {
      provide: CLIENT_SECRET_HASHER,
      inject: [SERVICE_CONFIG],
      useFactory: (config: IdentityConfig) =>
        new ClientSecretHasher(Buffer.from(config.IDENTITY_MASTER_KEY, 'base64')),
    },
    {
      provide: CLIENT_REVOCATIONS,
      inject: [REDIS, SERVICE_CONFIG],
      useFactory: (redis: Redis, config: IdentityConfig) => new ClientRevocations(redis, config.CITY_ID),
    },
    KeyRing,
    SigningKeysService,
    ClientsService,
    CredentialsLookup,
    TokensService,
  ],
})
export class ClientsModule {}
