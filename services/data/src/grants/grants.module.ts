import { Module } from '@nestjs/common';
import { AccessLogModule } from '../access-log/access-log.module';
import { GrantsGrpc } from './grants.grpc';
import { GrantsService } from './grants.service';

/** Grants (docs/data.md "Grants"): IssueGrant, GetGrant, ListGrants, RevokeGrant. */
@Module({
  imports: [AccessLogModule],
  controllers: [GrantsGrpc],
  providers: [GrantsService],
  exports: [GrantsService],
})
export class GrantsModule {}
