import { domainErrorOf } from '@citybase/platform/testing';
import { couponMaxValue, decideUpdate, UpdateCampaignCommand } from './campaigns.domain';

const ID = '0b9d6b39-2a83-4f0e-9d1c-6d0a4cf2b8e1';
const UNTIL = new Date('2026-12-31T00:00:00Z');

const current = {
  campaignId: ID,
  status: 'ACTIVE' as const,
  currency: 'CNY',
  claimed: 10n,
  claimedValue: 10_000n,
  claimUntil: UNTIL,
  maxCoupons: 100n,
  maxSpend: 50_000n,
};
const cmd = (over: Partial<UpdateCampaignCommand>): UpdateCampaignCommand => ({
  requestId: 'r',
  operatorId: 'op',
  projectId: '',
  campaignId: ID,
  status: undefined,
  maxCoupons: undefined,
  maxSpend: undefined,
  claimUntil: undefined,
  ...over,
});

describe('campaigns rules', () => {
  it('takes the worst case of a coupon from its discount', () => {
    expect(couponMaxValue({ kind: 'AMOUNT_OFF', amountMinor: 500n })).toBe(500n);
    expect(couponMaxValue({ kind: 'PERCENT_OFF', basisPoints: 1000, capMinor: 300n })).toBe(300n);
    expect(couponMaxValue({ kind: 'PERCENT_OFF', basisPoints: 1000, capMinor: null })).toBe(0n);
    expect(couponMaxValue({ kind: 'THRESHOLD', spendMinor: 10_000n, saveMinor: 1_500n })).toBe(1_500n);
    expect(couponMaxValue({ kind: 'FREE_ITEM', itemCode: 'latte', valueMinor: 2_800n })).toBe(2_800n);
  });

  it('moves DRAFT > ACTIVE <> PAUSED > ENDED only', () => {
    const moves: [string, string, boolean][] = [
      ['DRAFT', 'ACTIVE', true],
      ['DRAFT', 'PAUSED', false],
      ['DRAFT', 'ENDED', true],
      ['ACTIVE', 'PAUSED', true],
      ['ACTIVE', 'DRAFT', false],
      ['PAUSED', 'ACTIVE', true],
      ['PAUSED', 'ENDED', true],
      ['ENDED', 'ACTIVE', false],
      ['ENDED', 'PAUSED', false],
    ];
    for (const [from, to, allowed] of moves) {
      const decide = () =>
        decideUpdate({ ...current, status: from as 'ACTIVE' }, cmd({ status: to as 'ACTIVE' }));
      if (allowed) expect(decide().status).toBe(to);
      else expect(domainErrorOf(decide).code).toBe('CAMPAIGN_STATUS_MOVE');
    }
    // the same status is no change
    expect(decideUpdate({ ...current, status: 'ENDED' }, cmd({ status: 'ENDED' })).status).toBe('ENDED');
  });

  it('never lowers a budget below what is claimed, and only extends the window', () => {
    expect(domainErrorOf(() => decideUpdate(current, cmd({ maxCoupons: 9n }))).code).toBe(
      'BUDGET_BELOW_CLAIMED',
    );
    expect(decideUpdate(current, cmd({ maxCoupons: 10n })).maxCoupons).toBe(10n);
    expect(
      domainErrorOf(() => decideUpdate(current, cmd({ maxSpend: { currency: 'CNY', amountMinor: 9_999n } })))
        .code,
    ).toBe('BUDGET_BELOW_CLAIMED');
    expect(decideUpdate(current, cmd({ maxSpend: { currency: 'CNY', amountMinor: 10_000n } })).maxSpend).toBe(
      10_000n,
    );
    expect(
      domainErrorOf(() => decideUpdate(current, cmd({ maxSpend: { currency: 'USD', amountMinor: 1n } })))
        .detail.field,
    ).toBe('max_spend.currency');
    expect(domainErrorOf(() => decideUpdate(current, cmd({ claimUntil: UNTIL }))).detail.field).toBe(
      'claim_until',
    );
    expect(
      domainErrorOf(() => decideUpdate({ ...current, status: 'ENDED' }, cmd({ maxCoupons: 200n }))).code,
    ).toBe('CAMPAIGN_ENDED');
  });
});
