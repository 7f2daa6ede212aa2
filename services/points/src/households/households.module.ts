import { Module } from '@nestjs/common';
import { ProgrammesModule } from '../programmes/programmes.module';
import { HouseholdsGrpc } from './households.grpc';
import { HouseholdsService } from './households.service';

/**
 * Households (docs/points.md "Households"): SetHouseholdMembers. Earning reads a payer's household
 * with the store's `householdOf`, in its transaction.
 */
@Module({ imports: [ProgrammesModule], controllers: [HouseholdsGrpc], providers: [HouseholdsService] })
export class HouseholdsModule {}
