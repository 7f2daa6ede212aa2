import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { Logger, LOGGER, PG_POOL, Pool, REDIS, SERVICE_CONFIG, withTransaction } from '@citybase/platform';
import type { CampaignRow } from '../campaigns/campaigns.store';
import { findCampaign, lockCampaign } from '../campaigns/campaigns.store';
import type { MarketingConfig } from '../config';
import { gateStock, HolderField } from './coupons.domain';
import { bumpGateEpoch, counterRows } from './coupons.store';

/**
 * The flash-sale gate (docs/marketing.md rule 2): one Redis hash per campaign and gate epoch
 * (`<prefix>:{<campaign>}:<epoch>`) with the stock left (field `stock`) and the holders' counts
 * (fields `U:<user>`, `H:<household>`, `D:<city day>:<user>`). One Lua script (EVALSHA through
 * ioredis defineCommand) checks and takes the stock and every holder count atomically; PostgreSQL
 * still decides (rule 1), so the gate can only refuse, never oversell. A hash without its `stock`
 * field is missing (flushed, Redis restarted, or a new epoch): it is rebuilt from PostgreSQL under
 * the campaign's row lock, with a new epoch, so claims admitted under the old one are refused by
 * PostgreSQL's epoch check and go through the gate again.
 */

/** KEYS[1] the hash; ARGV: field, limit, field, limit, ... Answers OK, MISSING, SOLD_OUT or LIMIT:<field>. */
const TAKE = `
local stock = redis.call('HGET', KEYS[1], 'stock')
if not stock then return 'MISSING' end
if tonumber(stock) <= 0 then return 'SOLD_OUT' end
for i = 1, #ARGV, 2 do
  local limit = tonumber(ARGV[i + 1])
  local n = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if n >= limit then return 'LIMIT:' .. ARGV[i] end
end
redis.call('HINCRBY', KEYS[1], 'stock', -1)
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
return 'OK'
`;

/** KEYS[1] the hash; ARGV the holder fields a TAKE counted. Gives them back (only into a live hash). */
const GIVE = `
if not redis.call('HGET', KEYS[1], 'stock') then return 0 end
redis.call('HINCRBY', KEYS[1], 'stock', 1)
for i = 1, #ARGV do
  if tonumber(redis.call('HINCRBY', KEYS[1], ARGV[i], -1)) <= 0 then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
`;

interface GateRedis extends Redis {
  marketingGateTake(key: string, ...args: string[]): Promise<string>;
  marketingGateGive(key: string, ...fields: string[]): Promise<number>;
}

export type GateAnswer =
  { ok: true } | { ok: false; why: 'MISSING' | 'SOLD_OUT' } | { ok: false; why: 'LIMIT'; field: string };

/** Holder fields written per HSET while rebuilding. */
const REBUILD_CHUNK = 5_000;

@Injectable()
export class FlashGate {
  private readonly redis: GateRedis;

  constructor(
    @Inject(REDIS) redis: Redis,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: MarketingConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    if (!(redis as unknown as Partial<GateRedis>).marketingGateTake) {
      redis.defineCommand('marketingGateTake', { numberOfKeys: 1, lua: TAKE });
      redis.defineCommand('marketingGateGive', { numberOfKeys: 1, lua: GIVE });
    }
    this.redis = redis as GateRedis;
  }

  /** The campaign's hash of one epoch ({campaign} keeps every key of a campaign in one cluster slot). */
  key(campaignId: string, epoch: bigint): string {
    return `${this.config.MARKETING_GATE_KEY_PREFIX}:{${campaignId}}:${epoch}`;
  }

  /** Every key of the campaign, whatever its epoch (chaos tests delete exactly these). */
  pattern(campaignId: string): string {
    return `${this.config.MARKETING_GATE_KEY_PREFIX}:{${campaignId}}:*`;
  }

  async take(campaignId: string, epoch: bigint, holders: HolderField[]): Promise<GateAnswer> {
    const args = holders.flatMap((h) => [h.field, String(h.limit)]);
    const answer = await this.redis.marketingGateTake(this.key(campaignId, epoch), ...args);
    if (answer === 'OK') return { ok: true };
    if (answer === 'MISSING' || answer === 'SOLD_OUT') return { ok: false, why: answer };
    return { ok: false, why: 'LIMIT', field: answer.slice('LIMIT:'.length) };
  }

  /** Gives back what `take` took (a claim PostgreSQL refused, or a replay). */
  async give(campaignId: string, epoch: bigint, holders: HolderField[]): Promise<void> {
    await this.redis.marketingGateGive(this.key(campaignId, epoch), ...holders.map((h) => h.field));
  }

  /**
   * Rebuilds the campaign's counters from PostgreSQL under its row lock: a new gate epoch, stock =
   * what the count and money budgets have left, holder counts from claim_counters. Claims admitted
   * under an older epoch and not yet committed are refused by the epoch check of their campaign
   * update (they hold no lock the rebuild waits for) and go through the gate again. When another
   * claim rebuilt it since `seenEpoch` was read, that is kept. Returns the campaign after (with its
   * epoch).
   */
  async rebuild(
    campaignId: string,
    seenEpoch: bigint | undefined,
    reason: string,
  ): Promise<CampaignRow | undefined> {
    let rebuilt = false;
    const seen = await findCampaign(this.pool, campaignId);
    if (
      seen &&
      seenEpoch !== undefined &&
      seen.gate_epoch !== seenEpoch &&
      (await this.stock(campaignId, seen.gate_epoch)) !== undefined
    )
      return seen;
    const row = await withTransaction(this.pool, async (client) => {
      const locked = await lockCampaign(client, campaignId);
      if (!locked || !locked.flash_sale) return locked;
      // another claim rebuilt it since this one looked: use that
      if (
        seenEpoch !== undefined &&
        locked.gate_epoch !== seenEpoch &&
        (await this.stock(campaignId, locked.gate_epoch)) !== undefined
      )
        return locked;
      rebuilt = true;
      const epoch = await bumpGateEpoch(client, campaignId);
      const counters = await counterRows(client, campaignId);
      const key = this.key(campaignId, epoch);
      const fields: string[] = [];
      for (const c of counters) fields.push(c.field, String(c.count));
      const multi = this.redis.multi().del(key);
      for (let i = 0; i < fields.length; i += REBUILD_CHUNK * 2)
        multi.hset(key, ...fields.slice(i, i + REBUILD_CHUNK * 2));
      // stock last: the hash counts as present only once it is complete
      multi.hset(key, 'stock', String(gateStock(locked)));
      // kept until a day after the claim window (a later extension rebuilds it)
      const ttl = Math.max(3600, Math.ceil((locked.claim_until.getTime() - Date.now()) / 1000) + 86_400);
      multi.expire(key, ttl);
      multi.del(this.key(campaignId, locked.gate_epoch));
      await multi.exec();
      return { ...locked, gate_epoch: epoch };
    });
    if (rebuilt && row)
      this.logger.info(
        { campaign_id: campaignId, gate_epoch: row.gate_epoch.toString(), reason },
        'flash gate rebuilt',
      );
    return row;
  }

  /** The stock the gate holds now for the campaign's epoch; undefined when missing. */
  async stock(campaignId: string, epoch: bigint): Promise<bigint | undefined> {
    const v = await this.redis.hget(this.key(campaignId, epoch), 'stock');
    return v === null ? undefined : BigInt(v);
  }

  /** Every field of the campaign's hash (tests and the invariants compare it with PostgreSQL). */
  async snapshot(campaignId: string, epoch: bigint): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key(campaignId, epoch));
  }
}
