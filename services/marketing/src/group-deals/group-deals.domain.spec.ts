import { toTimestamp } from '@citybase/platform';
import { expectInvalid } from '@citybase/platform/testing';
import {
  callIds,
  deadlineOutcome,
  holdUntil,
  joinRefusal,
  nextAttemptDelayMs,
  onMemberRefund,
  onPaymentSucceeded,
  toCreateGroupDealCommand,
  toJoinGroupDealCommand,
} from './group-deals.domain';

const NOW = new Date('2026-12-06T03:00:00Z');
const LATER = new Date('2026-12-06T05:00:00Z');
const create = (over: Record<string, unknown> = {}) => ({
  requestId: 'r-1',
  deal: {
    tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
    title: 'Lychees',
    itemCode: 'LYCHEE-5KG',
    price: { currency: 'CNY', amountMinor: 1000n },
    minParticipants: 2,
    maxParticipants: 10,
    deadline: toTimestamp(LATER),
    ...over,
  },
});

describe('group deal requests', () => {
  it('validates CreateGroupDeal: price > 0, 2 <= min <= max <= 10,000, deadline in the future', () => {
    expect(toCreateGroupDealCommand(create(), NOW)).toMatchObject({
      operatorId: 'op-1',
      projectId: 'p-1',
      merchantId: 'm-1',
      price: { currency: 'CNY', amountMinor: 1000n },
      minParticipants: 2,
      maxParticipants: 10,
      deadline: LATER,
    });
    expect(
      toCreateGroupDealCommand(create({ minParticipants: 10_000, maxParticipants: 10_000 }), NOW)
        .maxParticipants,
    ).toBe(10_000);
    const cases: [Record<string, unknown>, string][] = [
      [{ price: { currency: 'CNY', amountMinor: 0n } }, 'deal.price.amount_minor'],
      [{ price: undefined }, 'deal.price'],
      [{ minParticipants: 1 }, 'deal.min_participants'],
      [{ minParticipants: 2.5 }, 'deal.min_participants'],
      [{ minParticipants: 3, maxParticipants: 2 }, 'deal.max_participants'],
      [{ maxParticipants: 10_001 }, 'deal.max_participants'],
      [{ deadline: toTimestamp(NOW) }, 'deal.deadline'],
      [{ deadline: undefined }, 'deal.deadline'],
      [{ title: 'x'.repeat(81) }, 'deal.title'],
      [{ itemCode: 'a b' }, 'deal.item_code'],
      [{ tenancy: { operatorId: 'op-1', merchantId: 'm-1' } }, 'deal.tenancy.project_id'],
    ];
    for (const [over, field] of cases)
      expectInvalid(() => toCreateGroupDealCommand(create(over), NOW), field);
  });

  it('validates JoinGroupDeal', () => {
    const base = {
      requestId: 'r',
      tenancy: { operatorId: 'op-1' },
      dealId: '6c1a4d3e-1111-4222-8333-444455556666',
      userId: 'u-1',
    };
    expect(toJoinGroupDealCommand(base)).toEqual({
      requestId: 'r',
      operatorId: 'op-1',
      dealId: base.dealId,
      userId: 'u-1',
    });
    expectInvalid(() => toJoinGroupDealCommand({ ...base, dealId: 'x' }), 'deal_id');
    expectInvalid(() => toJoinGroupDealCommand({ ...base, userId: '' }), 'user_id');
  });
});

describe('the group deal state machine', () => {
  const open = { status: 'OPEN' as const, deadline: LATER, paid: 1, pending: 1, max_participants: 3 };

  it('holds a seat only in an open deal before its deadline with paid + pending < max', () => {
    expect(joinRefusal(open, NOW)).toBeUndefined();
    expect(joinRefusal({ ...open, pending: 2 }, NOW)).toBe('DEAL_FULL');
    expect(joinRefusal({ ...open, deadline: NOW }, NOW)).toBe('DEAL_ENDED');
    expect(joinRefusal({ ...open, status: 'SUCCEEDED' }, NOW)).toBe('DEAL_ENDED');
  });

  it('holds a seat for the configured time, never past the deadline', () => {
    expect(holdUntil(NOW, 600, LATER)).toEqual(new Date('2026-12-06T03:10:00Z'));
    expect(holdUntil(NOW, 86_400, LATER)).toEqual(LATER);
  });

  it('a payment pays a held seat of an open deal; after the seat or the deal ended it is refunded', () => {
    const deal = { status: 'OPEN' as const, deadline: LATER };
    expect(onPaymentSucceeded('PENDING', deal, NOW)).toBe('pay');
    expect(onPaymentSucceeded('PENDING', { ...deal, deadline: NOW }, NOW)).toBe('refund_late');
    expect(onPaymentSucceeded('PENDING', { ...deal, status: 'SUCCEEDED' }, NOW)).toBe('refund_late');
    expect(onPaymentSucceeded('RELEASED', deal, NOW)).toBe('refund_late');
    for (const s of ['PAID', 'REFUNDED', 'WITHDRAWN'] as const)
      expect(onPaymentSucceeded(s, deal, NOW)).toBe('ignore');
  });

  it("a member's refund: withdrawn after success (the deal stays), a seat freed while open", () => {
    expect(onMemberRefund('PAID', 'SUCCEEDED')).toBe('withdraw');
    expect(onMemberRefund('PAID', 'OPEN')).toBe('free_seat');
    expect(onMemberRefund('PAID', 'FAILED')).toBe('ignore');
    expect(onMemberRefund('REFUNDED', 'FAILED')).toBe('ignore');
  });

  it('ends at the deadline by the paid count; calls have fixed request ids', () => {
    expect(deadlineOutcome({ paid: 2, min_participants: 2 })).toBe('SUCCEEDED');
    expect(deadlineOutcome({ paid: 1, min_participants: 2 })).toBe('FAILED');
    expect([
      callIds.createPayment('p'),
      callIds.refundFailed('p'),
      callIds.refundLate('p'),
      callIds.complete('p'),
    ]).toEqual(['p', 'p:failed', 'p:late', 'p:complete']);
    expect([0, 1, 5, 30].map(nextAttemptDelayMs)).toEqual([1000, 2000, 32_000, 300_000]);
  });
});
