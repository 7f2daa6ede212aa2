import {
  CitybaseClaims,
  DomainError,
  keyPart,
  type Page as PageOf,
  pageCursor,
  MutationTarget,
  PoolClient,
  requestId,
  requiredEnum,
  requiredString,
  requiredUuid,
  TenancyRef,
  tenancyFilter,
} from '@citybase/platform';
import {
  AgencyKind,
  CreateAgencyRequest,
  CreateBuildingRequest,
  CreateOperatorRequest,
  CreateProjectRequest,
  CreateUnitRequest,
  MerchantStatus,
  ProjectKind,
  RegisterMerchantRequest,
  SetMerchantStatusRequest,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import { staffNotEligible } from './tenancy.errors';

// Pure rules of the tenancy feature: request validation into commands, paging, visibility and the
// merchant state machine. No I/O; every check here runs before anything is written.

export interface CreateOperatorCommand {
  requestId: string;
  name: string;
}

export interface CreateProjectCommand {
  requestId: string;
  operatorId: string;
  name: string;
  kind: ProjectKind;
}

export interface CreateBuildingCommand {
  requestId: string;
  projectId: string;
  name: string;
}

export interface CreateUnitCommand {
  requestId: string;
  buildingId: string;
  name: string;
  floor: number;
}

export interface CreateAgencyCommand {
  requestId: string;
  name: string;
  kind: AgencyKind;
}

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

export const FLOOR_MIN = -10;
export const FLOOR_MAX = 300;
export const MAX_PHOTO_REFS = 20;

export function toCreateOperatorCommand(req: CreateOperatorRequest): CreateOperatorCommand {
  return {
    requestId: requestId(req.requestId),
    name: requiredString('name', req.name, { max: 200 }),
  };
}

export function toCreateProjectCommand(req: CreateProjectRequest): CreateProjectCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredUuid('operator_id', req.operatorId),
    name: requiredString('name', req.name, { max: 200 }),
    kind: requiredEnum('kind', req.kind, ProjectKind) as ProjectKind,
  };
}

export function toCreateBuildingCommand(req: CreateBuildingRequest): CreateBuildingCommand {
  return {
    requestId: requestId(req.requestId),
    projectId: requiredUuid('project_id', req.projectId),
    name: requiredString('name', req.name, { max: 100 }),
  };
}

export function toCreateUnitCommand(req: CreateUnitRequest): CreateUnitCommand {
  return {
    requestId: requestId(req.requestId),
    buildingId: requiredUuid('building_id', req.buildingId),
    name: requiredString('name', req.name, { max: 100 }),
    floor: floor(req.floor),
  };
}

export function toCreateAgencyCommand(req: CreateAgencyRequest): CreateAgencyCommand {
  return {
    requestId: requestId(req.requestId),
    name: requiredString('name', req.name, { max: 200 }),
    kind: requiredEnum('kind', req.kind, AgencyKind) as AgencyKind,
  };
}

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

function floor(value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < FLOOR_MIN || v > FLOOR_MAX) {
    throw DomainError.invalid('floor', `must be an integer from ${FLOOR_MIN} to ${FLOOR_MAX}`);
  }
  return v;
}

function photoRefs(refs: string[] | undefined): string[] {
  const list = refs ?? [];
  if (list.length > MAX_PHOTO_REFS) {
    throw DomainError.invalid('photo_refs', `must hold at most ${MAX_PHOTO_REFS} references`);
  }
  return list.map((ref, i) => requiredString(`photo_refs[${i}]`, ref, { max: 500 }));
}

// ---- merchant state machine --------------------------------------------------------------------

const STATUS_NAMES: Record<MerchantStatus, string> = {
  [MerchantStatus.MERCHANT_STATUS_UNSPECIFIED]: 'unspecified',
  [MerchantStatus.MERCHANT_STATUS_PENDING]: 'pending',
  [MerchantStatus.MERCHANT_STATUS_ACTIVE]: 'active',
  [MerchantStatus.MERCHANT_STATUS_SUSPENDED]: 'suspended',
  [MerchantStatus.UNRECOGNIZED]: 'unrecognized',
};

