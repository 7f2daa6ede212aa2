import { toTimestamp } from '@citybase/platform';
import type { DeviceCommand } from '@citybase/contracts/citybase/iot/v1/commands';
import { kindToProto, stateToProto } from './commands.domain';
import type { CommandRow } from './commands.store';

export function commandToProto(r: CommandRow): DeviceCommand {
  return {
    commandId: r.command_id,
    tenancy: { operatorId: r.operator_id, projectId: r.project_id, merchantId: '' },
    deviceId: r.device_id,
    kind: kindToProto(r.kind),
    state: stateToProto(r.state),
    args: r.args,
    reference: r.reference,
    detail: r.detail,
    createdAt: toTimestamp(r.created_at),
    deadline: toTimestamp(r.deadline),
    sentAt: r.sent_at ? toTimestamp(r.sent_at) : undefined,
    deliveredAt: r.delivered_at ? toTimestamp(r.delivered_at) : undefined,
    completedAt: r.completed_at ? toTimestamp(r.completed_at) : undefined,
    publishCount: r.publish_count,
  };
}
