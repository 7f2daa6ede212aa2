import { Module } from '@nestjs/common';
import { LedgerGrpc } from './ledger.grpc';

/** Ledger queries and corrections over gRPC (issue 6 items 1 and 8). */
@Module({ controllers: [LedgerGrpc] })
export class LedgerModule {}
