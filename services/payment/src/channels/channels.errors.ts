import { DomainError } from '@citybase/platform';
import type { ChannelKind } from '@citybase/contracts/citybase/payment/v1/payment';
import { kindName } from './channel-adapters';

// Error codes of the channels feature. Messages name the request field and never a credential.

export function cityAdminRequired(action: string): DomainError {
  return new DomainError(
    'permission_denied',
    'CITY_ADMIN_REQUIRED',
    `only an unrestricted city administrator may ${action}`,
    { rule: 'requires scope city:admin and no tenancy restriction' },
  );
}

export function noAdapter(kind: ChannelKind): DomainError {
  const rule = `no adapter for ${kindName(kind)} in this build`;
  return new DomainError('failed_precondition', 'NO_ADAPTER', rule, { field: 'kind', rule });
}

export function channelExists(): DomainError {
  return new DomainError(
    'already_exists',
    'CHANNEL_EXISTS',
    'channel_id: a channel with this id is registered',
    {
      field: 'channel_id',
      rule: 'must not be registered yet',
    },
  );
}

export function channelNotFound(field = 'channel_id'): DomainError {
  return new DomainError('not_found', 'CHANNEL_NOT_FOUND', `${field}: no such channel in the catalog`, {
    field,
    rule: "must be a channel of the city's catalog",
  });
}

export function channelDisabled(field = 'channel_id'): DomainError {
  return new DomainError(
    'failed_precondition',
    'CHANNEL_DISABLED',
    `${field}: the channel is disabled in the city's catalog`,
    { field, rule: 'must be an enabled channel' },
  );
}

export function channelNotConfigured(field: string): DomainError {
  return new DomainError(
    'failed_precondition',
    'CHANNEL_NOT_CONFIGURED',
    `${field}: the channel is not configured for this project`,
    { field, rule: 'must be a channel configured for the project (ConfigureProjectChannel)' },
  );
}

export function credentialsRequired(): DomainError {
  return DomainError.invalid(
    'credentials',
    'is required the first time a channel is configured for a project',
    'CREDENTIALS_REQUIRED',
  );
}

/** The project's channel configuration was made under another operator. */
export function notTheProjectsOperator(): DomainError {
  return DomainError.invalid(
    'tenancy.operator_id',
    "must be the project's operator (its channels are configured under another operator)",
    'PROJECT_OPERATOR_MISMATCH',
  );
}
