import { Module } from '@nestjs/common';
import { CodesGrpc } from './codes.grpc';
import { CodesJob } from './codes.job';
import { CodesService } from './codes.service';

/** Codes (docs/marketing.md "Codes"): GenerateCodes, GetCodeBatch, ExportCodes and the code job. */
@Module({ controllers: [CodesGrpc], providers: [CodesService, CodesJob] })
export class CodesModule {}
