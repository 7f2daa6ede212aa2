import { Module } from '@nestjs/common';
import { PaymentsGrpc } from './payments/payments.grpc';
import { PaymentsService } from './payments/payments.service';

/** The payment service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ controllers: [PaymentsGrpc], providers: [PaymentsService] })
export class PaymentModule {}
