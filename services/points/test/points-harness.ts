// Set-up of the points suites: the points service (in-process) on its own database, tokens from a
// TestIssuer, gRPC clients per caller: the city (a city admin with an empty tenancy), operators and
// projects.
import { CITY_ADMIN_SCOPE } from '@citybase/platform';
import { PromiseClient, ServiceHarness, startServiceHarness } from '@citybase/platform/testing';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { definition } from '../src/definition';
export { errorCode, errorField, grpcError, rowCounts } from '@citybase/platform/testing';
export { status } from '@grpc/grpc-js';

export type PointsClient = PromiseClient<typeof PointsServiceService>;
export type PointsHarness = ServiceHarness<typeof PointsServiceService>;

/** What an operator's back office may do with programmes and budgets. */
export const OPERATOR_SCOPES = ['points:read', 'points:configure', 'points:budget'];
/** The city's points office: every operator's budgets. */
export const CITY_SCOPES = [...OPERATOR_SCOPES, CITY_ADMIN_SCOPE];

/** The points service on its own database; `env` adds to (or overrides) its configuration. */
export function startPointsHarness(label: string, env: Record<string, string> = {}): Promise<PointsHarness> {
  return startServiceHarness({
    definition,
    grpcService: PointsServiceService,
    label,
    env: () => ({ DATABASE_POOL_SIZE: '20', ...env }),
    poolSize: 20,
    scopes: OPERATOR_SCOPES,
  });
}

/** A client of the city (city admin, empty tenancy). */
export const cityClient = (h: PointsHarness): PointsClient => h.clientOf({}, CITY_SCOPES);
