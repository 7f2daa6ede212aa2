import { DomainError, requestId, requiredEnum, requiredString, requiredUuid } from '@citybase/platform';
import {
  MerchantStatus,
  merchantStatusToJSON,
  RegisterMerchantRequest,
  SetMerchantStatusRequest,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import { createdAtPages } from '../shared/rows.domain';
import { staffNotEligible } from './merchants.errors';

// Pure rules of the merchants feature: request validation into commands, the merchant state machine
// and who may act on a merchant. No I/O; every check here runs before anything is written.

export interface RegisterMerchantCommand {
  requestId: string;
  projectId: string;
  name: string;
  location: string;
  /** Null when the merchant does not trade from a unit of the project. */
  unitId: string | null;
  ownerName: string;
  /** Normalised, never logged nor put in events or fingerprints. */
  ownerIdNumber: string;
  /** Normalised, never logged nor put in events or fingerprints. */
  contactPhone: string;
  leaseRef: string;
  businessScope: string;
  photoRefs: string[];
  registeredByStaffId: string;
}

export interface SetMerchantStatusCommand {
  requestId: string;
  merchantId: string;
  status: MerchantStatus.MERCHANT_STATUS_ACTIVE | MerchantStatus.MERCHANT_STATUS_SUSPENDED;
  reason: string;
  changedByStaffId: string;
}

export const MAX_PHOTO_REFS = 20;

/**
 * Validates everything of a RegisterMerchant request that needs no database. `idNumber` and
 * `phone` are the shared PII validators (requiredIdNumber / requiredPhone), passed in so this module
 * stays free of the cipher.
 */
export function toRegisterMerchantCommand(
  req: RegisterMerchantRequest,
  pii: { idNumber: (field: string, v: string) => string; phone: (field: string, v: string) => string },
): RegisterMerchantCommand {
  return {
    requestId: requestId(req.requestId),
    projectId: requiredUuid('project_id', req.projectId),
    name: requiredString('name', req.name, { max: 200 }),
    location: requiredString('location', req.location, { max: 500 }),
    unitId: (req.unitId ?? '').trim() === '' ? null : requiredUuid('unit_id', req.unitId),
    ownerName: requiredString('owner_name', req.ownerName, { max: 100 }),
    ownerIdNumber: pii.idNumber('owner_id_number', req.ownerIdNumber),
    contactPhone: pii.phone('contact_phone', req.contactPhone),
    leaseRef: requiredString('lease_ref', req.leaseRef, { max: 200 }),
    businessScope: requiredString('business_scope', req.businessScope, { max: 1000 }),
    photoRefs: photoRefs(req.photoRefs),
    registeredByStaffId: requiredUuid('registered_by_staff_id', req.registeredByStaffId),
  };
}

export function toSetMerchantStatusCommand(req: SetMerchantStatusRequest): SetMerchantStatusCommand {
  const status = requiredEnum('status', req.status, MerchantStatus) as MerchantStatus;
  if (
    status !== MerchantStatus.MERCHANT_STATUS_ACTIVE &&
    status !== MerchantStatus.MERCHANT_STATUS_SUSPENDED
  ) {
    throw DomainError.invalid('status', 'must be MERCHANT_STATUS_ACTIVE or MERCHANT_STATUS_SUSPENDED');
  }
  return {
    requestId: requestId(req.requestId),
    merchantId: requiredUuid('merchant_id', req.merchantId),
    status,
    reason: requiredString('reason', req.reason, { max: 500 }),
    changedByStaffId: requiredUuid('changed_by_staff_id', req.changedByStaffId),
  };
}

function photoRefs(refs: string[] | undefined): string[] {
  const list = refs ?? [];
  if (list.length > MAX_PHOTO_REFS) {
    throw DomainError.invalid('photo_refs', `must hold at most ${MAX_PHOTO_REFS} references`);
  }
  return list.map((ref, i) => requiredString(`photo_refs[${i}]`, ref, { max: 500 }));
}

// ---- merchant state machine --------------------------------------------------------------------

const ALLOWED_TRANSITIONS: ReadonlyArray<readonly [MerchantStatus, MerchantStatus]> = [
  [MerchantStatus.MERCHANT_STATUS_PENDING, MerchantStatus.MERCHANT_STATUS_ACTIVE],
  [MerchantStatus.MERCHANT_STATUS_ACTIVE, MerchantStatus.MERCHANT_STATUS_SUSPENDED],
  [MerchantStatus.MERCHANT_STATUS_SUSPENDED, MerchantStatus.MERCHANT_STATUS_ACTIVE],
];

/** A status as the transition error names it: its proto name without the prefix, in lower case. */
function statusName(status: MerchantStatus): string {
  return merchantStatusToJSON(status)
    .replace(/^MERCHANT_STATUS_/, '')
    .toLowerCase();
}

/** Throws FAILED_PRECONDITION naming the transition unless `from` may move to `to`. */
export function assertMerchantTransition(from: MerchantStatus, to: MerchantStatus): void {
  if (ALLOWED_TRANSITIONS.some(([a, b]) => a === from && b === to)) return;
  throw new DomainError(
    'failed_precondition',
    'MERCHANT_STATUS_TRANSITION_INVALID',
    `status: a merchant cannot move from ${statusName(from)} to ${statusName(to)}`,
    { field: 'status', rule: 'allowed: pending > active, active > suspended, suspended > active' },
  );
}

/** Page tokens of ListMerchants (see createdAtPages). */
export const MERCHANT_PAGES = createdAtPages('merchants');

// ---- acting staff --------------------------------------------------------------------------------

/** Staff role 1: property staff of a project (migration 0001_tenancy). */
export const STAFF_ROLE_PROPERTY = 1;

/**
 * Throws FAILED_PRECONDITION naming `field` unless `staff` is an active property staff member of
 * the project. Missing staff, staff of another project and merchant staff get the same answer, so
 * the error tells nothing about other projects' people.
 */
export function assertPropertyStaffOf(
  staff: { project_id: string | null; role: number; active: boolean } | undefined,
  projectId: string,
  field: string,
): void {
  if (!staff || staff.project_id !== projectId || staff.role !== STAFF_ROLE_PROPERTY) {
    throw staffNotEligible(field, 'not_property_staff_of_project');
  }
  if (!staff.active) throw staffNotEligible(field, 'inactive');
}
