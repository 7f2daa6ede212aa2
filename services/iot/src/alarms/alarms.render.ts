import { toTimestamp } from '@citybase/platform';
import { Alarm, AlarmSeverity, AlarmStatus } from '@citybase/contracts/citybase/iot/v1/iot';
import type { AlarmRow } from './alarms.store';

const STATUS: Record<AlarmRow['status'], AlarmStatus> = {
  active_unacked: AlarmStatus.ALARM_STATUS_ACTIVE_UNACKED,
  acked: AlarmStatus.ALARM_STATUS_ACKED,
  cleared: AlarmStatus.ALARM_STATUS_CLEARED,
};
export const SEVERITY_PROTO: Record<AlarmRow['severity'], AlarmSeverity> = {
  INFO: AlarmSeverity.ALARM_SEVERITY_INFO,
  WARNING: AlarmSeverity.ALARM_SEVERITY_WARNING,
  CRITICAL: AlarmSeverity.ALARM_SEVERITY_CRITICAL,
};

export const alarmTenancy = (r: Pick<AlarmRow, 'operator_id' | 'project_id'>) => ({
  operatorId: r.operator_id,
  projectId: r.project_id,
});

export function alarmToProto(r: AlarmRow): Alarm {
  return {
    alarmId: r.alarm_id,
    tenancy: { ...alarmTenancy(r), merchantId: '' },
    deviceId: r.device_id,
    type: r.type,
    severity: SEVERITY_PROTO[r.severity],
    status: STATUS[r.status],
    acknowledged: r.acknowledged,
    value: r.value,
    raisedAt: toTimestamp(r.raised_at),
    acknowledgedAt: r.acknowledged_at ? toTimestamp(r.acknowledged_at) : undefined,
    clearedAt: r.cleared_at ? toTimestamp(r.cleared_at) : undefined,
    occurrences: BigInt(r.occurrences),
  };
}
