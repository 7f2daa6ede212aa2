import { Module } from '@nestjs/common';
import { AccessLogModule } from '../access-log/access-log.module';
import { FeedsGrpc } from './feeds.grpc';
import { FeedsHttp } from './feeds.http';
import { FeedsService } from './feeds.service';

/** Feeds (docs/data.md "Feeds"): PullFeed (gRPC server streaming), GetPullEvidence, and the HTTP pulls. */
@Module({ imports: [AccessLogModule], controllers: [FeedsGrpc, FeedsHttp], providers: [FeedsService] })
export class FeedsModule {}
