import { parsePage } from '@citybase/platform';
import { PayoutStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  decideConfirm,
  holdExpiry,
  PAYOUTS_PAGE,
  toConfirmPayoutCommand,
  toListPayoutsQuery,
  toRunPayoutCycleCommand,
} from './payouts.domain';
import { domainErrorOf } from '../../test/spec-helpers';

const PAYOUT = '11111111-1111-4111-8111-111111111111';

describe('other commands', () => {
  it('RunPayoutCycle names each field', () => {
    const ok = { requestId: 'c-1', operatorId: 'op-1', projectId: 'p-1', currency: 'CNY' };
    expect(toRunPayoutCycleCommand(ok)).toEqual(ok);
    for (const [field, over] of [
      ['request_id', { requestId: ' ' }],
      ['operator_id', { operatorId: '' }],
      ['project_id', { projectId: '' }],
      ['currency', { currency: 'yuan' }],
    ] as const)
      expect(domainErrorOf(() => toRunPayoutCycleCommand({ ...ok, ...over })).detail.field).toBe(field);
  });

  it('ConfirmPayout requires the reference of a success and the reason of a failure', () => {
    const base = { requestId: 'k', payoutId: PAYOUT, bankReference: '', failureReason: '' };
    expect(toConfirmPayoutCommand({ ...base, succeeded: true, bankReference: 'B-1' }).outcome).toEqual({
      paid: true,
      bankReference: 'B-1',
    });
    expect(toConfirmPayoutCommand({ ...base, succeeded: false, failureReason: 'closed' }).outcome).toEqual({
      paid: false,
      failureReason: 'closed',
    });
    expect(domainErrorOf(() => toConfirmPayoutCommand({ ...base, succeeded: true })).detail.field).toBe(
      'bank_reference',
    );
    expect(domainErrorOf(() => toConfirmPayoutCommand({ ...base, succeeded: false })).detail.field).toBe(
      'failure_reason',
    );
    expect(
      domainErrorOf(() =>
        toConfirmPayoutCommand({ ...base, succeeded: true, bankReference: 'B', failureReason: 'x' }),
      ).detail.field,
    ).toBe('failure_reason');
    expect(
      domainErrorOf(() =>
        toConfirmPayoutCommand({ ...base, payoutId: 'nope', succeeded: false, failureReason: 'x' }),
      ).detail.field,
    ).toBe('payout_id');
  });

  it('ListPayouts: optional filters, pages', () => {
    expect(toListPayoutsQuery({ operatorId: '', projectId: '', batchId: '', page: undefined })).toEqual({
      operatorId: '',
      projectId: '',
      batchId: '',
      size: 50,
      after: undefined,
    });
    expect(
      domainErrorOf(() =>
        toListPayoutsQuery({ operatorId: '', projectId: '', batchId: 'x', page: undefined }),
      ).detail.field,
    ).toBe('batch_id');
    expect(domainErrorOf(() => parsePage({ pageSize: 501, pageToken: '' }, PAYOUTS_PAGE)).detail.field).toBe(
      'page.page_size',
    );
    expect(
      domainErrorOf(() => parsePage({ pageSize: 1, pageToken: 'garbage!' }, PAYOUTS_PAGE)).detail.field,
    ).toBe('page.page_token');
    const T = '2026-01-02T03:04:05.123456Z';
    const page = { pageSize: 10, pageToken: PAYOUTS_PAGE.encode([T, PAYOUT]) };
    expect(toListPayoutsQuery({ operatorId: '', projectId: '', batchId: '', page })).toEqual({
      operatorId: '',
      projectId: '',
      batchId: '',
      size: 10,
      after: { createdAt: T, id: PAYOUT },
    });
    // a day that does not exist (Date.parse accepts it; PostgreSQL would refuse it in the query)
    const feb30 = { v: 1, l: 'settlement.payouts', k: ['2026-02-30T00:00:00.000000Z', PAYOUT] };
    const forged = { pageSize: 10, pageToken: Buffer.from(JSON.stringify(feb30)).toString('base64url') };
    expect(
      domainErrorOf(() => toListPayoutsQuery({ operatorId: '', projectId: '', batchId: '', page: forged }))
        .detail.field,
    ).toBe('page.page_token');
  });
});

describe('decideConfirm', () => {
  const payout = (status: PayoutStatus, bankReference = '') => ({ payoutId: PAYOUT, status, bankReference });
  const paid = { paid: true as const, bankReference: 'B-1' };
  const failed = { paid: false as const, failureReason: 'account closed' };

  it('pays or fails a pending payout', () => {
    expect(decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_PENDING), paid)).toBe('pay');
    expect(decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_PENDING), failed)).toBe('fail');
  });

  it('answers a final payout unchanged when the answer agrees', () => {
    expect(decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_PAID, 'B-1'), paid)).toBe('unchanged');
    expect(decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_FAILED), failed)).toBe('unchanged');
    expect(decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_EXPIRED), failed)).toBe('unchanged');
  });

  it('refuses an answer that contradicts a final payout', () => {
    expect(
      domainErrorOf(() => decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_PAID, 'B-1'), failed)).code,
    ).toBe('PAYOUT_ALREADY_SETTLED');
    expect(
      domainErrorOf(() =>
        decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_PAID, 'B-1'), { ...paid, bankReference: 'B-2' }),
      ).code,
    ).toBe('PAYOUT_ALREADY_SETTLED');
    expect(domainErrorOf(() => decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_FAILED), paid)).kind).toBe(
      'failed_precondition',
    );
    expect(domainErrorOf(() => decideConfirm(payout(PayoutStatus.PAYOUT_STATUS_EXPIRED), paid)).code).toBe(
      'PAYOUT_EXPIRED',
    );
  });
});

describe('holdExpiry', () => {
  it('is now plus the configured hours', () => {
    expect(holdExpiry(new Date('2026-01-01T00:00:00Z'), 72)).toEqual(new Date('2026-01-04T00:00:00Z'));
  });
});
