import { Injectable } from '@nestjs/common';
import type { PoolClient } from '@citybase/platform';

/** An operator's programme as the accounts room uses it. */
export interface ProgrammeTerms {
  pointValue: { currency: string; amountMinor: bigint };
  lotLifetimeDays: number;
}

/**
 * Stand-in of the programmes room (branch points-budgets) behind its interface, until its
 * service is merged: reads the operator's row of `programmes` (migrations/0001_programmes.sql).
 */
@Injectable()
export class ProgrammesService {
  async get(client: PoolClient, operatorId: string): Promise<ProgrammeTerms | undefined> {
    const { rows } = await client.query<{
      point_value_currency: string;
      point_value_minor: bigint;
      lot_lifetime_days: number;
    }>(
      'SELECT point_value_currency, point_value_minor, lot_lifetime_days FROM programmes WHERE operator_id = $1',
      [operatorId],
    );
    const p = rows[0];
    return (
      p && {
        pointValue: { currency: p.point_value_currency, amountMinor: p.point_value_minor },
        lotLifetimeDays: p.lot_lifetime_days,
      }
    );
  }
}
