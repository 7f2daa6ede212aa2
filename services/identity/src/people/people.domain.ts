import {
  DomainError,
  optionalString,
  requestId,
  requiredEnum,
  requiredString,
  requiredUuid,
} from '@citybase/platform';
import {
  BindHouseholdMemberRequest,
  CreateHouseholdRequest,
  FindResidentByPhoneRequest,
  RegisterCourierRequest,
  RegisterResidentRequest,
  RegisterStaffRequest,
  StaffRole,
  VerifyResidentRequest,
} from '@citybase/contracts/citybase/identity/v1/people';
import { requiredIdNumber, requiredPhone } from '../shared/pii';

/** Scope that shows phone and ID numbers in full; everyone else gets the masked values. */
export const PII_READ_SCOPE = 'identity:pii.read';

/** AAD contexts of the sealed values: a ciphertext only decrypts in the column it was written for. */
export const PiiContext = {
  residentPhone: 'resident.phone',
  residentIdNumber: 'resident.id_number',
  staffPhone: 'staff.phone',
  courierPhone: 'courier.phone',
  courierIdNumber: 'courier.id_number',
} as const;

/*
 * Commands: requests after validation and normalisation, before any I/O. Personal values are kept
 * normalised (phone digits, upper-case ID number) so they can be sealed; the idempotency
 * fingerprint is computed over `fingerprintOf` below, never over the clear values.
 */

/** A person registered in a project with name, phone and ID number: a resident, or a courier. */
export interface PersonInProject {
  requestId: string;
  projectId: string;
  name: string;
  phone: string;
  idNumber: string;
}

function toPersonInProject(req: RegisterResidentRequest | RegisterCourierRequest): PersonInProject {
  return {
    requestId: requestId(req.requestId),
    projectId: requiredUuid('project_id', req.projectId),
    name: requiredString('name', req.name, { max: 100 }),
    phone: requiredPhone('phone', req.phone),
    idNumber: requiredIdNumber('id_number', req.idNumber),
  };
}

export type RegisterResidentCommand = PersonInProject;

export function toRegisterResidentCommand(req: RegisterResidentRequest): RegisterResidentCommand {
  return toPersonInProject(req);
}

export interface VerifyResidentCommand {
  requestId: string;
  residentId: string;
  verifiedByStaffId: string;
}

export function toVerifyResidentCommand(req: VerifyResidentRequest): VerifyResidentCommand {
  return {
    requestId: requestId(req.requestId),
    residentId: requiredUuid('resident_id', req.residentId),
    verifiedByStaffId: requiredUuid('verified_by_staff_id', req.verifiedByStaffId),
  };
}

export interface FindResidentByPhoneQuery {
  projectId: string;
  phone: string;
}

export function toFindResidentByPhoneQuery(req: FindResidentByPhoneRequest): FindResidentByPhoneQuery {
  return {
    projectId: requiredUuid('project_id', req.projectId),
    phone: requiredPhone('phone', req.phone),
  };
}

export interface CreateHouseholdCommand {
  requestId: string;
  unitId: string;
  headResidentId: string;
}

export function toCreateHouseholdCommand(req: CreateHouseholdRequest): CreateHouseholdCommand {
  return {
    requestId: requestId(req.requestId),
    unitId: requiredUuid('unit_id', req.unitId),
    headResidentId: requiredUuid('head_resident_id', req.headResidentId),
  };
}

export interface BindHouseholdMemberCommand {
  requestId: string;
  householdId: string;
  phone: string;
  relation: string;
}

export function toBindHouseholdMemberCommand(req: BindHouseholdMemberRequest): BindHouseholdMemberCommand {
  return {
    requestId: requestId(req.requestId),
    householdId: requiredUuid('household_id', req.householdId),
    phone: requiredPhone('phone', req.phone),
    relation: optionalString('relation', req.relation, { max: 50 }),
  };
}

export type StaffPlacement =
  | { role: StaffRole.STAFF_ROLE_OPERATOR_ADMIN; operatorId: string }
  | { role: StaffRole.STAFF_ROLE_PROPERTY_STAFF; operatorId: string; projectId: string }
  | { role: StaffRole.STAFF_ROLE_MERCHANT_STAFF; operatorId: string; projectId: string; merchantId: string };

export type RegisterStaffCommand = StaffPlacement & {
  requestId: string;
  name: string;
  phone: string;
};

/**
 * The role decides which tenancy ids a staff member has: operator admins belong to the operator
 * only, property staff to one of its projects, merchant staff to one merchant of that project.
 * Any other combination is refused naming the offending field.
 */
export function toRegisterStaffCommand(req: RegisterStaffRequest): RegisterStaffCommand {
  const rid = requestId(req.requestId);
  const operatorId = requiredUuid('tenancy.operator_id', req.tenancy?.operatorId);
  const role = requiredEnum('role', req.role, StaffRole);
  const projectRaw = req.tenancy?.projectId ?? '';
  const merchantRaw = req.tenancy?.merchantId ?? '';
  const base = {
    requestId: rid,
    name: requiredString('name', req.name, { max: 100 }),
    phone: requiredPhone('phone', req.phone),
  };
  switch (role) {
    case StaffRole.STAFF_ROLE_OPERATOR_ADMIN:
      mustBeEmpty('tenancy.project_id', projectRaw, 'must be empty for an operator admin');
      mustBeEmpty('tenancy.merchant_id', merchantRaw, 'must be empty for an operator admin');
      return { ...base, role, operatorId };
    case StaffRole.STAFF_ROLE_PROPERTY_STAFF: {
      const projectId = requiredUuid('tenancy.project_id', projectRaw);
      mustBeEmpty('tenancy.merchant_id', merchantRaw, 'must be empty for property staff');
      return { ...base, role, operatorId, projectId };
    }
    case StaffRole.STAFF_ROLE_MERCHANT_STAFF:
      return {
        ...base,
        role,
        operatorId,
        projectId: requiredUuid('tenancy.project_id', projectRaw),
        merchantId: requiredUuid('tenancy.merchant_id', merchantRaw),
      };
    case StaffRole.STAFF_ROLE_UNSPECIFIED:
    case StaffRole.UNRECOGNIZED:
      // requiredEnum has refused these already; listed so a new role cannot slip through.
      throw DomainError.invalid('role', `unknown value ${String(role)}`);
  }
}

function mustBeEmpty(field: string, value: string, rule: string): void {
  if (value.trim() !== '') throw DomainError.invalid(field, rule);
}

export interface RegisterCourierCommand extends PersonInProject {
  photoRef: string;
  employer: string;
}

export function toRegisterCourierCommand(req: RegisterCourierRequest): RegisterCourierCommand {
  return {
    ...toPersonInProject(req),
    photoRef: requiredString('photo_ref', req.photoRef, { max: 500 }),
    employer: requiredString('employer', req.employer, { max: 200 }),
  };
}

/**
 * What the idempotency fingerprint is computed over: the command with each personal value replaced
 * by its keyed lookup hash. A plain SHA-256 of a request holding an 11-digit phone could be
 * brute-forced from the idempotency table; the keyed hash cannot without the master key.
 */
export function fingerprintOf<C extends { requestId: string }>(
  command: C,
  hashes: Partial<Record<keyof C, Buffer>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(command)) {
    if (k === 'requestId') continue;
    const hash = hashes[k as keyof C];
    out[k] = hash ? `hmac:${hash.toString('hex')}` : v;
  }
  return out;
}
