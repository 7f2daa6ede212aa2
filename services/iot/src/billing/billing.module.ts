import { Module } from '@nestjs/common';
import { BillingEventHandlers } from './billing.events';
import { BillingJob } from './billing.job';
import { BillingPorts } from './billing.ports';
import { BillingService } from './billing.service';

/**
 * iot's payments (docs/iot.md "Billing"): CreatePayment calls for parking exits and charging
 * sessions, the billing job, and consumer iot.billing of payment's outcomes, handed to the room
 * that asked (BillingService.register).
 */
@Module({
  providers: [BillingService, BillingPorts, BillingJob, BillingEventHandlers],
  exports: [BillingService],
})
export class BillingModule {}
