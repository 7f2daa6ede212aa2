import { Module } from '@nestjs/common';

/** The iot service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({})
export class IotModule {}
