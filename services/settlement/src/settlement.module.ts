import { Module } from '@nestjs/common';

/** The settlement service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({})
export class SettlementModule {}
