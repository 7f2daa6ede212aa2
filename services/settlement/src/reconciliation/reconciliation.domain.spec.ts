import { DomainError } from '@citybase/platform';
import { ReconciliationIssue } from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  ClearingPosting,
  dayRange,
  idsInKey,
  matchStatement,
  parseStatement,
  STATEMENT_HEADER,
  StatementLine,
  toImportStatementCommand,
} from './reconciliation.domain';

const DAY = '2025-03-01';
// 10:00 in UTC+8 on 2025-03-01
const AT = '2025-03-01T02:00:00.000Z';
const PAY = '11111111-1111-4111-8111-111111111111';
const PAY2 = '22222222-2222-4222-8222-222222222222';
const REFUND = '33333333-3333-4333-8333-333333333333';
const REFUND2 = '44444444-4444-4444-8444-444444444444';

const csv = (...rows: string[]) => [STATEMENT_HEADER, ...rows, ''].join('\n');

function invalid(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe('invalid_argument');
    return err as DomainError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('dayRange', () => {
  it('is the day in UTC+8', () => {
    expect(dayRange('2025-03-01')).toEqual({
      start: new Date('2025-02-28T16:00:00.000Z'),
      end: new Date('2025-03-01T16:00:00.000Z'),
    });
  });

  it.each(['2025-02-30', '2025-13-01', '25-03-01', '2025-3-1', ''])('refuses %j', (day) => {
    expect(invalid(() => dayRange(day)).message).toBe('day: must be a date YYYY-MM-DD');
  });
});

describe('parseStatement', () => {
  it('parses the sandbox channel statement format', () => {
    const lines = parseStatement(
      csv(`PAYMENT,tx-1,${PAY},,12345,74,${AT}`, `REFUND,tx-1,${PAY},r1,250,2,2025-03-01T15:59:59.999Z`),
      DAY,
    );
    expect(lines).toEqual([
      {
        lineNo: 2,
        kind: 'PAYMENT',
        transactionId: 'tx-1',
        outTradeNo: PAY,
        outRefundNo: '',
        amountMinor: 12_345n,
        feeMinor: 74n,
        at: new Date(AT),
      },
      {
        lineNo: 3,
        kind: 'REFUND',
        transactionId: 'tx-1',
        outTradeNo: PAY,
        outRefundNo: 'r1',
        amountMinor: 250n,
        feeMinor: 2n,
        at: new Date('2025-03-01T15:59:59.999Z'),
      },
    ]);
  });

  it('takes an empty statement, CRLF line ends and no final line end', () => {
    expect(parseStatement(`${STATEMENT_HEADER}\n`, DAY)).toEqual([]);
    expect(parseStatement(STATEMENT_HEADER, DAY)).toEqual([]);
    expect(parseStatement(`${STATEMENT_HEADER}\r\nPAYMENT,t,${PAY},,1,0,${AT}\r\n`, DAY)).toHaveLength(1);
  });

  it.each([
    ['a wrong header', 'kind,transaction_id\n', 1, 'the header must be'],
    ['a missing field', csv(`PAYMENT,t,${PAY},,1,${AT}`), 2, 'must have 7 fields, has 6'],
    ['an unknown kind', csv(`CHARGE,t,${PAY},,1,0,${AT}`), 2, 'kind must be PAYMENT or REFUND'],
    ['no transaction id', csv(`PAYMENT,,${PAY},,1,0,${AT}`), 2, 'transaction_id must be'],
    ['no out_trade_no', csv(`PAYMENT,t,,,1,0,${AT}`), 2, 'out_trade_no must be'],
    ['a refund no on a payment', csv(`PAYMENT,t,${PAY},r1,1,0,${AT}`), 2, 'out_refund_no must be empty'],
    ['no refund no on a refund', csv(`REFUND,t,${PAY},,1,0,${AT}`), 2, 'out_refund_no must be 1-64'],
    ['a zero amount', csv(`PAYMENT,t,${PAY},,0,0,${AT}`), 2, 'amount must be a positive integer'],
    ['a decimal amount', csv(`PAYMENT,t,${PAY},,1.5,0,${AT}`), 2, 'amount must be a positive integer'],
    ['a negative fee', csv(`PAYMENT,t,${PAY},,100,-1,${AT}`), 2, 'fee must be a non-negative integer'],
    ['a fee above the amount', csv(`PAYMENT,t,${PAY},,10,11,${AT}`), 2, 'fee must not exceed amount'],
    ['a bad time', csv(`PAYMENT,t,${PAY},,1,0,yesterday`), 2, 'at must be an ISO 8601 time'],
    ['another day', csv(`PAYMENT,t,${PAY},,1,0,2025-03-01T16:00:00.000Z`), 2, 'at must be on 2025-03-01'],
    ['an empty line', csv(`PAYMENT,t,${PAY},,1,0,${AT}`, '', `PAYMENT,t,${PAY},,1,0,${AT}`), 3, 'is empty'],
    [
      'a bad third line',
      csv(`PAYMENT,t,${PAY},,1,0,${AT}`, `PAYMENT,t,${PAY},,1,0,${AT}`, `PAYMENT,t,${PAY},,x,0,${AT}`),
      4,
      'amount must be',
    ],
  ])('refuses %s, naming the line', (_what, text, lineNo, rule) => {
    const err = invalid(() => parseStatement(text, DAY));
    expect(err.detail.field).toBe('csv');
    expect(err.message).toContain(`csv: line ${lineNo}: ${rule}`);
  });
});

describe('toImportStatementCommand', () => {
  const ok = {
    requestId: 'r-1',
    operatorId: 'op-1',
    projectId: 'p-1',
    channelId: 'sandbox',
    day: DAY,
    csv: csv(),
  };
  it.each([
    ['request_id', { requestId: '' }],
    ['operator_id', { operatorId: '' }],
    ['project_id', { projectId: 'p 1' }],
    ['channel_id', { channelId: 'Sandbox!' }],
    ['day', { day: '2025/03/01' }],
    ['csv', { csv: '' }],
  ])('names %s', (field, over) => {
    expect(invalid(() => toImportStatementCommand({ ...ok, ...over })).detail.field).toBe(field);
  });
});

describe('idsInKey', () => {
  it('finds the refund id beside the payment id', () => {
    expect(idsInKey(`order:${PAY}:refund:${REFUND.toUpperCase()}`, PAY)).toEqual([REFUND]);
    expect(idsInKey(`order:${PAY}:escrow`, PAY)).toEqual([]);
  });
});

describe('matchStatement', () => {
  let n = 0;
  const line = (kind: 'PAYMENT' | 'REFUND', ref: string, amount: bigint, refundNo = ''): StatementLine => ({
    lineNo: ++n + 1,
    kind,
    transactionId: `tx-${ref.slice(0, 4)}`,
    outTradeNo: ref,
    outRefundNo: refundNo,
    amountMinor: amount,
    feeMinor: (amount * 6n + 500n) / 1000n,
    at: new Date(AT),
  });
  const posting = (reference: string, amount: bigint, refundIds: string[] = []): ClearingPosting => ({
    txId: `t${++n}`,
    reference,
    refundIds,
    amountMinor: amount,
  });

  it('matches one line with one posting of the same payment and amount', () => {
    const r = matchStatement(
      [line('PAYMENT', PAY, 1_000n), line('REFUND', PAY, 300n, REFUND)],
      [posting(PAY, 1_000n), posting(PAY, -300n, [REFUND])],
    );
    expect(r).toMatchObject({
      matchedOneToOne: 2,
      matchedOneToMany: 0,
      matchedManyToOne: 0,
      differences: [],
      statementTotal: 700n,
      ledgerTotal: 700n,
      fees: 6n - 2n,
    });
  });

  it('pairs refunds by refund id before amount', () => {
    const r = matchStatement(
      [line('REFUND', PAY, 100n, REFUND2)],
      [posting(PAY, -100n, [REFUND]), posting(PAY, -100n, [REFUND2])],
    );
    expect(r.matchedOneToOne).toBe(1);
    expect(r.differences).toEqual([
      {
        issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISSING,
        reference: REFUND,
        channelTransactionId: '',
        ledgerAmount: 100n,
        statementAmount: undefined,
      },
    ]);
  });

  it('matches one line with several postings of one payment (1:N)', () => {
    const r = matchStatement([line('PAYMENT', PAY, 1_000n)], [posting(PAY, 600n), posting(PAY, 400n)]);
    expect(r).toMatchObject({
      matchedOneToOne: 0,
      matchedOneToMany: 1,
      matchedManyToOne: 0,
      differences: [],
    });
  });

  it('matches several lines with one posting (N:1)', () => {
    const r = matchStatement(
      [line('REFUND', PAY, 200n, 'r1'), line('REFUND', PAY, 50n, 'r2')],
      [posting(PAY, -250n)],
    );
    expect(r).toMatchObject({
      matchedOneToOne: 0,
      matchedOneToMany: 0,
      matchedManyToOne: 1,
      differences: [],
    });
  });

  it('reports a posting without a line as missing, and a line without a posting as extra', () => {
    const r = matchStatement([line('PAYMENT', PAY2, 70n)], [posting(PAY, 500n)]);
    expect(r.differences).toEqual([
      {
        issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISSING,
        reference: PAY,
        channelTransactionId: '',
        ledgerAmount: 500n,
        statementAmount: undefined,
      },
      {
        issue: ReconciliationIssue.RECONCILIATION_ISSUE_EXTRA,
        reference: PAY2,
        channelTransactionId: `tx-${PAY2.slice(0, 4)}`,
        ledgerAmount: undefined,
        statementAmount: 70n,
      },
    ]);
    expect(r).toMatchObject({ statementTotal: 70n, ledgerTotal: 500n, matchedOneToOne: 0 });
  });

  it('reports one mismatch per payment whose amounts differ', () => {
    const r = matchStatement([line('PAYMENT', PAY, 1_000n)], [posting(PAY, 999n)]);
    expect(r.differences).toEqual([
      {
        issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISMATCHED,
        reference: PAY,
        channelTransactionId: `tx-${PAY.slice(0, 4)}`,
        ledgerAmount: 999n,
        statementAmount: 1_000n,
      },
    ]);
    // a refund mismatch names the refund
    const refund = matchStatement([line('REFUND', PAY, 10n, REFUND)], [posting(PAY, -11n, [REFUND])]);
    expect(refund.differences[0]).toMatchObject({
      issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISMATCHED,
      reference: REFUND,
    });
  });

  it('never matches a payment line with a refund posting of the same payment', () => {
    const r = matchStatement([line('PAYMENT', PAY, 100n)], [posting(PAY, -100n, [REFUND])]);
    expect(r.differences.map((d) => d.issue)).toEqual([
      ReconciliationIssue.RECONCILIATION_ISSUE_MISSING,
      ReconciliationIssue.RECONCILIATION_ISSUE_EXTRA,
    ]);
  });

  it('a duplicated statement line is extra', () => {
    const r = matchStatement([line('PAYMENT', PAY, 100n), line('PAYMENT', PAY, 100n)], [posting(PAY, 100n)]);
    // 100 + 100 is not one posting of 100, and the second line alone has no partner left
    expect(r.matchedOneToOne).toBe(1);
    expect(r.differences).toMatchObject([{ issue: ReconciliationIssue.RECONCILIATION_ISSUE_EXTRA }]);
  });

  it('handles every kind at once, and totals are net of refunds', () => {
    const P3 = '55555555-5555-4555-8555-555555555555';
    const r = matchStatement(
      [
        line('PAYMENT', PAY, 1_000n), // 1:1
        line('PAYMENT', PAY2, 900n), // 1:N (500 + 400)
        line('REFUND', PAY, 60n, 'ra'), // N:1 with the next (100)
        line('REFUND', PAY, 40n, 'rb'),
        line('PAYMENT', P3, 10n), // mismatched (ledger 12)
        line('PAYMENT', 'unknown-order', 5n), // extra
      ],
      [
        posting(PAY, 1_000n),
        posting(PAY2, 500n),
        posting(PAY2, 400n),
        posting(PAY, -100n),
        posting(P3, 12n),
        posting(REFUND, 77n), // missing
      ],
    );
    expect(r).toMatchObject({ matchedOneToOne: 1, matchedOneToMany: 1, matchedManyToOne: 1 });
    expect(r.differences.map((d) => [d.issue, d.reference]).sort()).toEqual(
      [
        [ReconciliationIssue.RECONCILIATION_ISSUE_MISSING, REFUND],
        [ReconciliationIssue.RECONCILIATION_ISSUE_EXTRA, 'unknown-order'],
        [ReconciliationIssue.RECONCILIATION_ISSUE_MISMATCHED, P3],
      ].sort(),
    );
    expect(r.statementTotal).toBe(1_000n + 900n - 100n + 10n + 5n);
    expect(r.ledgerTotal).toBe(1_000n + 900n - 100n + 12n + 77n);
  });
});
