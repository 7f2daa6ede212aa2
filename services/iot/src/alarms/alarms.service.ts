import { randomUUID } from 'crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  fromTimestamp,
  inTenancy,
  keyPart,
  Mutations,
  OUTBOX,
  Outbox,
  pageCursor,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import type { AlarmSignal } from '@citybase/contracts/citybase/iot/v1/events';
import { AlarmSeverity } from '@citybase/contracts/citybase/iot/v1/iot';
import { IotEvents } from '@citybase/contracts/events';
import { DeviceDirectory } from '../devices/device-directory';
import type { AlarmRule } from '../profiles/profiles';
import { decideAcknowledge, decideClear, evaluateRule } from './alarms.domain';
import { alarmTenancy, alarmToProto } from './alarms.render';
import {
  AlarmRow,
  countOccurrence,
  findAlarm,
  insertAlarm,
  listAlarms,
  lockAlarm,
  lockCondition,
  lockOpenAlarm,
  saveCondition,
  setAcknowledged,
  setCleared,
} from './alarms.store';

export const ALARMS_PAGE = pageCursor('iot.alarms', keyPart.timestamp, keyPart.uuid);

const SEVERITY_NAME: Record<number, AlarmRow['severity']> = {
  [AlarmSeverity.ALARM_SEVERITY_INFO]: 'INFO',
  [AlarmSeverity.ALARM_SEVERITY_WARNING]: 'WARNING',
  [AlarmSeverity.ALARM_SEVERITY_CRITICAL]: 'CRITICAL',
};

export const AlarmsErrors = {
  notFound: (alarmId: string) => DomainError.notFound('alarm', alarmId, 'ALARM_NOT_FOUND'),
};

/**
 * Alarms (docs/iot.md "Alarms"): the AlarmSignals of citybase.iot.alarms.v1 through the device's
 * profile rules (or the device's own alarm), one open alarm per device and type (repeats count as
 * occurrences), ACTIVE_UNACKED > ACKED > CLEARED; AlarmRaised / AlarmAcknowledged / AlarmCleared
 * through the outbox onto the same topic.
 */
