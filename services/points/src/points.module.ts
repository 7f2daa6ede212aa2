import { Module } from '@nestjs/common';
import { AccountsModule } from './accounts/accounts.module';

/** The points service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [AccountsModule] })
export class PointsModule {}
