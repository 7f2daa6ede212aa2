import { Module } from '@nestjs/common';
import { ProgrammesModule } from '../programmes/programmes.module';
import { TierJob } from './tier.job';
import { TiersService } from './tiers.service';

/**
 * Tiers (docs/points.md "Tiers"): the upgrade after each earning (TiersService.afterEarning, called
 * by earning in its transaction) and the tier job.
 */
@Module({ imports: [ProgrammesModule], providers: [TiersService, TierJob], exports: [TiersService] })
export class TiersModule {}
