import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ClientCredentialsTokens, outboundClient, OutboundClient, SERVICE_CONFIG } from '@citybase/platform';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import type { IotConfig } from '../config';

/**
 * Payment over gRPC as iot's own API client (platform outbound client: token from identity, trace
 * context, deadlines, mapped errors; docs/adr/0010-service-to-service-calls.md).
 */
@Injectable()
export class BillingPorts implements OnModuleDestroy {
  readonly tokens: ClientCredentialsTokens;
  readonly payment: OutboundClient<typeof PaymentServiceService>;

  constructor(@Inject(SERVICE_CONFIG) config: IotConfig) {
    this.tokens = new ClientCredentialsTokens({
      identityUrl: config.IDENTITY_GRPC_URL,
      clientId: config.IOT_CLIENT_ID,
      clientSecret: config.IOT_CLIENT_SECRET,
    });
    this.payment = outboundClient(PaymentServiceService, {
      service: 'payment',
      url: config.PAYMENT_GRPC_URL,
      tokens: this.tokens,
    });
  }

  onModuleDestroy(): void {
    this.payment.close();
    this.tokens.close();
  }
}
