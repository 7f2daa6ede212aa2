import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { PoolClient } from '@citybase/platform';

/**
 * Stand-in of the budgets room (branch points-budgets) behind its interface, until it is merged:
 * every charge succeeds against one budget id per (operator, project).
 */
@Injectable()
export class BudgetsService {
  charge(
    _client: PoolClient,
    issuer: { operatorId: string; projectId?: string },
    _at: Date,
    _points: bigint,
  ): Promise<string> {
    const hex = createHash('sha256')
      .update(`${issuer.operatorId}/${issuer.projectId ?? ''}`)
      .digest('hex');
    return Promise.resolve(
      `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`,
    );
  }

  uncharge(_client: PoolClient, _budgetId: string, _points: bigint): Promise<void> {
    return Promise.resolve();
  }

  redeemed(_client: PoolClient, _budgetId: string, _points: bigint): Promise<void> {
    return Promise.resolve();
  }

  expired(_client: PoolClient, _budgetId: string, _points: bigint): Promise<void> {
    return Promise.resolve();
  }
}
