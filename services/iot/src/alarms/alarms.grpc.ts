import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import {
  claimsOf,
  optionalString,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import {
  AcknowledgeAlarmRequest,
  AcknowledgeAlarmResponse,
  ClearAlarmRequest,
  ClearAlarmResponse,
  ListAlarmsRequest,
  ListAlarmsResponse,
} from '@citybase/contracts/citybase/iot/v1/iot';
import { alarmToProto } from './alarms.render';
import { ALARMS_PAGE, AlarmsService } from './alarms.service';

/** Transport adapter of alarms. */
@Controller()
export class AlarmsGrpc {
  constructor(private readonly alarms: AlarmsService) {}

  @GrpcMethod('IotService', 'listAlarms')
  async listAlarms(req: ListAlarmsRequest, metadata: Metadata): Promise<ListAlarmsResponse> {
    const { size, after } = parsePage(req.page, ALARMS_PAGE);
    const q = {
      operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
      projectId: optionalString('tenancy.project_id', req.tenancy?.projectId, { max: 64 }),
      deviceId: req.deviceId ? requiredUuid('device_id', req.deviceId) : '',
      openOnly: req.openOnly,
      size,
      after: after && { at: after[0], id: after[1] },
    };
    const { items, nextPageToken } = await this.alarms.list(claimsOf(metadata), q);
    return { alarms: items.map(alarmToProto), page: { nextPageToken } };
  }

  @GrpcMethod('IotService', 'acknowledgeAlarm')
  async acknowledgeAlarm(
    req: AcknowledgeAlarmRequest,
    metadata: Metadata,
  ): Promise<AcknowledgeAlarmResponse> {
    const cmd = { requestId: requestId(req.requestId), alarmId: requiredUuid('alarm_id', req.alarmId) };
    return { alarm: alarmToProto(await this.alarms.acknowledge(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('IotService', 'clearAlarm')
  async clearAlarm(req: ClearAlarmRequest, metadata: Metadata): Promise<ClearAlarmResponse> {
    const cmd = { requestId: requestId(req.requestId), alarmId: requiredUuid('alarm_id', req.alarmId) };
    return { alarm: alarmToProto(await this.alarms.clearByHand(claimsOf(metadata), cmd)) };
  }
}
