import { Inject, Injectable } from '@nestjs/common';
import { assertTenancy, CitybaseClaims, Mutations, PG_POOL, Pool, PoolClient } from '@citybase/platform';
import type { Queryable } from '../ledger/ledger.service';
import {
  DEFAULT_SPLIT_RULE,
  ruleTerms,
  type SetSplitRuleCommand,
  type SplitRuleTerms,
} from './split-rules.domain';
import { findApplicableRule, findRule, listRules, SplitRuleRow, upsertRule } from './split-rules.store';

export type { SplitRuleTerms } from './split-rules.domain';

/**
 * Split rules per project and merchant category. A rule applies to orders completed after it is
 * set (the order stores the rule it was completed with); its auto-confirm hours apply to orders
 * paid after it is set. Writing under another operator or project is PERMISSION_DENIED.
 */
@Injectable()
export class SplitRulesService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  async setRule(claims: CitybaseClaims, cmd: SetSplitRuleCommand): Promise<SplitRuleRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    // a repeat answers the rule as it is now (another request may have changed it since)
    const current = async ({ client }: { client: PoolClient }) => (await findRule(client, cmd))!;
    return this.mutations.run({
      method: 'SettlementService.SetSplitRule',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        ctx.note({ project_id: cmd.projectId, merchant_category: cmd.merchantCategory });
        await upsertRule(ctx.client, {
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          merchant_category: cmd.merchantCategory,
          commission_bps: cmd.commissionBps,
          property_share_bps: cmd.propertyShareBps,
          tax_bps: cmd.taxBps,
          auto_confirm_hours: cmd.autoConfirmHours,
          updated_by: claims.sub,
        });
        return current(ctx);
      },
      replay: current,
    });
  }

  async listRules(
    claims: CitybaseClaims,
    q: { operatorId: string; projectId: string },
  ): Promise<SplitRuleRow[]> {
    assertTenancy(claims, q);
    return listRules(this.pool, q.operatorId, q.projectId);
  }

  /**
   * The terms an order of the merchant's category is split by now: the category's rule, else the
   * project's default rule, else DEFAULT_SPLIT_RULE. In the caller's transaction when given one.
   */
  async termsFor(
    db: Queryable,
    o: { operatorId: string; projectId: string; merchantCategory: string },
  ): Promise<SplitRuleTerms> {
    const rule = await findApplicableRule(db, o);
    return rule ? ruleTerms(rule) : DEFAULT_SPLIT_RULE;
  }
}
