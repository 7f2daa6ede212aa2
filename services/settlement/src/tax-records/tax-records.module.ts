import { Module } from '@nestjs/common';
import { TaxRecordsGrpc } from './tax-records.grpc';
import { TaxRecordsService } from './tax-records.service';

/**
 * Tax records per operator, merchant and month (issue 6 item 7; docs/settlement-escrow.md):
 * QueryTaxRecords, ExportTaxRecords. TaxRecordsService is exported: escrow adds its completions and
 * refunds through it.
 */
@Module({ controllers: [TaxRecordsGrpc], providers: [TaxRecordsService], exports: [TaxRecordsService] })
export class TaxRecordsModule {}
