import { Module } from '@nestjs/common';
import { SERVICE_CONFIG } from '@citybase/platform';
import { ChannelKind } from '@citybase/contracts/citybase/payment/v1/payment';
import type { PaymentConfig } from '../config';
import type { ChannelAdapter } from './channel-adapter';
import { ChannelAdapters } from './channel-adapters';
import { ChannelConfigCache } from './channel-config-cache';
import { CredentialsCipher } from './channel-credentials';
import { ChannelRouter } from './channel-router';
import { ChannelsGrpc } from './channels.grpc';
import { ChannelsService } from './channels.service';
import { SandboxAdapter } from './sandbox-adapter';

/**
 * Channels feature of the payment service: the catalog, project channel accounts and routing rules
 * (gRPC), and for the payment use cases the ChannelRouter and the adapters of this build.
 */
@Module({
  controllers: [ChannelsGrpc],
  providers: [
    ChannelsService,
    ChannelRouter,
    ChannelConfigCache,
    {
      provide: CredentialsCipher,
      inject: [SERVICE_CONFIG],
      useFactory: (config: PaymentConfig) => CredentialsCipher.fromConfig(config.PAYMENT_CREDENTIALS_KEY),
    },
    {
      provide: ChannelAdapters,
      inject: [SERVICE_CONFIG],
      useFactory: (config: PaymentConfig) =>
        new ChannelAdapters(
          new Map<ChannelKind, ChannelAdapter>([
            [
              ChannelKind.CHANNEL_KIND_SANDBOX,
              new SandboxAdapter({ timeoutMs: config.PAYMENT_CHANNEL_TIMEOUT_MS }),
            ],
          ]),
        ),
    },
  ],
  exports: [ChannelRouter, ChannelAdapters],
})
export class ChannelsModule {}
