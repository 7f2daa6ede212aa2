import { join } from 'path';
import { defineService } from '@citybase/platform';
import { SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { settlementConfig } from './config';
import { SettlementModule } from './settlement.module';

/** The settlement service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'settlement',
  root: join(__dirname, '..'),
  configSchema: settlementConfig,
  module: SettlementModule,
  grpcServices: { 'citybase.settlement.v1.SettlementService': SettlementServiceService },
  // settlement consumes payment's, points' and marketing's topics; they create them, settlement makes
  // sure they exist too
  consumes: ['payment', 'points', 'marketing'],
});