const ALLOWED_TRANSITIONS: ReadonlyArray<readonly [MerchantStatus, MerchantStatus]> = [
  [MerchantStatus.MERCHANT_STATUS_PENDING, MerchantStatus.MERCHANT_STATUS_ACTIVE],
  [MerchantStatus.MERCHANT_STATUS_ACTIVE, MerchantStatus.MERCHANT_STATUS_SUSPENDED],
  [MerchantStatus.MERCHANT_STATUS_SUSPENDED, MerchantStatus.MERCHANT_STATUS_ACTIVE],
];

export function merchantStatusName(status: MerchantStatus): string {
  return STATUS_NAMES[status] ?? `status ${String(status)}`;
}

/** Throws FAILED_PRECONDITION naming the transition unless `from` may move to `to`. */
export function assertMerchantTransition(from: MerchantStatus, to: MerchantStatus): void {
  if (ALLOWED_TRANSITIONS.some(([a, b]) => a === from && b === to)) return;
  throw new DomainError(
    'failed_precondition',
    'MERCHANT_STATUS_TRANSITION_INVALID',
    `status: a merchant cannot move from ${merchantStatusName(from)} to ${merchantStatusName(to)}`,
    { field: 'status', rule: 'allowed: pending > active, active > suspended, suspended > active' },
  );
}

// ---- paging ----------------------------------------------------------------------------------------

/**
 * Page tokens of the tenancy lists (codec in @citybase/platform paging): each list is sorted by
 * (created_at, id), and its cursor is the last row's created_at (microseconds, UTC, as the store's
 * `cursor_at`) and id. One codec per list, so a token of one list is refused by another.
 */
const tenancyList = (list: string) => pageCursor(`identity.${list}`, keyPart.timestamp, keyPart.uuid);
export const TENANCY_PAGES = {
  operators: tenancyList('operators'),
  projects: tenancyList('projects'),
  buildings: tenancyList('buildings'),
  merchants: tenancyList('merchants'),
  agencies: tenancyList('agencies'),
};

/** Size and position of a page: `after` is [created_at, id] of the previous page's last row. */
export type Page = PageOf<[createdAt: string, id: string]>;

export interface Paged<T> {
  items: T[];
  nextPageToken: string;
}

// ---- visibility ----------------------------------------------------------------------------------

/**
 * What a list query may return, from the caller's claims (tenancyFilter). Only UUID-shaped ids are
 * kept: ids in the database are lower-case UUIDs, so any other string could never match, and
 * passing it to a uuid[] parameter would fail the query.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type Visibility = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

export function visibilityOf(claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>): Visibility {
  const filter = tenancyFilter(claims);
  if (filter.all) return { all: true };
  return {
    all: false,
    operatorIds: filter.operatorIds.filter((id) => UUID.test(id)),
    projectIds: filter.projectIds.filter((id) => UUID.test(id)),
  };
}

/** Throws PERMISSION_DENIED unless the caller is an unrestricted city administrator. */
export function assertCityAdmin(claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>, action: string): void {
  if (!tenancyFilter(claims).all) {
    throw new DomainError(
      'permission_denied',
      'CITY_ADMIN_REQUIRED',
      `only an unrestricted city administrator may ${action}`,
      { rule: 'requires scope city:admin and no tenancy restriction' },
    );
  }
}

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

/**
 * The row a just-created or replayed resource id points at. Its absence is a bug (the id came from
 * this transaction or from a committed idempotency key), never a caller's mistake.
 */
export function stored<R>(row: R | undefined): R {
  if (row === undefined) throw new Error('tenancy: resource of an idempotency key is missing');
  return row;
}

/**
 * The stored row a write acts on or goes under, as the use-case pipeline's target (loaded in the
 * mutation's transaction, before its request key): missing, it is `missing()` (NOT_FOUND naming the
 * field); outside the caller's tenancy, PERMISSION_DENIED (TENANCY_FORBIDDEN), as writes of this
 * service answer (reads answer NOT_FOUND). `load` does the lookup and nothing else.
 */
export function writeTarget<T>(
  load: (client: PoolClient) => Promise<T | undefined>,
  tenancy: (row: T) => TenancyRef,
  missing: () => DomainError,
): MutationTarget<T> {
  return { load, tenancy, notFound: missing, outsideTenancy: 'forbidden' };
}
