// Set-up of the marketing suites: the marketing service (in-process) on its own database, tokens
// from a TestIssuer, gRPC clients per caller (operators' tools, projects' staff, merchants' apps).
import type { Pool } from 'pg';
import { PromiseClient, ServiceHarness, startServiceHarness } from '@citybase/platform/testing';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { MarketingEvents } from '@citybase/contracts/events';
import { definition } from '../src/definition';
export { errorCode, errorField, grpcError, rowCounts } from '@citybase/platform/testing';
export { status } from '@grpc/grpc-js';

export type MarketingClient = PromiseClient<typeof MarketingServiceService>;
export type MarketingHarness = ServiceHarness<typeof MarketingServiceService>;

export const ALL_MARKETING_SCOPES = [
  'marketing:configure',
  'marketing:claim',
  'marketing:redeem',
  'marketing:promote',
  'marketing:review',
  'marketing:feed',
  'marketing:read',
];

/** The marketing service on its own database; `env` adds to (or overrides) its configuration. */
export function startMarketingHarness(
  label: string,
  env: Record<string, string> = {},
): Promise<MarketingHarness> {
  return startServiceHarness({
    definition,
    grpcService: MarketingServiceService,
    label,
    env: () => ({ DATABASE_POOL_SIZE: '20', ...env }),
    poolSize: 20,
    scopes: ALL_MARKETING_SCOPES,
  });
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
