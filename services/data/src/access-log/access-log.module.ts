import { Module } from '@nestjs/common';
import { AccessLogGrpc } from './access-log.grpc';
import { AccessLog } from './access-log.service';

/** The access log (docs/data.md "Access log"): appended by grants and feeds, exported by ExportAccessLog. */
@Module({ controllers: [AccessLogGrpc], providers: [AccessLog], exports: [AccessLog] })
export class AccessLogModule {}
