import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ClientCredentialsTokens, outboundClient, OutboundClient, SERVICE_CONFIG } from '@citybase/platform';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { MarketingConfig } from '../config';

/**
 * The services group buying calls over gRPC, as marketing's own API client (platform outbound
 * clients: token from identity, trace context, deadlines, mapped errors): payment (CreatePayment,
 * RefundPayment) and settlement (CompleteOrder).
 */
@Injectable()
export class DealPorts implements OnModuleDestroy {
  readonly tokens: ClientCredentialsTokens;
  readonly payment: OutboundClient<typeof PaymentServiceService>;
  readonly settlement: OutboundClient<typeof SettlementServiceService>;

  constructor(@Inject(SERVICE_CONFIG) config: MarketingConfig) {
    this.tokens = new ClientCredentialsTokens({
      identityUrl: config.IDENTITY_GRPC_URL,
      clientId: config.MARKETING_CLIENT_ID,
      clientSecret: config.MARKETING_CLIENT_SECRET,
    });
    this.payment = outboundClient(PaymentServiceService, {
      service: 'payment',
      url: config.PAYMENT_GRPC_URL,
      tokens: this.tokens,
    });
    this.settlement = outboundClient(SettlementServiceService, {
      service: 'settlement',
      url: config.SETTLEMENT_GRPC_URL,
      tokens: this.tokens,
    });
  }

  onModuleDestroy(): void {
    this.payment.close();
    this.settlement.close();
    this.tokens.close();
  }
}
