import { Module } from '@nestjs/common';
import { ProgrammesService } from './programmes.service';

/** Stand-in of the programmes room (branch points-budgets), until it is merged. */
@Module({ providers: [ProgrammesService], exports: [ProgrammesService] })
export class ProgrammesModule {}
