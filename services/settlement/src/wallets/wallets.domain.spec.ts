import { maskBankAccount, toPayPropertyFeeCommand, toWithdrawCommand } from './wallets.domain';
import { domainErrorOf } from '../../test/spec-helpers';

describe('maskBankAccount', () => {
  it('keeps the last four characters only', () => {
    expect(maskBankAccount('6222021234567890123')).toBe('****0123');
    expect(maskBankAccount('6222 0212 3456 7890')).toBe('****7890');
    expect(maskBankAccount('1234')).toBe('****1234');
    expect(maskBankAccount('')).toBe('');
  });
});

describe('toWithdrawCommand', () => {
  const ok = {
    requestId: 'w-1',
    operatorId: 'op-1',
    ownerRef: 'resident-1',
    amount: { currency: 'CNY', amountMinor: 100n },
    bankAccount: '6222021234567890123',
  };

  it('validates and keeps the account (only for masking and the fingerprint)', () => {
    expect(toWithdrawCommand(ok)).toEqual({
      requestId: 'w-1',
      operatorId: 'op-1',
      ownerRef: 'resident-1',
      currency: 'CNY',
      amountMinor: 100n,
      bankAccount: '6222021234567890123',
    });
  });

  it.each([
    ['request_id', { requestId: '' }],
    ['operator_id', { operatorId: '' }],
    ['owner_ref', { ownerRef: 'a b' }],
    ['amount', { amount: undefined }],
    ['amount.amount_minor', { amount: { currency: 'CNY', amountMinor: 0n } }],
    ['amount.currency', { amount: { currency: 'cny', amountMinor: 1n } }],
    ['bank_account', { bankAccount: '123' }],
    ['bank_account', { bankAccount: 'x'.repeat(65) }],
    ['bank_account', { bankAccount: '1234;5678' }],
  ])('names %s', (field, over) => {
    const err = domainErrorOf(() => toWithdrawCommand({ ...ok, ...over }));
    expect(err.kind).toBe('invalid_argument');
    expect(err.detail.field).toBe(field);
  });

  it('never repeats the bank account in an error', () => {
    const err = domainErrorOf(() => toWithdrawCommand({ ...ok, bankAccount: '6222;021234567890' }));
    expect(err.message).not.toContain('6222');
  });
});

describe('toPayPropertyFeeCommand', () => {
  it('PayPropertyFeeFromWallet names bill_ref', () => {
    const ok = {
      requestId: 'f',
      operatorId: 'op',
      projectId: 'p',
      ownerRef: 'r',
      amount: { currency: 'CNY', amountMinor: 5n },
      billRef: 'bill-1',
    };
    expect(toPayPropertyFeeCommand(ok).billRef).toBe('bill-1');
    expect(domainErrorOf(() => toPayPropertyFeeCommand({ ...ok, billRef: '' })).detail.field).toBe(
      'bill_ref',
    );
    expect(
      domainErrorOf(() => toPayPropertyFeeCommand({ ...ok, billRef: 'b'.repeat(65) })).detail.field,
    ).toBe('bill_ref');
  });
});
