import { Module } from '@nestjs/common';
import { ProgrammesGrpc } from './programmes.grpc';
import { ProgrammesService } from './programmes.service';

/**
 * Programmes (docs/points.md "Programmes"): SetProgramme, GetProgramme. ProgrammesService is
 * exported: other rooms read an operator's programme with `get`.
 */
@Module({ controllers: [ProgrammesGrpc], providers: [ProgrammesService], exports: [ProgrammesService] })
export class ProgrammesModule {}
