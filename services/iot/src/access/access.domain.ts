import { createHash, randomInt } from 'crypto';
import {
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';

/**
 * Pure rules of doors and couriers (docs/iot.md "Doors and couriers").
 *
 * A door controller guards one building entrance or one unit door. A resident may open it when
 * they, or a member of their household, hold an ACTIVE door-access grant for exactly that building
 * or unit, not past its valid_until (identity's grants, projected from its events). Couriers
 * registered in identity enter with a one-time code a resident or merchant issued for one home:
 * the code opens the home's building entrance once for entry and once for exit, until it expires.
 */

export interface DoorScope {
  buildingId: string | null;
  unitId: string | null;
}

export interface GrantView extends DoorScope {
  grantId: string;
  residentId: string;
  status: 'ACTIVE' | 'REVOKED' | 'EXPIRED';
  validUntil: Date | null;
}

/** The grant that lets one of `residentIds` (the resident and their household) open `door` now. */
export function grantOpening(
  door: DoorScope,
  residentIds: ReadonlySet<string>,
  grants: readonly GrantView[],
  now: Date,
): GrantView | undefined {
  return grants.find(
    (g) =>
      residentIds.has(g.residentId) &&
      g.status === 'ACTIVE' &&
      (g.validUntil === null || g.validUntil.getTime() > now.getTime()) &&
      ((door.unitId !== null && g.unitId === door.unitId) ||
        (door.buildingId !== null && g.buildingId === door.buildingId)),
  );
}

export const COURIER_CODE = { digits: 6, maxTtlMs: 24 * 3_600_000, defaultTtlMs: 2 * 3_600_000 } as const;

export function newCourierCode(): string {
  return String(randomInt(0, 10 ** COURIER_CODE.digits)).padStart(COURIER_CODE.digits, '0');
}

/** Codes are stored hashed, scoped by project: a leaked table gives no working codes. */
export function courierCodeHash(projectId: string, code: string): string {
  return createHash('sha256').update(`${projectId}:${code}`).digest('hex');
}

export function courierCodeExpiry(ttlSeconds: number, now: Date): Date {
  const ms = ttlSeconds === 0 ? COURIER_CODE.defaultTtlMs : ttlSeconds * 1000;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ms > COURIER_CODE.maxTtlMs)
    throw DomainError.invalid('ttl_seconds', `must be from 0 to ${COURIER_CODE.maxTtlMs / 1000}`);
  return new Date(now.getTime() + ms);
}

export type CourierCodeState = 'ISSUED' | 'ENTERED' | 'EXITED' | 'REVOKED';

export type CodeUse = 'ENTRY' | 'EXIT';

export type CodeDecision =
  | { kind: 'ALLOW'; use: CodeUse; next: CourierCodeState }
  | {
      kind: 'REFUSE';
      code: 'CODE_EXPIRED' | 'CODE_USED' | 'CODE_REVOKED' | 'CODE_WRONG_GATE';
      message: string;
    };

/**
 * A code at a gate: entry once (ISSUED > ENTERED, before expiry), then exit once (ENTERED >
 * EXITED, allowed after expiry so nobody is locked in).
 */
export function decideCodeUse(
  state: CourierCodeState,
  expiresAt: Date,
  codeBuildingId: string,
  door: DoorScope,
  now: Date,
): CodeDecision {
  if (door.buildingId !== codeBuildingId)
    return { kind: 'REFUSE', code: 'CODE_WRONG_GATE', message: 'the code is for another building' };
  switch (state) {
    case 'REVOKED':
      return { kind: 'REFUSE', code: 'CODE_REVOKED', message: 'the code was revoked' };
    case 'EXITED':
      return { kind: 'REFUSE', code: 'CODE_USED', message: 'the code was already used to enter and leave' };
    case 'ENTERED':
      return { kind: 'ALLOW', use: 'EXIT', next: 'EXITED' };
    case 'ISSUED':
      if (now.getTime() >= expiresAt.getTime())
        return { kind: 'REFUSE', code: 'CODE_EXPIRED', message: 'the code expired' };
      return { kind: 'ALLOW', use: 'ENTRY', next: 'ENTERED' };
  }
}

