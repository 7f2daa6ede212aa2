import type { SplitRule } from '@citybase/contracts/citybase/settlement/v1/settlement';

/**
 * Helpers shared by settlement's tests (unit specs under src/ and integration suites): the
 * platform's test helpers, under the names settlement's specs use, and settlement's own.
 */
export { domainErrorOf, seededRandom as rng } from '@citybase/platform/testing';

/**
 * A page token the server issued, with the first timestamp in it moved to 2026-02-30 (a day that
 * does not exist; Date.parse accepts it, PostgreSQL does not), whatever the token's format.
 */
export function onFebruary30(token: string): string {
  return Buffer.from(
    Buffer.from(token, 'base64url')
      .toString('utf8')
      .replace(/\d{4}-\d{2}-\d{2}T/, '2026-02-30T'),
  ).toString('base64url');
}

/**
 * A valid split rule as SetSplitRule carries it, for the project's default category: 5 %
 * commission, 10 % property share, 3 % tax, confirmed after 24 h unless `over` says otherwise.
 */
export function splitRule(over: Partial<SplitRule> & Pick<SplitRule, 'operatorId' | 'projectId'>): SplitRule {
  return {
    merchantCategory: '',
    commissionBps: 500,
    propertyShareBps: 1000,
    taxBps: 300,
    autoConfirmHours: 24,
    updatedAt: undefined,
    ...over,
  };
}
