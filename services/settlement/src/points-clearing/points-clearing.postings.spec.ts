import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  cyclePosting,
  issuedPosting,
  netPositions,
  obligationPosting,
  PlannedPosting,
  redeemedPosting,
  returnedPosting,
  returnObligations,
  takenBackPosting,
} from './points-clearing.postings';

const K = AccountKind;
const sum = (p: PlannedPosting | undefined) => (p?.lines ?? []).reduce((s, l) => s + l.amountMinor, 0n);
const lines = (p: PlannedPosting | undefined) =>
  (p?.lines ?? []).map((l) => [
    l.account.kind,
    `${l.account.operatorId}/${l.account.projectId ?? ''}`,
    l.amountMinor,
  ]);
const v = (operatorId: string, projectId: string, amountMinor: bigint) => ({
  issuer: { operatorId, projectId },
  currency: 'CNY',
  amountMinor,
});

describe('points clearing postings', () => {
  it('issuance: Dr the issuer’s subsidy, Cr its liability, keyed by the lot', () => {
    const p = issuedPosting('lot-1', v('a', 'p1', 50n));
    expect(p?.idempotencyKey).toBe('points:lot:lot-1');
    expect(lines(p)).toEqual([
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, 'a/p1', 50n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/p1', -50n],
    ]);
    expect(issuedPosting('lot-2', v('a', '', 0n))).toBeUndefined();
  });

  it('reversal and expiry: per issuer, the reverse; nothing taken posts nothing', () => {
    const p = takenBackPosting('points_reversed', 'e1', 'a', [
      v('a', '', 3n),
      v('a', 'p1', 4n),
      v('a', '', 2n),
    ]);
    expect(lines(p)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/', 5n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, 'a/', -5n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/p1', 4n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, 'a/p1', -4n],
    ]);
    expect(sum(p)).toBe(0n);
    expect(takenBackPosting('points_expired', 'e2', 'a', [])).toBeUndefined();
  });

  it('redemption posts only the lots issued where they are spent; the rest is clearing’s', () => {
    const place = { operatorId: 'a', projectId: '', merchantId: 'm' };
    const p = redeemedPosting('r1', 'a', place, [v('a', '', 10n), v('a', 'p1', 6n), v('b', '', 1n)]);
    expect(lines(p)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/', 10n],
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, 'a/', -10n],
    ]);
    expect(redeemedPosting('r2', 'a', { ...place, operatorId: 'b' }, [v('a', '', 10n)])).toBeUndefined();
  });

  it('an obligation: the debtor’s liability to clearing, clearing to the creditor’s payable', () => {
    const p = obligationPosting({
      obligationId: 'o1',
      reservationId: 'r1',
      debtor: { operatorId: 'a', projectId: 'p1' },
      creditor: { operatorId: 'b', projectId: 'q', merchantId: 'm' },
      currency: 'CNY',
      amountMinor: 7n,
    });
    expect(lines(p)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/p1', 7n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'a/p1', -7n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'b/q', 7n],
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, 'b/q', -7n],
    ]);
    expect(() =>
      obligationPosting({
        obligationId: 'o2',
        reservationId: 'r1',
        debtor: { operatorId: 'a', projectId: '' },
        creditor: { operatorId: 'a', projectId: '', merchantId: 'm' },
        currency: 'CNY',
        amountMinor: 7n,
      }),
    ).toThrow(/same issuer/);
  });

  it('a cycle nets per clearing account and settles per operator through its bank; it sums to zero', () => {
    const o = (d: [string, string], c: [string, string], amountMinor: bigint) => ({
      debtor: { operatorId: d[0], projectId: d[1] },
      creditor: { operatorId: c[0], projectId: c[1] },
      amountMinor,
    });
    const set = [o(['a', ''], ['b', 'q'], 20n), o(['a', 'p1'], ['a', ''], 12n), o(['b', 'q'], ['c', ''], 5n)];
    expect(netPositions(set).map((p) => [p.issuer.operatorId, p.issuer.projectId, p.net])).toEqual([
      ['a', '', -8n],
      ['a', 'p1', -12n],
      ['b', 'q', 15n],
      ['c', '', 5n],
    ]);
    const p = cyclePosting('cy', 'CNY', set);
    expect(lines(p)).toEqual([
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'a/', 8n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'a/p1', 12n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'b/q', -15n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'c/', -5n],
      [K.ACCOUNT_KIND_BANK, 'a/', -20n],
      [K.ACCOUNT_KIND_BANK, 'b/', 15n],
      [K.ACCOUNT_KIND_BANK, 'c/', 5n],
    ]);
    expect(sum(p)).toBe(0n);
    // obligations that cancel out settle with no posting
    expect(
      cyclePosting('cy2', 'CNY', [o(['a', ''], ['b', ''], 3n), o(['b', ''], ['a', ''], 3n)]),
    ).toBeUndefined();
  });
});

describe('points returned on a checkout refund', () => {
  const place = { operatorId: 'a', projectId: 'p1', merchantId: 'm' };
  it("the place's own issuer directly, other issuers through clearing, keyed by the return", () => {
    const p = returnedPosting('ret-1', 'a', place, [
      v('a', 'p1', 300n),
      v('a', 'p2', 200n),
      v('b', '', 100n),
    ]);
    expect(p?.idempotencyKey).toBe('points:returned:ret-1');
    expect(lines(p)).toEqual([
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, 'a/p1', 600n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/p1', -300n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'a/p1', -200n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'a/p2', 200n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'a/p2', -200n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'a/p1', -100n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, 'b/', 100n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, 'b/', -100n],
    ]);
    expect(sum(p)).toBe(0n);
    // the place owes each other issuer what went back to its liability
    expect(returnObligations(place, [v('a', 'p1', 300n), v('a', 'p2', 200n), v('b', '', 100n)])).toEqual([
      {
        debtor: { operatorId: 'a', projectId: 'p1' },
        creditor: { operatorId: 'a', projectId: 'p2', merchantId: '' },
        currency: 'CNY',
        amountMinor: 200n,
      },
      {
        debtor: { operatorId: 'a', projectId: 'p1' },
        creditor: { operatorId: 'b', projectId: '', merchantId: '' },
        currency: 'CNY',
        amountMinor: 100n,
      },
    ]);
    expect(returnedPosting('ret-2', 'a', place, [])).toBeUndefined();
    expect(() => returnedPosting('ret-3', 'a', place, [v('a', 'p1', -1n)])).toThrow(/negative/);
  });
});
