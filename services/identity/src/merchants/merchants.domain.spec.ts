import { domainErrorOf, expectInvalid } from '@citybase/platform/testing';
import { MerchantStatus, RegisterMerchantRequest } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { requiredIdNumber, requiredPhone } from '../shared/pii';
import {
  assertMerchantTransition,
  assertPropertyStaffOf,
  toRegisterMerchantCommand,
  toSetMerchantStatusCommand,
} from './merchants.domain';

const A = '0b6f1e0c-0000-4000-8000-00000000000a';
const B = '0b6f1e0c-0000-4000-8000-00000000000b';
const ID_NUMBER = '11010519491231002X';
const PHONE = '13812345678';

const pii = { idNumber: requiredIdNumber, phone: requiredPhone };

function merchantRequest(over: Partial<RegisterMerchantRequest> = {}): RegisterMerchantRequest {
  return {
    requestId: 'req-1',
    projectId: A,
    name: 'Noodle House',
    location: 'Building 3, ground floor',
    unitId: '',
    ownerName: 'Li Wei',
    ownerIdNumber: ID_NUMBER,
    contactPhone: PHONE,
    leaseRef: 'LEASE-2026-001',
    businessScope: 'food and drink',
    photoRefs: ['photos/a.jpg'],
    registeredByStaffId: B,
    ...over,
  };
}

describe('RegisterMerchant command', () => {
  it('normalises phone and ID number and keeps the optional unit empty as null', () => {
    const cmd = toRegisterMerchantCommand(
      merchantRequest({ contactPhone: '+86 138-1234-5678', ownerIdNumber: ID_NUMBER.toLowerCase() }),
      pii,
    );
    expect(cmd).toMatchObject({ contactPhone: PHONE, ownerIdNumber: ID_NUMBER, unitId: null });
    expect(toRegisterMerchantCommand(merchantRequest({ unitId: A }), pii).unitId).toBe(A);
  });

  it.each<[string, Partial<RegisterMerchantRequest>, string]>([
    ['empty name', { name: '' }, 'name'],
    ['location of 501', { location: 'l'.repeat(501) }, 'location'],
    ['malformed unit_id', { unitId: 'unit-1' }, 'unit_id'],
    ['owner_name of 101', { ownerName: 'o'.repeat(101) }, 'owner_name'],
    ['wrong ID check digit', { ownerIdNumber: '110101199003074515' }, 'owner_id_number'],
    ['short ID number', { ownerIdNumber: '1101011990' }, 'owner_id_number'],
    ['landline phone', { contactPhone: '01012345678' }, 'contact_phone'],
    ['empty lease_ref', { leaseRef: '' }, 'lease_ref'],
    ['business_scope of 1001', { businessScope: 's'.repeat(1001) }, 'business_scope'],
    ['21 photo refs', { photoRefs: Array.from({ length: 21 }, (_, i) => `p${i}`) }, 'photo_refs'],
    ['an empty photo ref', { photoRefs: ['ok', ''] }, 'photo_refs[1]'],
    ['a photo ref of 501', { photoRefs: ['p'.repeat(501)] }, 'photo_refs[0]'],
    ['malformed staff id', { registeredByStaffId: 'staff' }, 'registered_by_staff_id'],
  ])('refuses %s naming the field', (_name, over, field) =>
    expectInvalid(() => toRegisterMerchantCommand(merchantRequest(over), pii), field),
  );

  it('never echoes the personal values in its errors', () => {
    const err = domainErrorOf(() =>
      toRegisterMerchantCommand(merchantRequest({ ownerIdNumber: '110101199003074515' }), pii),
    );
    expect(err.message).not.toContain('110101199003074515');
  });
});

describe('SetMerchantStatus command', () => {
  const base = { requestId: 'r', merchantId: A, reason: 'lease signed', changedByStaffId: B };

  it('accepts ACTIVE and SUSPENDED', () => {
    expect(
      toSetMerchantStatusCommand({ ...base, status: MerchantStatus.MERCHANT_STATUS_ACTIVE }).status,
    ).toBe(MerchantStatus.MERCHANT_STATUS_ACTIVE);
    expect(
      toSetMerchantStatusCommand({ ...base, status: MerchantStatus.MERCHANT_STATUS_SUSPENDED }).status,
    ).toBe(MerchantStatus.MERCHANT_STATUS_SUSPENDED);
  });

  it.each([
    [MerchantStatus.MERCHANT_STATUS_UNSPECIFIED, /required/],
    [MerchantStatus.MERCHANT_STATUS_PENDING, /ACTIVE or/],
    [7 as MerchantStatus, /unknown value 7/],
  ])('refuses status %s', (status, rule) =>
    expectInvalid(() => toSetMerchantStatusCommand({ ...base, status }), 'status', rule),
  );

  it('refuses an empty or too long reason', () => {
    expectInvalid(() => toSetMerchantStatusCommand({ ...base, status: 2, reason: '' }), 'reason');
    expectInvalid(
      () => toSetMerchantStatusCommand({ ...base, status: 2, reason: 'r'.repeat(501) }),
      'reason',
    );
  });
});

describe('merchant status transitions', () => {
  const {
    MERCHANT_STATUS_PENDING: P,
    MERCHANT_STATUS_ACTIVE: ACT,
    MERCHANT_STATUS_SUSPENDED: S,
  } = MerchantStatus;

  it.each([
    [P, ACT],
    [ACT, S],
    [S, ACT],
  ])('allows %s > %s', (from, to) => expect(() => assertMerchantTransition(from, to)).not.toThrow());

  it.each([
    [P, S, 'pending to suspended'],
    [ACT, ACT, 'active to active'],
    [S, S, 'suspended to suspended'],
    [ACT, P, 'active to pending'],
  ])('refuses %s > %s naming the transition', (from, to, words) => {
    const err = domainErrorOf(() => assertMerchantTransition(from, to));
    expect(err.kind).toBe('failed_precondition');
    expect(err.code).toBe('MERCHANT_STATUS_TRANSITION_INVALID');
    expect(err.message).toContain(words);
  });
});

describe('acting staff', () => {
  const staff = { project_id: A, role: 1, active: true };

  it('accepts active property staff of the project', () => {
    expect(() => assertPropertyStaffOf(staff, A, 'registered_by_staff_id')).not.toThrow();
  });

  it.each([
    ['missing', undefined],
    ['of another project', { ...staff, project_id: B }],
    ['merchant staff', { ...staff, role: 2 }],
    ['operator admin', { ...staff, project_id: null, role: 3 }],
    ['inactive', { ...staff, active: false }],
  ])('refuses staff that is %s with FAILED_PRECONDITION naming the field', (_name, row) => {
    const err = domainErrorOf(() => assertPropertyStaffOf(row, A, 'changed_by_staff_id'));
    expect(err.kind).toBe('failed_precondition');
    expect(err.detail.field).toBe('changed_by_staff_id');
    expect(err.message).toMatch(/^changed_by_staff_id: /);
    expect(err.message).not.toContain(B);
  });
});
