import { Module } from '@nestjs/common';
import { RecordedPaymentsGrpc } from './recorded-payments/recorded-payments.grpc';
import { RecordedPaymentsService } from './recorded-payments/recorded-payments.service';

/** The settlement service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ controllers: [RecordedPaymentsGrpc], providers: [RecordedPaymentsService] })
export class SettlementModule {}
