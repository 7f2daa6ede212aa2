import { toTimestamp } from '@citybase/platform';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents, PointsEvents, SettlementEvents } from '@citybase/contracts/events';
import { enumName, paymentSpecs, pointsSpecs, settlementSpecs, SOURCES } from './store.facts';
import { retentionCutoff } from './store.ingest';

const at = new Date('2026-12-06T07:30:00Z');
const specOf = (list: typeof paymentSpecs, type: { type: string }) =>
  list.find((s) => s.type.type === type.type)!;
const t = { operatorId: 'op', projectId: 'pr', merchantId: 'm' };
const cny = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

describe('store facts', () => {
  it('turns a PaymentSucceeded into one payment fact and a payment.succeeded contribution by channel and scenario', () => {
    const lines = specOf(paymentSpecs, PaymentEvents.PaymentSucceeded).facts(
      {
        paymentId: 'p',
        tenancy: t,
        merchantId: 'm',
        scenario: PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING,
        amount: cny(1234n),
        channel: 'sandbox',
        occurredAt: toTimestamp(at),
        checkoutId: 'co',
      },
      new Date(0),
    );
    expect(lines).toEqual([
      expect.objectContaining({
        table: 'fact_payment',
        occurredAt: at,
        operatorId: 'op',
        projectId: 'pr',
        contributions: [
          {
            metric: 'payment.succeeded',
            channel: 'sandbox',
            kind: 'EV_CHARGING',
            currency: 'CNY',
            total: 1234n,
          },
        ],
      }),
    ]);
  });

  it('books the tax part of a completed order as a tax record next to the escrow release', () => {
    const lines = specOf(settlementSpecs, SettlementEvents.OrderCompleted).facts(
      {
        orderId: 'o',
        tenancy: t,
        released: cny(1000n),
        parts: [{ role: 'tax', amount: cny(60n) }],
        occurredAt: toTimestamp(at),
      },
      at,
    );
    expect(lines.map((l) => l.table)).toEqual(['fact_escrow', 'fact_tax_record']);
    expect(lines[0]!.columns.amount_minor).toBe(-1000n);
    expect(lines[1]!.columns).toEqual(
      expect.objectContaining({ tax_minor: 60n, taxable_turnover_minor: 1000n }),
    );
  });

  it("books expired points per lot against each lot's issuer; without lots there is nothing to book", () => {
    const spec = specOf(pointsSpecs, PointsEvents.PointsExpired);
    const lines = spec.facts(
      {
        tenancy: t,
        holderId: 'h',
        lots: [
          {
            lotId: 'a',
            issuer: { operatorId: 'x', projectId: '', merchantId: '' },
            points: 3n,
            value: cny(3n),
          },
          {
            lotId: 'b',
            issuer: { operatorId: 'y', projectId: '', merchantId: '' },
            points: 4n,
            value: cny(4n),
          },
        ],
        occurredAt: toTimestamp(at),
      },
      at,
    );
    expect(lines.map((l) => [l.operatorId, l.columns.points])).toEqual([
      ['x', 3n],
      ['y', 4n],
    ]);
    expect(spec.facts({ tenancy: t, holderId: 'h', lots: [], occurredAt: toTimestamp(at) }, at)).toEqual([]);
  });

  it('falls back to the envelope time when an event carries no occurred_at', () => {
    const [line] = specOf(paymentSpecs, PaymentEvents.PaymentFailed).facts(
      {
        paymentId: 'p',
        tenancy: t,
        merchantId: 'm',
        scenario: 0,
        amount: cny(1n),
        channel: 'c',
        reason: 'r',
      },
      at,
    );
    expect(line!.occurredAt).toEqual(at);
  });

  it('names enum values without their prefix, and registers each event type once', () => {
    expect(enumName(PaymentScenario, PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY, 'PAYMENT_SCENARIO_')).toBe(
      'GROUP_BUY',
    );
    const types = Object.values(SOURCES).flatMap((l) => l.map((s) => s.type.type));
    expect(new Set(types).size).toBe(types.length);
  });

  it('keeps facts from the start of the month DATA_RETENTION_MONTHS - 1 months back', () => {
    expect(retentionCutoff(at, 24)).toEqual(new Date('2025-01-01T00:00:00Z'));
    expect(retentionCutoff(at, 1)).toEqual(new Date('2026-12-01T00:00:00Z'));
  });
});
