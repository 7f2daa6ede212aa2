import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { RefundsModule } from '../refunds/refunds.module';
import { CheckoutsGrpc } from './checkouts.grpc';
import { CheckoutsJob } from './checkouts.job';
import { CheckoutPorts } from './checkouts.ports';
import { CheckoutSaga } from './checkouts.saga';
import { CheckoutsService } from './checkouts.service';

/**
 * Checkouts (docs/payment-checkout.md): money + points + coupon in one saga. CreateCheckout,
 * GetCheckout, CancelCheckout, RefundCheckout, ListCheckouts over gRPC; the saga (its steps call
 * points and marketing as payment's own client); the recovery job.
 */
@Module({
  imports: [PaymentsModule, RefundsModule],
  controllers: [CheckoutsGrpc],
  providers: [CheckoutsService, CheckoutSaga, CheckoutPorts, CheckoutsJob],
})
export class CheckoutsModule {}
