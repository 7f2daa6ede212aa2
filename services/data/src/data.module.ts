import { Module } from '@nestjs/common';
import { AccessLogModule } from './access-log/access-log.module';
import { CatalogModule } from './catalog/catalog.module';
import { FeedsModule } from './feeds/feeds.module';
import { GrantsModule } from './grants/grants.module';

/** The data service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [AccessLogModule, CatalogModule, GrantsModule, FeedsModule] })
export class DataModule {}
