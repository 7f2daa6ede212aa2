import { Module } from '@nestjs/common';
import { LedgerGrpc } from './ledger.grpc';
import { LedgerService } from './ledger.service';

/**
 * Ledger queries and corrections over gRPC (issue 6 items 1 and 8), and LedgerService: the door
 * every other feature posts and reads the ledger through.
 */
@Module({ controllers: [LedgerGrpc], providers: [LedgerService], exports: [LedgerService] })
export class LedgerModule {}
