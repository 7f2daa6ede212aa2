import { toTimestamp } from '@citybase/platform';
import { Device, DeviceStatus } from '@citybase/contracts/citybase/iot/v1/iot';
import { kindProto } from './devices.domain';
import type { DeviceRow } from './devices.store';

/** Proto answers of the registry. */

export function deviceTenancy(r: Pick<DeviceRow, 'operator_id' | 'project_id'>) {
  return { operatorId: r.operator_id, projectId: r.project_id };
}

export function deviceToProto(r: DeviceRow): Device {
  return {
    deviceId: r.device_id,
    tenancy: { ...deviceTenancy(r), merchantId: '' },
    kind: kindProto(r.kind),
    name: r.name,
    serialNumber: r.serial_number,
    status: r.status === 'active' ? DeviceStatus.DEVICE_STATUS_ACTIVE : DeviceStatus.DEVICE_STATUS_REVOKED,
    online: r.online,
    lastSeenAt: r.last_seen_at ? toTimestamp(r.last_seen_at) : undefined,
    createdAt: toTimestamp(r.created_at),
    profile: r.profile,
    credentialsVersion: r.credentials_version,
  };
}
