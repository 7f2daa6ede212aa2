import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ClientCredentialsTokens, outboundClient, OutboundClient, SERVICE_CONFIG } from '@citybase/platform';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import type { PaymentConfig } from '../config';

/**
 * The services checkouts call over gRPC, as payment's own API client (platform outbound clients,
 * docs/adr/0010-service-to-service-calls.md): points (ReservePoints, ConfirmReservation,
 * CancelReservation, GetProgramme) and marketing (ClaimCoupon, ReserveCoupon,
 * ConfirmCouponReservation, CancelCouponReservation).
 */
@Injectable()
export class CheckoutPorts implements OnModuleDestroy {
  readonly tokens: ClientCredentialsTokens;
  readonly points: OutboundClient<typeof PointsServiceService>;
  readonly marketing: OutboundClient<typeof MarketingServiceService>;

  constructor(@Inject(SERVICE_CONFIG) config: PaymentConfig) {
    this.tokens = new ClientCredentialsTokens({
      identityUrl: config.IDENTITY_GRPC_URL,
      clientId: config.PAYMENT_CLIENT_ID,
      clientSecret: config.PAYMENT_CLIENT_SECRET,
    });
    this.points = outboundClient(PointsServiceService, {
      service: 'points',
      url: config.POINTS_GRPC_URL,
      tokens: this.tokens,
    });
    this.marketing = outboundClient(MarketingServiceService, {
      service: 'marketing',
      url: config.MARKETING_GRPC_URL,
      tokens: this.tokens,
    });
  }

  onModuleDestroy(): void {
    this.points.close();
    this.marketing.close();
    this.tokens.close();
  }
}
