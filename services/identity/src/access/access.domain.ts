import { DomainError, fromTimestamp, requestId, requiredUuid } from '@citybase/platform';
import {
  CheckDoorAccessRequest,
  IssueDoorGrantRequest,
  RevokeDoorGrantRequest,
} from '@citybase/contracts/citybase/identity/v1/access';

/** One door: a building's entrance or a unit's door. */
export type Door = { buildingId: string; unitId?: undefined } | { unitId: string; buildingId?: undefined };

/** Exactly one of building_id / unit_id, as a UUID. */
export function requiredDoor(buildingId: string | undefined, unitId: string | undefined): Door {
  const hasBuilding = (buildingId ?? '').trim() !== '';
  const hasUnit = (unitId ?? '').trim() !== '';
  if (hasBuilding && hasUnit) {
    throw DomainError.invalid(
      'unit_id',
      'must be empty when building_id is set (exactly one of building_id, unit_id)',
    );
  }
  if (hasBuilding) return { buildingId: requiredUuid('building_id', buildingId) };
  if (hasUnit) return { unitId: requiredUuid('unit_id', unitId) };
  throw DomainError.invalid('building_id', 'exactly one of building_id, unit_id is required');
}

// Timestamp bounds of google.protobuf.Timestamp: 0001-01-01 .. 9999-12-31.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

export interface IssueDoorGrantCommand {
  requestId: string;
  residentId: string;
  door: Door;
  issuedByStaffId: string;
  /** Unset: the grant never expires. */
  validUntil: Date | null;
}

export function toIssueDoorGrantCommand(
  req: IssueDoorGrantRequest,
  now: Date = new Date(),
): IssueDoorGrantCommand {
  return {
    requestId: requestId(req.requestId),
    residentId: requiredUuid('resident_id', req.residentId),
    door: requiredDoor(req.buildingId, req.unitId),
    issuedByStaffId: requiredUuid('issued_by_staff_id', req.issuedByStaffId),
    validUntil: optionalFutureTime('valid_until', req.validUntil, now),
  };
}

function optionalFutureTime(
  field: string,
  ts: { seconds: bigint; nanos: number } | undefined,
  now: Date,
): Date | null {
  if (ts === undefined) return null;
  if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS || ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw DomainError.invalid(field, 'must be a valid timestamp');
  }
  const at = fromTimestamp(ts);
  if (at.getTime() <= now.getTime()) throw DomainError.invalid(field, 'must be in the future');
  return at;
}

export interface RevokeDoorGrantCommand {
  requestId: string;
  grantId: string;
  revokedByStaffId: string;
}

export function toRevokeDoorGrantCommand(req: RevokeDoorGrantRequest): RevokeDoorGrantCommand {
  return {
    requestId: requestId(req.requestId),
    grantId: requiredUuid('grant_id', req.grantId),
    revokedByStaffId: requiredUuid('revoked_by_staff_id', req.revokedByStaffId),
  };
}

export interface CheckDoorAccessQuery {
  residentId: string;
  door: Door;
}

export function toCheckDoorAccessQuery(req: CheckDoorAccessRequest): CheckDoorAccessQuery {
  return {
    residentId: requiredUuid('resident_id', req.residentId),
    door: requiredDoor(req.buildingId, req.unitId),
  };
}
