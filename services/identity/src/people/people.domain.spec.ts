import { DomainError, requestFingerprint } from '@citybase/platform';
import { RegisterStaffRequest, StaffRole } from '@citybase/contracts/citybase/identity/v1/people';
import {
  fingerprintOf,
  toBindHouseholdMemberCommand,
  toRegisterCourierCommand,
  toRegisterResidentCommand,
  toRegisterStaffCommand,
} from './people.domain';

const OP = '11111111-1111-4111-8111-111111111111';
const PROJ = '22222222-2222-4222-8222-222222222222';
const MER = '33333333-3333-4333-8333-333333333333';

function invalid(fn: () => unknown): { field?: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    const e = err as DomainError;
    expect(e.kind).toBe('invalid_argument');
    return { field: e.detail.field, message: e.message };
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('toRegisterResidentCommand', () => {
  const ok = {
    requestId: 'r-1',
    projectId: PROJ.toUpperCase(),
    name: '  Li Lei ',
    phone: '+86 138-1234-5678',
    idNumber: '11010519491231002x',
  };

  it('normalises ids, name, phone and ID number', () => {
    expect(toRegisterResidentCommand(ok)).toEqual({
      requestId: 'r-1',
      projectId: PROJ,
      name: 'Li Lei',
      phone: '13812345678',
      idNumber: '11010519491231002X',
    });
  });

  it.each([
    ['request_id', { requestId: '' }],
    ['project_id', { projectId: 'not-a-uuid' }],
    ['name', { name: '' }],
    ['name', { name: 'x'.repeat(101) }],
    ['phone', { phone: '12345' }],
    ['id_number', { idNumber: '110105194912310021' }],
  ])('refuses a bad %s', (field, over) => {
    expect(invalid(() => toRegisterResidentCommand({ ...ok, ...over })).field).toBe(field);
  });
});

describe('toRegisterStaffCommand', () => {
  const base: RegisterStaffRequest = {
    requestId: 'r-1',
    tenancy: { operatorId: OP, projectId: '', merchantId: '' },
    role: StaffRole.STAFF_ROLE_OPERATOR_ADMIN,
    name: 'Wang',
    phone: '13912345678',
  };
  const staff = (tenancy: Partial<NonNullable<RegisterStaffRequest['tenancy']>>, role: StaffRole) => ({
    ...base,
    role,
    tenancy: { operatorId: OP, projectId: '', merchantId: '', ...tenancy },
  });

  it('places each role at its level of the tenancy tree', () => {
    expect(toRegisterStaffCommand(base)).toMatchObject({
      role: StaffRole.STAFF_ROLE_OPERATOR_ADMIN,
      operatorId: OP,
    });
    expect(toRegisterStaffCommand(base)).not.toHaveProperty('projectId');
    expect(
      toRegisterStaffCommand(staff({ projectId: PROJ }, StaffRole.STAFF_ROLE_PROPERTY_STAFF)),
    ).toMatchObject({
      operatorId: OP,
      projectId: PROJ,
    });
    expect(
      toRegisterStaffCommand(
        staff({ projectId: PROJ, merchantId: MER }, StaffRole.STAFF_ROLE_MERCHANT_STAFF),
      ),
    ).toMatchObject({ operatorId: OP, projectId: PROJ, merchantId: MER });
  });

  it.each([
    ['tenancy.operator_id', { ...base, tenancy: undefined }],
    ['role', { ...base, role: StaffRole.STAFF_ROLE_UNSPECIFIED }],
    ['role', { ...base, role: 7 as StaffRole }],
    ['tenancy.project_id', staff({ projectId: PROJ }, StaffRole.STAFF_ROLE_OPERATOR_ADMIN)],
    ['tenancy.merchant_id', staff({ merchantId: MER }, StaffRole.STAFF_ROLE_OPERATOR_ADMIN)],
    ['tenancy.project_id', staff({}, StaffRole.STAFF_ROLE_PROPERTY_STAFF)],
    ['tenancy.merchant_id', staff({ projectId: PROJ, merchantId: MER }, StaffRole.STAFF_ROLE_PROPERTY_STAFF)],
    ['tenancy.merchant_id', staff({ projectId: PROJ }, StaffRole.STAFF_ROLE_MERCHANT_STAFF)],
    ['tenancy.project_id', staff({ merchantId: MER }, StaffRole.STAFF_ROLE_MERCHANT_STAFF)],
  ])('refuses a wrong %s', (field, req) => {
    expect(invalid(() => toRegisterStaffCommand(req)).field).toBe(field);
  });
});

describe('toBindHouseholdMemberCommand and toRegisterCourierCommand', () => {
  it('allows an empty relation but not one over 50 characters', () => {
    const req = { requestId: 'r', householdId: PROJ, phone: '13812345678', relation: '' };
    expect(toBindHouseholdMemberCommand(req).relation).toBe('');
    expect(invalid(() => toBindHouseholdMemberCommand({ ...req, relation: 'x'.repeat(51) })).field).toBe(
      'relation',
    );
  });

  it('limits photo_ref and employer', () => {
    const req = {
      requestId: 'r',
      projectId: PROJ,
      name: 'Zhao',
      phone: '13812345678',
      idNumber: '110101199003074514',
      photoRef: 'p/1.jpg',
      employer: 'SF',
    };
    expect(toRegisterCourierCommand(req).photoRef).toBe('p/1.jpg');
    expect(invalid(() => toRegisterCourierCommand({ ...req, photoRef: 'x'.repeat(501) })).field).toBe(
      'photo_ref',
    );
    expect(invalid(() => toRegisterCourierCommand({ ...req, employer: '' })).field).toBe('employer');
  });
});

describe('fingerprintOf', () => {
  it('replaces personal values by their keyed hash and drops the request id', () => {
    const cmd = { requestId: 'k', projectId: PROJ, phone: '13812345678' };
    const fp = fingerprintOf(cmd, { phone: Buffer.from('abcd', 'hex') });
    expect(fp).toEqual({ projectId: PROJ, phone: 'hmac:abcd' });
    expect(JSON.stringify(fp)).not.toContain('13812345678');
    // A different phone (hash) is a different request.
    expect(requestFingerprint(fp)).not.toBe(
      requestFingerprint(fingerprintOf(cmd, { phone: Buffer.from('abce', 'hex') })),
    );
  });
});