@Injectable()
export class AlarmsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    private readonly mutations: Mutations,
    private readonly directory: DeviceDirectory,
  ) {}

  /** One signal, inside the consumer's inbox transaction. */
  async applySignal(client: PoolClient, s: AlarmSignal): Promise<void> {
    const found = this.directory.get(s.deviceId);
    const device = found instanceof Promise ? await found : found;
    if (!device || !device.active) return;
    const at = s.occurredAt ? fromTimestamp(s.occurredAt) : new Date();
    const base = { deviceId: s.deviceId, operatorId: device.operatorId, projectId: device.projectId, at };
    if (s.alarmType) {
      const value = s.readings[0]?.value ?? 0;
      if (s.alarmActive)
        await this.raise(client, {
          ...base,
          type: s.alarmType,
          severity: SEVERITY_NAME[s.severity] ?? 'WARNING',
          value,
        });
      else await this.clear(client, s.deviceId, s.alarmType, 'device');
    }
    for (const rule of device.profile?.rules ?? []) {
      for (const r of s.readings.filter((x) => x.metric === rule.metric)) {
        await this.evaluate(client, rule, { ...base, value: r.value });
      }
    }
  }

  private async evaluate(
    client: PoolClient,
    rule: AlarmRule,
    r: { deviceId: string; operatorId: string; projectId: string; at: Date; value: number },
  ): Promise<void> {
    const condition = await lockCondition(client, r.deviceId, rule.type);
    const { condition: next, decision } = evaluateRule(rule, condition, { value: r.value, at: r.at });
    await saveCondition(client, r.deviceId, rule.type, next);
    if (decision === 'raise') await this.raise(client, { ...r, type: rule.type, severity: rule.severity });
    if (decision === 'clear') await this.clear(client, r.deviceId, rule.type, 'rule');
  }

  private async raise(
    client: PoolClient,
    a: {
      deviceId: string;
      operatorId: string;
      projectId: string;
      at: Date;
      type: string;
      severity: AlarmRow['severity'];
      value: number;
    },
  ): Promise<void> {
    const open = await lockOpenAlarm(client, a.deviceId, a.type);
    if (open) return countOccurrence(client, open.alarm_id, a.value);
    const row = await insertAlarm(client, {
      alarm_id: randomUUID(),
      device_id: a.deviceId,
      operator_id: a.operatorId,
      project_id: a.projectId,
      type: a.type,
      severity: a.severity,
      value: a.value,
      raised_at: a.at,
    });
    await this.outbox.enqueue(
      client,
      IotEvents.AlarmRaised,
      { alarm: alarmToProto(row), occurredAt: toTimestamp(a.at) },
      { key: row.device_id, tenancy: alarmTenancy(row) },
    );
  }

  private async clear(client: PoolClient, deviceId: string, type: string, by: string): Promise<void> {
    const open = await lockOpenAlarm(client, deviceId, type);
    if (!open) return;
    const row = await setCleared(client, open.alarm_id, by);
    await this.outbox.enqueue(
      client,
      IotEvents.AlarmCleared,
      { alarm: alarmToProto(row), clearedBy: by, occurredAt: toTimestamp(row.cleared_at ?? new Date()) },
      { key: row.device_id, tenancy: alarmTenancy(row) },
    );
  }

  acknowledge(claims: CitybaseClaims, cmd: { requestId: string; alarmId: string }): Promise<AlarmRow> {
    return this.mutations.run({
      method: 'IotService.AcknowledgeAlarm',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.alarmId,
      target: this.target(cmd.alarmId),
      execute: async ({ client, target, emit }) => {
        const d = decideAcknowledge(target.status, target.acknowledged);
        if (!d.changed) return target;
        const row = await setAcknowledged(client, target.alarm_id, d.status, claims.sub);
        await emit(
          IotEvents.AlarmAcknowledged,
          {
            alarm: alarmToProto(row),
            acknowledgedBy: claims.sub,
            occurredAt: toTimestamp(row.acknowledged_at ?? new Date()),
          },
          { key: row.device_id, tenancy: alarmTenancy(row) },
        );
        return row;
      },
      replay: ({ client }) => this.current(client, cmd.alarmId),
    });
  }

  clearByHand(claims: CitybaseClaims, cmd: { requestId: string; alarmId: string }): Promise<AlarmRow> {
    return this.mutations.run({
      method: 'IotService.ClearAlarm',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.alarmId,
      target: this.target(cmd.alarmId),
      execute: async ({ client, target, emit }) => {
        if (!decideClear(target.status).changed) return target;
        const row = await setCleared(client, target.alarm_id, claims.sub);
        await emit(
          IotEvents.AlarmCleared,
          {
            alarm: alarmToProto(row),
            clearedBy: claims.sub,
            occurredAt: toTimestamp(row.cleared_at ?? new Date()),
          },
          { key: row.device_id, tenancy: alarmTenancy(row) },
        );
        return row;
      },
      replay: ({ client }) => this.current(client, cmd.alarmId),
    });
  }

  async list(
    claims: CitybaseClaims,
    q: {
      operatorId: string;
      projectId: string;
      deviceId: string;
      openOnly: boolean;
      size: number;
      after?: { at: string; id: string };
    },
  ): Promise<{ items: AlarmRow[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId, ...(q.projectId && { projectId: q.projectId }) });
    const rows = (await listAlarms(this.pool, q)).filter((r) => inTenancy(claims, alarmTenancy(r)));
    const { rows: items, nextPageToken } = pageOf(rows, q.size, ALARMS_PAGE, (r) => [
      r.cursor_at ?? '',
      r.alarm_id,
    ]);
    return { items, nextPageToken };
  }

  private target(alarmId: string) {
    return {
      load: (client: PoolClient) => lockAlarm(client, alarmId),
      tenancy: (row: AlarmRow) => alarmTenancy(row),
      notFound: () => AlarmsErrors.notFound(alarmId),
    };
  }

  private async current(client: PoolClient, alarmId: string): Promise<AlarmRow> {
    const row = await findAlarm(client, alarmId);
    if (!row) throw new Error(`alarm ${alarmId} of a committed request is missing`);
    return row;
  }
}
