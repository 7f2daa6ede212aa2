import { effectiveTier, rankOf, reviewTo, tierFor, upgradeTo } from './tiers.domain';

const tiers = [
  { name: 'BASIC', threshold: 0n },
  { name: 'SILVER', threshold: 300n },
  { name: 'GOLD', threshold: 1000n },
];

describe('tiers domain', () => {
  it('the tier rolling earnings reach: the highest threshold at or below them', () => {
    expect([0n, 299n, 300n, 999n, 1000n, 10n ** 12n].map((r) => tierFor(tiers, r))).toEqual([
      'BASIC',
      'BASIC',
      'SILVER',
      'SILVER',
      'GOLD',
      'GOLD',
    ]);
    expect(tierFor([], 5000n)).toBe('');
  });

  it("'' is the first tier; a tier the programme no longer has ranks -1", () => {
    expect([rankOf(tiers, ''), rankOf(tiers, 'GOLD'), rankOf(tiers, 'GONE')]).toEqual([0, 2, -1]);
    expect([effectiveTier(tiers, ''), effectiveTier(tiers, 'SILVER'), effectiveTier([], '')]).toEqual([
      'BASIC',
      'SILVER',
      '',
    ]);
  });

  it('an earning only moves up', () => {
    expect(upgradeTo(tiers, '', 100n)).toBeUndefined(); // BASIC is where '' is
    expect(upgradeTo(tiers, '', 300n)).toBe('SILVER');
    expect(upgradeTo(tiers, 'GOLD', 0n)).toBeUndefined();
    expect(upgradeTo(tiers, 'GONE', 0n)).toBe('BASIC');
    expect(upgradeTo([], '', 5000n)).toBeUndefined();
  });

  it('the tier job moves to the reached tier, down or up, and leaves equal ones alone', () => {
    expect(reviewTo(tiers, 'GOLD', 150n)).toBe('BASIC');
    expect(reviewTo(tiers, 'SILVER', 1000n)).toBe('GOLD');
    expect(reviewTo(tiers, '', 0n)).toBeUndefined();
    expect(reviewTo(tiers, 'BASIC', 0n)).toBeUndefined();
    expect(reviewTo(tiers, 'GONE', 0n)).toBe('BASIC');
    expect(reviewTo([], 'GOLD', 0n)).toBe('');
    expect(reviewTo([], '', 0n)).toBeUndefined();
  });
});
