import { Injectable, Optional } from '@nestjs/common';
import type { Pool, PoolClient } from '@citybase/platform';
import type { ChannelKind, PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelAccount, ChannelAdapter } from './channel-adapter';
import { ChannelAdapters } from './channel-adapters';
import { ChannelConfigCache, ChannelConfigLookups, READ_THROUGH } from './channel-config-cache';
import { CredentialsCipher } from './channel-credentials';
import { RoutingRuleSpec, ruleMatches } from './channels.domain';
import { findAccount, rulesWithAccounts } from './channels.store';

/** A channel account to call, with the adapter of its kind. */
export interface RoutedChannel {
  /**
   * Credentials decrypted: kept in this process's memory only (ChannelConfigCache), never logged
   * or stored.
   */
  account: ChannelAccount;
  kind: ChannelKind;
  adapter: ChannelAdapter;
}

export interface RouteQuery {
  operatorId: string;
  projectId: string;
  scenario: PaymentScenario;
  amountMinor: bigint;
  /** Uniform in [0, 1); Math.random by default. Injected to make tests deterministic. */
  random?: () => number;
}

/** What ranking needs to know of one rule. */
export interface RankableRule extends RoutingRuleSpec {
  /** Enabled in the catalog AND for the project, and of a kind this build has an adapter for. */
  usable: boolean;
}

/**
 * The channel ids to try for a payment, in order: the usable rules matching its scenario and amount,
 * grouped by priority (lowest first); within one priority a weighted random order without
 * replacement (so the first choice splits the volume by weight, and the rest are the fallbacks).
 * A channel appears at most once: at its best priority, with the weights of its rules of that
 * priority added up.
 */
export function rankChannels(
  rules: readonly RankableRule[],
  q: { scenario: PaymentScenario; amountMinor: bigint },
  random: () => number,
): string[] {
  const groups = new Map<number, Map<string, number>>();
  for (const rule of rules) {
    if (!rule.usable || !ruleMatches(rule, q.scenario, q.amountMinor)) continue;
    const group = groups.get(rule.priority) ?? new Map<string, number>();
    group.set(rule.channelId, (group.get(rule.channelId) ?? 0) + rule.weight);
    groups.set(rule.priority, group);
  }
  const ranked: string[] = [];
  const placed = new Set<string>();
  for (const priority of [...groups.keys()].sort((a, b) => a - b)) {
    const pool = [...(groups.get(priority) ?? [])].filter(([id]) => !placed.has(id));
    while (pool.length > 0) {
      const total = pool.reduce((sum, [, w]) => sum + w, 0);
      let draw = Math.min(Math.max(random(), 0), 1 - Number.EPSILON) * total;
      let index = pool.length - 1;
      for (let i = 0; i < pool.length; i++) {
        draw -= (pool[i] as [string, number])[1];
        if (draw < 0) {
          index = i;
          break;
        }
      }
      const [id] = pool.splice(index, 1)[0] as [string, number];
      placed.add(id);
      ranked.push(id);
    }
  }
  return ranked;
}

/** A project's routing rules, ranked input and the accounts they route to, credentials decrypted. */
interface ProjectRouting {
  rules: RankableRule[];
  /** A ranked channel's account, its credentials decrypted on first use. */
  routed(channelId: string): RoutedChannel;
}

/**
 * Which channel accounts a payment goes to (routing rules of its project) and the account of an
 * existing payment's channel. Payment intents call it; the credentials are decrypted only here,
 * once per account until the configuration changes (ChannelConfigCache).
 */
@Injectable()
export class ChannelRouter {
  constructor(
    private readonly cipher: CredentialsCipher,
    private readonly adapters: ChannelAdapters,
    // without one (a router built by hand) every lookup reads the database
    @Optional() cache?: ChannelConfigCache,
  ) {
    this.cache = cache ?? READ_THROUGH;
  }

  private readonly cache: ChannelConfigLookups;

  /**
   * The channel accounts to try for a new payment, in order (see rankChannels). Empty when no rule
   * applies: the caller answers FAILED_PRECONDITION "no channel configured for this payment".
   */
  async candidates(client: PoolClient | Pool, q: RouteQuery): Promise<RoutedChannel[]> {
    const { rules, routed } = await this.cache.get(`rules/${q.operatorId}/${q.projectId}`, () =>
      this.projectRouting(client, q),
    );
    return rankChannels(rules, q, q.random ?? Math.random).map(routed);
  }

  /**
   * The project's account at a channel, enabled or not (callbacks, queries and refunds of a payment
   * already made there must keep working after the channel is disabled). Undefined if the project
   * has no account there or this build has no adapter for the channel's kind.
   */
  account(
    client: PoolClient | Pool,
    ref: { projectId: string; channelId: string },
  ): Promise<RoutedChannel | undefined> {
    return this.cache.get(`account/${ref.projectId}/${ref.channelId}`, async () => {
      const row = await findAccount(client, ref.projectId, ref.channelId);
      if (!row || !this.adapters.has(row.kind)) return undefined;
      return this.routed(row);
    });
  }

  /** The channel configuration changed (committed): what is held in memory is dropped. */
  forget(): void {
    this.cache.forget();
  }

  private async projectRouting(
    client: PoolClient | Pool,
    ref: { operatorId: string; projectId: string },
  ): Promise<ProjectRouting> {
    const rows = await rulesWithAccounts(client, ref);
    const rules: RankableRule[] = rows.map((r) => ({
      channelId: r.channel_id,
      priority: r.priority,
      weight: r.weight,
      scenarios: r.scenarios,
      minAmountMinor: r.min_amount_minor,
      maxAmountMinor: r.max_amount_minor,
      usable: r.channel_enabled && r.account_enabled && this.adapters.has(r.kind),
    }));
    const opened = new Map<string, RoutedChannel>();
    const routed = (channelId: string): RoutedChannel => {
      let channel = opened.get(channelId);
      if (!channel) {
        const row = rows.find((r) => r.channel_id === channelId);
        if (!row) throw new Error(`ranked channel ${channelId} is not among the project's rules`);
        channel = this.routed({ ...row, project_id: ref.projectId });
        opened.set(channelId, channel);
      }
      return channel;
    };
    return { rules, routed };
  }

  private routed(row: {
    project_id: string;
    channel_id: string;
    kind: ChannelKind;
    endpoint: string;
    merchant_no: string;
    credentials_enc: Buffer;
  }): RoutedChannel {
    const adapter = this.adapters.get(row.kind);
    if (!adapter) throw new Error(`no adapter for channel kind ${row.kind}`);
    return {
      kind: row.kind,
      adapter,
      account: {
        channelId: row.channel_id,
        endpoint: row.endpoint,
        merchantNo: row.merchant_no,
        credentials: this.cipher.open(row.credentials_enc, {
          projectId: row.project_id,
          channelId: row.channel_id,
        }),
      },
    };
  }
}
