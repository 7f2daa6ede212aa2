import { Module } from '@nestjs/common';
import { EscrowModule } from '../escrow/escrow.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PointsClearingEventHandlers } from './points-clearing.events';
import { PointsClearingCycleJob } from './points-clearing.job';
import { PointsClearingService } from './points-clearing.service';

/**
 * Points' liability and clearing (issue 12 item 5; docs/settlement-points.md): the handlers of
 * points' events (consumer `settlement.points`) and the clearing cycle job, posting through the
 * ledger.
 */
@Module({
  // EscrowModule: a checkout's points join its escrow order (EscrowCheckouts)
  imports: [LedgerModule, EscrowModule],
  providers: [PointsClearingService, PointsClearingEventHandlers, PointsClearingCycleJob],
  exports: [PointsClearingService],
})
export class PointsClearingModule {}
