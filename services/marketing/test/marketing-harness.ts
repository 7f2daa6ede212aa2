// Set-up of the marketing suites: the marketing service (in-process) on its own database, tokens
// from a TestIssuer, gRPC clients per caller (an operator's back office, the residents' app), and
// campaigns made through the RPCs.
import type { Pool } from 'pg';
import {
  amountOffCampaign,
  createActiveCampaign,
  PromiseClient,
  ServiceHarness,
  startServiceHarness,
  uniqueName,
} from '@citybase/platform/testing';
import { Campaign, MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { MarketingEvents } from '@citybase/contracts/events';
import { definition } from '../src/definition';
import type { ServiceError } from '@grpc/grpc-js';
import { errorCode } from '@citybase/platform/testing';
export { errorCode, errorField, grpcError, rowCounts } from '@citybase/platform/testing';
export { status } from '@grpc/grpc-js';

export type MarketingClient = PromiseClient<typeof MarketingServiceService>;
export type MarketingHarness = ServiceHarness<typeof MarketingServiceService> & {
  /** MARKETING_GATE_KEY_PREFIX of the service: the suite's own flash-sale gate keys. */
  gatePrefix: string;
};

/** An operator's back office: campaigns, codes, reads. */
export const CONFIGURE_SCOPES = ['marketing:configure', 'marketing:read'];
/** The residents' app: claims and reads. */
export const CLAIM_SCOPES = ['marketing:claim', 'marketing:read'];
/** Every scope of marketing.proto (a caller whose tenancy, not its scopes, is what a test is about). */
export const ALL_MARKETING_SCOPES = [
  'marketing:configure',
  'marketing:claim',
  'marketing:redeem',
  'marketing:promote',
  'marketing:review',
  'marketing:feed',
  'marketing:read',
];

/**
 * The marketing service on its own database; `env` adds to (or overrides) its configuration;
 * `scopes` are the default scopes of `clientOf`.
 */
export async function startMarketingHarness(
  label: string,
  env: Record<string, string> = {},
  scopes: string[] = CONFIGURE_SCOPES,
): Promise<MarketingHarness> {
  // a key prefix of the suite's own: the shared Redis holds other suites' gates too
  const gatePrefix = env.MARKETING_GATE_KEY_PREFIX ?? uniqueName('mkt-gate');
  const h = await startServiceHarness({
    definition,
    grpcService: MarketingServiceService,
    label,
    env: () => ({
      DATABASE_POOL_SIZE: '30',
      MARKETING_GATE_KEY_PREFIX: gatePrefix,
      ...env,
    }),
    poolSize: 10,
    scopes,
  });
  return Object.assign(h, { gatePrefix });
}

export const tenancy = (operatorId: string, projectId = '', merchantId = '') => ({
  operatorId,
  projectId,
  merchantId,
});

/** A campaign of `operatorId`: 10 CNY off, 100 coupons, claimable from an hour ago for a day. */
export function campaignSpec(operatorId: string, over: Partial<Campaign> = {}): Campaign {
  return amountOffCampaign(operatorId, 1000n, { name: 'Autumn coffee', maxCoupons: 100n, ...over });
}

/** Creates and activates a campaign; answers it ACTIVE. */
export function activeCampaign(
  client: MarketingClient,
  operatorId: string,
  over: Partial<Campaign> = {},
): Promise<Campaign> {
  return createActiveCampaign(client, campaignSpec(operatorId, over));
}

/** Settles a list of claims: how many succeeded, and the gRPC codes of the refusals. */
export async function settle(
  calls: Promise<unknown>[],
): Promise<{ ok: number; refused: Record<string, number> }> {
  const results = await Promise.allSettled(calls);
  const refused: Record<string, number> = {};
  let ok = 0;
  for (const r of results) {
    if (r.status === 'fulfilled') ok++;
    else {
      const code = errorCode(r.reason as ServiceError) ?? String((r.reason as Error).message);
      refused[code] = (refused[code] ?? 0) + 1;
    }
  }
  return { ok, refused };
}

/** The decoded events of one type in the outbox, in commit order. */
export async function eventsOf<K extends keyof typeof MarketingEvents>(
  pool: Pool,
  kind: K,
): Promise<ReturnType<(typeof MarketingEvents)[K]['codec']['decode']>[]> {
  const type = MarketingEvents[kind];
  const { rows } = await pool.query<{ payload: Buffer }>(
    'SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id',
    [type.type],
  );
  return rows.map(
    (r) => type.codec.decode(r.payload) as ReturnType<(typeof MarketingEvents)[K]['codec']['decode']>,
  );
}
