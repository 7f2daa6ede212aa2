import { Module } from '@nestjs/common';

/** The data service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({})
export class DataModule {}
