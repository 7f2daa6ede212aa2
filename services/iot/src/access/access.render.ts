import { toTimestamp } from '@citybase/platform';
import { AccessKind, AccessRecord, Door } from '@citybase/contracts/citybase/iot/v1/access';
import type { DoorRow, RecordRow } from './access.store';

export function doorToProto(d: DoorRow): Door {
  return {
    deviceId: d.device_id,
    tenancy: { operatorId: d.operator_id, projectId: d.project_id, merchantId: '' },
    buildingId: d.building_id ?? '',
    unitId: d.unit_id ?? '',
  };
}

export function recordToProto(r: RecordRow): AccessRecord {
  return {
    recordId: r.record_id,
    tenancy: { operatorId: r.operator_id, projectId: r.project_id, merchantId: r.merchant_id },
    kind: r.kind === 'RESIDENT' ? AccessKind.ACCESS_KIND_RESIDENT : AccessKind.ACCESS_KIND_COURIER,
    doorDeviceId: r.door_device_id,
    residentId: r.resident_id,
    grantId: r.grant_id,
    courierId: r.courier_id,
    unitId: r.unit_id,
    merchantId: r.merchant_id,
    enteredAt: toTimestamp(r.entered_at),
    exitedAt: r.exited_at ? toTimestamp(r.exited_at) : undefined,
    commandId: r.command_id,
  };
}