// ---- requests ----

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

const tenancy = (t: TenancyInput | undefined) => ({
  operatorId: requiredString('tenancy.operator_id', t?.operatorId, TENANT_ID),
  projectId: requiredString('tenancy.project_id', t?.projectId, TENANT_ID),
});

export interface BindDoorInput extends DoorScope {
  requestId: string;
  operatorId: string;
  projectId: string;
  deviceId: string;
}

export function toBindDoor(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  deviceId?: string;
  buildingId?: string;
  unitId?: string;
}): BindDoorInput {
  const buildingId = optionalString('building_id', req.buildingId, TENANT_ID);
  const unitId = optionalString('unit_id', req.unitId, TENANT_ID);
  if ((buildingId === '') === (unitId === ''))
    throw DomainError.invalid('building_id', 'exactly one of building_id and unit_id must be set');
  return {
    requestId: requestId(req.requestId),
    ...tenancy(req.tenancy),
    deviceId: requiredUuid('device_id', req.deviceId),
    buildingId: buildingId || null,
    unitId: unitId || null,
  };
}

export interface OpenDoorInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  deviceId: string;
  residentId: string;
}

export function toOpenDoor(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  deviceId?: string;
  residentId?: string;
}): OpenDoorInput {
  return {
    requestId: requestId(req.requestId),
    ...tenancy(req.tenancy),
    deviceId: requiredUuid('device_id', req.deviceId),
    residentId: requiredString('resident_id', req.residentId, TENANT_ID),
  };
}

export interface IssueCodeInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  courierId: string;
  unitId: string;
  residentId: string;
  ttlSeconds: number;
}

export function toIssueCode(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  courierId?: string;
  unitId?: string;
  residentId?: string;
  ttlSeconds?: number;
}): IssueCodeInput {
  const merchantId = optionalString('tenancy.merchant_id', req.tenancy?.merchantId, TENANT_ID);
  const residentId = optionalString('resident_id', req.residentId, TENANT_ID);
  if ((merchantId === '') === (residentId === ''))
    throw DomainError.invalid(
      'resident_id',
      'a code is issued by a resident (resident_id) or a merchant (tenancy.merchant_id), not both',
    );
  return {
    requestId: requestId(req.requestId),
    ...tenancy(req.tenancy),
    merchantId,
    courierId: requiredString('courier_id', req.courierId, TENANT_ID),
    unitId: requiredString('unit_id', req.unitId, TENANT_ID),
    residentId,
    ttlSeconds: req.ttlSeconds ?? 0,
  };
}

export interface UseCodeInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  deviceId: string;
  code: string;
}

export function toUseCode(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  deviceId?: string;
  code?: string;
}): UseCodeInput {
  return {
    requestId: requestId(req.requestId),
    ...tenancy(req.tenancy),
    deviceId: requiredUuid('device_id', req.deviceId),
    code: requiredString('code', req.code, { max: 6, pattern: /^\d{6}$/, patternRule: 'must be 6 digits' }),
  };
}

export const RECORDS_PAGE = pageCursor('iot.access-records', keyPart.timestamp, keyPart.uuid);

export interface ListRecordsQuery {
  operatorId: string;
  projectId: string;
  deviceId: string;
  size: number;
  after: { createdAt: string; recordId: string } | undefined;
}

export function toListRecords(req: {
  tenancy?: TenancyInput;
  deviceId?: string;
  page?: PageRequestLike;
}): ListRecordsQuery {
  const { size, after } = parsePage(req.page, RECORDS_PAGE);
  const deviceId = optionalString('device_id', req.deviceId, { max: 36 });
  return {
    ...tenancy(req.tenancy),
    deviceId: deviceId && requiredUuid('device_id', deviceId),
    size,
    after: after && { createdAt: after[0], recordId: after[1] },
  };
}
