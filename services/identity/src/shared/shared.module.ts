import { Global, Module } from '@nestjs/common';
import { SERVICE_CONFIG } from '@citybase/platform';
import type { IdentityConfig } from '../config';
import { PiiCipher } from './pii';

/** DI token of the identity service's PiiCipher. */
export const PII_CIPHER = Symbol('PII_CIPHER');

/** What every identity feature shares: the personal-data cipher. */
@Global()
@Module({
  providers: [
    {
      provide: PII_CIPHER,
      inject: [SERVICE_CONFIG],
      useFactory: (config: IdentityConfig) =>
        new PiiCipher(Buffer.from(config.IDENTITY_MASTER_KEY, 'base64')),
    },
  ],
  exports: [PII_CIPHER],
})
export class IdentitySharedModule {}
