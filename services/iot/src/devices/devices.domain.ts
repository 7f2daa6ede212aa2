import {
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredEnum,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { defaultProfile, DEVICE_KINDS, DeviceKindName, profileNamed } from '../profiles/profiles';
import { DevicesErrors } from './devices.errors';

/**
 * Pure rules of the registry (no I/O): requests validated into commands and queries
 * (INVALID_ARGUMENT naming the proto field), and the statuses a device moves through:
 * active > revoked, for good.
 */

export const DEVICE_STATUSES = ['active', 'revoked'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
}

/** Proto kind > stored kind name. */
export function kindName(kind: DeviceKind): DeviceKindName {
  const name = DeviceKind[kind]?.replace(/^DEVICE_KIND_/, '').toLowerCase();
  if (!name || !(DEVICE_KINDS as readonly string[]).includes(name))
    throw new Error(`unknown device kind ${kind}`);
  return name as DeviceKindName;
}

export function kindProto(name: string): DeviceKind {
  return (
    DeviceKind[`DEVICE_KIND_${name.toUpperCase()}` as keyof typeof DeviceKind] ??
    DeviceKind.DEVICE_KIND_UNSPECIFIED
  );
}

export interface RegisterDeviceCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  kind: DeviceKindName;
  profile: string;
  name: string;
  serialNumber: string;
}

export function toRegisterDeviceCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  kind?: DeviceKind;
  name?: string;
  serialNumber?: string;
  profile?: string;
}): RegisterDeviceCommand {
  const kind = kindName(requiredEnum('kind', req.kind, DeviceKind) as DeviceKind);
  const profileName = optionalString('profile', req.profile, { max: 64 });
  const profile = profileName ? profileNamed(profileName) : defaultProfile(kind);
  if (!profile) throw DevicesErrors.invalid('profile', `unknown profile ${JSON.stringify(profileName)}`);
  if (!profile.kinds.includes(kind))
    throw DevicesErrors.invalid('profile', `profile ${profile.name} is not for a ${kind}`);
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    // devices belong to a project: the project id is a level of every topic of the device
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    kind,
    profile: profile.name,
    name: requiredString('name', req.name, { max: 200 }),
    serialNumber: requiredString('serial_number', req.serialNumber, {
      max: 64,
      pattern: /^[A-Za-z0-9._:-]+$/,
      patternRule: 'must be 1-64 letters, digits, dots, dashes, colons or underscores',
    }),
  };
}

export interface DeviceMutationCommand {
  requestId: string;
  deviceId: string;
  reason: string;
}

export function toDeviceMutationCommand(req: {
  requestId?: string;
  deviceId?: string;
  reason?: string;
}): DeviceMutationCommand {
  return {
    requestId: requestId(req.requestId),
    deviceId: requiredUuid('device_id', req.deviceId),
    reason: optionalString('reason', req.reason, { max: 500 }),
  };
}

/** Page tokens of the list: newest first, by (created_at, device_id). */
export const DEVICES_PAGE = pageCursor('iot.devices', keyPart.timestamp, keyPart.uuid);

export interface ListDevicesQuery {
  operatorId: string;
  projectId: string;
  kind: DeviceKindName | '';
  size: number;
  after: { createdAt: string; deviceId: string } | undefined;
}

export function toListDevicesQuery(req: {
  tenancy?: TenancyInput;
  kind?: DeviceKind;
  page?: PageRequestLike;
}): ListDevicesQuery {
  const { size, after } = parsePage(req.page, DEVICES_PAGE);
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalString('tenancy.project_id', req.tenancy?.projectId, { max: 64 }),
    kind: req.kind ? kindName(requiredEnum('kind', req.kind, DeviceKind) as DeviceKind) : '',
    size,
    after: after && { createdAt: after[0], deviceId: after[1] },
  };
}

/** Only an active device has credentials to rotate or can be revoked (revoking twice replays). */
export function assertActive(current: { deviceId: string; status: DeviceStatus }, action: string): void {
  if (current.status !== 'active') throw DevicesErrors.notActive(current.deviceId, current.status, action);
}
