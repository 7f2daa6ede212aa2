import { DomainError } from '@citybase/platform';

/** Error codes of doors and couriers. */
export const AccessErrors = {
  /** Also what another tenant's door answers. */
  doorNotFound: (deviceId: string) => DomainError.notFound('door', deviceId, 'DOOR_NOT_FOUND'),
  notADoor: (deviceId: string) =>
    DomainError.invalid(
      'device_id',
      `device ${deviceId} must be a door_controller of this project`,
      'DOOR_DEVICE_INVALID',
    ),
  /** A resident without an active grant (own or household's) for this door. */
  denied: (residentId: string, deviceId: string) =>
    new DomainError(
      'permission_denied',
      'DOOR_ACCESS_DENIED',
      `resident ${residentId} holds no grant for door ${deviceId}`,
    ),
  courierUnknown: (courierId: string) =>
    DomainError.precondition(
      'COURIER_NOT_REGISTERED',
      `courier ${courierId} is not registered in this project`,
    ),
  unitUnknown: (unitId: string) => DomainError.notFound('unit', unitId, 'UNIT_NOT_FOUND'),
  notResidentOfUnit: (residentId: string, unitId: string) =>
    new DomainError(
      'permission_denied',
      'NOT_RESIDENT_OF_UNIT',
      `resident ${residentId} does not live in unit ${unitId}`,
    ),
  /** A wrong, expired, used or revoked code: which is not told at the gate beyond its code. */
  codeRefused: (code: string, message: string) => new DomainError('permission_denied', code, message),
  notAnEntrance: (deviceId: string) =>
    DomainError.precondition(
      'DOOR_NOT_AN_ENTRANCE',
      `door ${deviceId} is a unit door: courier codes open building entrances`,
    ),
};
