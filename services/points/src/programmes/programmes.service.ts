import { Injectable } from '@nestjs/common';
import type { PoolClient } from '@citybase/platform';

/** An operator's programme as the accounts room uses it. */
export interface ProgrammeTerms {
  pointValue: { currency: string; amountMinor: bigint };
  lotLifetimeDays: number;
}

/**
 * Stand-in of the programmes room (branch points-budgets) behind its interface, until it is merged:
 * every operator has a programme of 1 fen per point and lots living 365 days.
 */
@Injectable()
export class ProgrammesService {
  get(_client: PoolClient, _operatorId: string): Promise<ProgrammeTerms | undefined> {
    return Promise.resolve({ pointValue: { currency: 'CNY', amountMinor: 1n }, lotLifetimeDays: 365 });
  }
}
