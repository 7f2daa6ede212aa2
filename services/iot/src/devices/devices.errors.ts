import { DomainError } from '@citybase/platform';

/** Error codes of the registry. */
export const DevicesErrors = {
  /** Also what another tenant's device answers: whose it is, is not told. */
  notFound: (deviceId: string) => DomainError.notFound('device', deviceId, 'DEVICE_NOT_FOUND'),

  invalid: (field: string, rule: string) => DomainError.invalid(field, rule),

  notActive: (deviceId: string, status: string, action: string) =>
    DomainError.precondition(
      'DEVICE_NOT_ACTIVE',
      `device ${deviceId} is ${status}: only an active one can be ${action}`,
    ),

  serialTaken: (serial: string) =>
    DomainError.precondition(
      'SERIAL_NUMBER_TAKEN',
      `serial_number ${serial} is already registered in this project`,
    ),
};
