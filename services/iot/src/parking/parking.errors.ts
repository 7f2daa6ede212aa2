import { DomainError } from '@citybase/platform';

/** Error codes of parking. */
export const ParkingErrors = {
  /** Also what another tenant's lot answers. */
  lotNotFound: (lotId: string) => DomainError.notFound('parking lot', lotId, 'PARKING_LOT_NOT_FOUND'),
  sessionNotFound: (id: string) => DomainError.notFound('parking session', id, 'PARKING_SESSION_NOT_FOUND'),
  /** A camera that belongs to no lot of the caller. */
  cameraUnknown: (cameraId: string) =>
    DomainError.notFound('parking camera', cameraId, 'PARKING_CAMERA_NOT_FOUND'),
  device: (field: string, rule: string) => DomainError.invalid(field, rule, 'PARKING_DEVICE_INVALID'),
  cameraInUse: (cameraId: string) =>
    DomainError.precondition('PARKING_CAMERA_IN_USE', `camera ${cameraId} already serves a lot`),
  lotFull: (lotId: string) => DomainError.precondition('PARKING_LOT_FULL', `lot ${lotId} is full`),
  noVehicleInside: (plate: string) =>
    DomainError.precondition('PARKING_NO_SESSION', `no vehicle with plate ${plate} is inside this lot`),
};
