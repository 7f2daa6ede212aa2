import { DomainError } from '@citybase/platform';

/** Error codes of device commands. */
export const CommandsErrors = {
  /** Also what another tenant's command answers. */
  notFound: (commandId: string) => DomainError.notFound('command', commandId, 'COMMAND_NOT_FOUND'),
  /** Also what another tenant's device answers. */
  deviceNotFound: (deviceId: string) => DomainError.notFound('device', deviceId, 'DEVICE_NOT_FOUND'),
  deviceRevoked: (deviceId: string) =>
    DomainError.precondition('DEVICE_REVOKED', `device ${deviceId} is revoked: it takes no commands`),
  refused: (code: string, message: string) => DomainError.precondition(code, message),
};
